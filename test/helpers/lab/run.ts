/**
 * The NAT lab's commands: `ip` and `iptables-restore`, each bounded, each
 * failure naming the command and what it printed; and the preflight that
 * says what this machine lacks before anything is built.
 */
import { execFile, spawnSync } from 'node:child_process';
import { requireBinary } from '../processes.js';

/** Bound on one `ip` or `iptables-restore` command (each takes milliseconds). */
const COMMAND_MS = 10_000;

/** Run `command args…` (stdin from `input`), resolving with its stdout; a failure or a timeout throws, saying which. */
export function run(command: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { timeout: COMMAND_MS, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error === null) {
        resolve(stdout);
        return;
      }
      const how = error.killed ? `timed out after ${COMMAND_MS} ms` : `failed (exit ${String(error.code)})`;
      reject(new Error(`lab: \`${[command, ...args].join(' ')}\` ${how}: ${stderr.trim() || error.message}`));
    });
    child.stdin?.end(input);
  });
}

/** As {@link run}, synchronously, for the process's exit handler; failures are returned, not thrown. */
export function runSync(command: string, args: readonly string[]): { ok: boolean; stdout: string } {
  const result = spawnSync(command, args, { timeout: COMMAND_MS, encoding: 'utf8' });
  return { ok: result.status === 0, stdout: result.stdout };
}

/**
 * Throws, naming what is missing, unless this process can build a lab: it
 * must be root (network namespaces, veths and iptables need CAP_NET_ADMIN
 * in the machine's own namespace), with iproute2's `ip` and `iptables`.
 */
export function requireLabTools(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `The NAT lab builds network namespaces and iptables NATs, which needs root; this runs as uid ${String(process.getuid?.())}. ` +
        'Run the browser tests as root (.ci/run does, in a container of its own).',
    );
  }
  requireBinary('ip', 'iproute2');
  requireBinary('iptables-restore', 'iptables');
}
