/**
 * Names of the NAT lab's namespaces, and the sweep of what earlier runs left.
 *
 * Every namespace of a lab is named `tmlab-<pid>-<n>-<role>`: the pid of the
 * process that made it, the lab's number in that process, and its role
 * (`pub`, `r-<home>` for a home's router, `h-<home>` for the home). Its
 * interfaces are made inside its namespaces (a veth pair is created with both
 * ends already in place) and deleted with them, so they never appear in the
 * machine's own namespace and need no prefix. Its wrapper scripts live in
 * `<tmpdir>/tmlab-<pid>-<n>`.
 *
 * A run that crashed (or was killed) leaves its namespaces behind, with any
 * process still inside. Before building, a lab removes every namespace of
 * this scheme whose owning process is dead, and those of its own process
 * that no live lab holds (its pid reused), killing what runs in them.
 */
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive as alive } from '../processes.js';
import { runSync } from './run.js';

const SCHEME = /^tmlab-(\d+)-(\d+)(?:-|$)/;

let labsMade = 0;
/** Prefixes of this process's labs that have not been closed. */
const live = new Set<string>();

/** A new lab's prefix, unique on this machine while its process lives: `tmlab-<pid>-<n>`. */
export function newPrefix(): string {
  const prefix = `tmlab-${process.pid}-${labsMade++}`;
  live.add(prefix);
  return prefix;
}

/** The lab of `prefix` is gone. */
export function released(prefix: string): void {
  live.delete(prefix);
}

/** The folder for the wrapper scripts of the lab of `prefix`. */
export function scriptDir(prefix: string): string {
  return join(tmpdir(), prefix);
}

/** Whether a name of this scheme belongs to no live lab. */
function abandoned(name: string): boolean {
  const match = SCHEME.exec(name);
  if (match === null) return false;
  const pid = Number(match[1]);
  const prefix = `tmlab-${match[1] ?? ''}-${match[2] ?? ''}`;
  return pid === process.pid ? !live.has(prefix) : !alive(pid);
}

/** Kill every process inside `namespace` (by pid: each was started in a lab), then delete it. Never throws. */
export function removeNamespace(namespace: string): void {
  const pids = runSync('ip', ['netns', 'pids', namespace]);
  for (const pid of pids.stdout.split(/\s+/).filter((p) => /^\d+$/.test(p))) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
  runSync('ip', ['netns', 'delete', namespace]);
}

/** The machine's network namespaces, by name. */
export function namespaces(): string[] {
  const listed = runSync('ip', ['netns', 'list']);
  return listed.stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

/** Remove what abandoned labs left: their namespaces (and what runs there) and their script folders. */
export function sweepLeftovers(): string[] {
  const swept = namespaces().filter(abandoned);
  for (const namespace of swept) removeNamespace(namespace);
  for (const entry of readdirSync(tmpdir())) {
    if (abandoned(entry)) rmSync(join(tmpdir(), entry), { recursive: true, force: true });
  }
  return swept;
}
