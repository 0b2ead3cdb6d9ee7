/**
 * A network namespace for one browser, so what it gathers as ICE candidates
 * never depends on this machine's interfaces: a veth pair, the namespace's
 * end with an address and a default route through the host's end. Firefox
 * gathers no candidate on loopback, and none at all without an interface
 * that has an address and a default route; in here it always has both. The
 * host reaches the namespace at `address`, the namespace the host at
 * `hostAddress`. Root only (`ip netns`, iproute2).
 *
 * Closing kills whatever still runs inside and deletes the namespace (its
 * veth pair goes with it), synchronously, so it also runs from the process's
 * exit handler. Namespaces left by a run that died (named after its pid) are
 * removed by the next one.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { processAlive as alive, requireBinary } from './processes.js';

/** Every namespace of these tests is named `${PREFIX}${pid}-${n}`. */
const PREFIX = 'tabmesh-ff-';
/** The /30 subnets tried, in 10.213.0.0/16: 16,384 of them. */
const SUBNETS = 16_384;

export interface Netns {
  readonly name: string;
  /** The namespace's own address (its end of the veth pair). */
  readonly address: string;
  /** The host's end of the veth pair: what the namespace reaches this machine at. */
  readonly hostAddress: string;
  /** The program and arguments that run `command` inside the namespace (ip netns exec). */
  exec(command: readonly string[]): [file: string, args: string[]];
  /** Kill everything still inside, delete the namespace. Idempotent, synchronous. */
  close(): void;
}

const open = new Set<Netns>();
let counter = 0;
let exitHooked = false;

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Kill what runs in namespace `name` (SIGKILL: it is all ours) and delete it; quiet if it is gone already. */
function remove(name: string, hostVeth: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout;
  for (const pid of pids.split('\n').filter((line) => /^\d+$/.test(line))) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Exited meanwhile.
      continue;
    }
  }
  spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
  // The pair goes with the namespace; a namespace kept alive a moment longer by a dying process must not keep it.
  spawnSync('ip', ['link', 'delete', hostVeth], { stdio: 'ignore' });
}

/** Interface names are at most 15 characters: `tf<pid>-<n>h` and `…n`. */
function vethNames(pid: number, n: number): { host: string; inside: string } {
  return { host: `tf${pid}-${n}h`, inside: `tf${pid}-${n}n` };
}

/** Namespaces of earlier runs whose process is gone (a crash, a kill -9), and what was in them. */
function removeLeftovers(): void {
  for (const line of ip('netns', 'list').split('\n')) {
    const match = new RegExp(`^${PREFIX}(\\d+)-(\\d+)\\b`).exec(line);
    if (match === null) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || alive(pid)) continue;
    remove(`${PREFIX}${pid}-${match[2]}`, vethNames(pid, Number(match[2])).host);
  }
}

/** A /30 no route of this machine covers yet: a base of 10.213.x.y, tried from a point this process picks. */
function freeSubnet(n: number): string {
  const routes = ip('-4', 'route', 'show', 'table', 'all');
  for (let i = 0; i < SUBNETS; i++) {
    const k = (process.pid * 8 + n + i) % SUBNETS;
    const base = `10.213.${k >> 6}.${(k & 63) * 4}`;
    if (!routes.includes(`${base}/30`)) return base;
  }
  throw new Error('no free /30 in 10.213.0.0/16 for a test namespace');
}

function closeAll(): void {
  for (const netns of open) netns.close();
}

/** A fresh namespace with its veth pair, addresses and default route. */
export function createNetns(): Netns {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'These tests run Firefox in a network namespace of its own, which needs root (ip netns): run them as root.',
    );
  }
  requireBinary('ip', 'iproute2');
  removeLeftovers();
  if (!exitHooked) {
    // A run that ends without its afterAll (process.exit, an uncaught error) still takes its namespaces down.
    process.on('exit', closeAll);
    exitHooked = true;
  }
  const n = ++counter;
  const name = `${PREFIX}${process.pid}-${n}`;
  const veth = vethNames(process.pid, n);
  const base = freeSubnet(n).split('.').map(Number);
  const at = (last: number): string => [base[0], base[1], base[2], (base[3] ?? 0) + last].join('.');
  const hostAddress = at(1);
  const address = at(2);
  let closed = false;
  const netns: Netns = {
    name,
    address,
    hostAddress,
    exec: (command) => ['ip', ['netns', 'exec', name, ...command]],
    close() {
      if (closed) return;
      closed = true;
      open.delete(netns);
      remove(name, veth.host);
    },
  };
  open.add(netns);
  try {
    ip('netns', 'add', name);
    ip('link', 'add', veth.host, 'type', 'veth', 'peer', 'name', veth.inside, 'netns', name);
    ip('address', 'add', `${hostAddress}/30`, 'dev', veth.host);
    ip('link', 'set', veth.host, 'up');
    ip('-n', name, 'address', 'add', `${address}/30`, 'dev', veth.inside);
    ip('-n', name, 'link', 'set', veth.inside, 'up');
    ip('-n', name, 'link', 'set', 'lo', 'up');
    ip('-n', name, 'route', 'add', 'default', 'via', hostAddress);
  } catch (error) {
    netns.close();
    const stderr = (error as { stderr?: unknown }).stderr;
    throw new Error(`could not set up the network namespace ${name}: ${String(stderr ?? error)}`, { cause: error });
  }
  return netns;
}
