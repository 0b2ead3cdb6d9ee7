/**
 * A NAT lab for tests, as root: homes behind NAT routers (Linux network
 * namespaces, veths, bridges and iptables MASQUERADE) around a public
 * network where the signaling server and coturn run, so real browsers and
 * the real server meet as over the Internet. Layout and addresses:
 * lab/topology.ts; names and the sweep of earlier runs' leftovers:
 * lab/names.ts.
 *
 * ```ts
 * const lab = await Lab.create({ homes: [{ name: 'a', nat: 'port-preserving' }, { name: 'b', nat: 'symmetric' }] });
 * browser.defer(() => lab.close());          // or afterAll; a process exit handler backs it up
 * const server = lab.spawn(lab.publicNamespace, 'node', ['server.js', '--host', lab.publicAddress]);
 * const chromium = await launchChromium({ executablePath: lab.executable(lab.home('a').namespace), args: labChromiumFlags([origin]) });
 * ```
 *
 * Where a lab cannot be built (not root, no `ip` or `iptables`), `create`
 * throws saying what is missing; nothing is skipped.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withTimeout } from './events.js';
import { newPrefix, released, removeNamespace, scriptDir, sweepLeftovers } from './lab/names.js';
import { exited } from './processes.js';
import { requireLabTools } from './lab/run.js';
import { buildHome, buildPublic, checkSpecs, PUBLIC_ADDRESS, type HomeSpec, type LabHome } from './lab/topology.js';

export type { HomeSpec, LabHome, LabHost, NatKind } from './lab/topology.js';

/** How long a process the lab started gets to exit on SIGTERM before SIGKILL. */
const STOP_MS = 5_000;

export interface LabOptions {
  readonly homes: readonly HomeSpec[];
}

/** Labs not yet closed, cleaned up by the exit handler if the process ends first. */
const open = new Set<Lab>();
let exitHandler = false;

export class Lab {
  private readonly children = new Set<ChildProcess>();
  private closing: Promise<void> | undefined;

  private constructor(
    /** `tmlab-<pid>-<n>`: every namespace of this lab starts with it. */
    readonly prefix: string,
    /** The public network's namespace (bridge br0, 203.0.113.1). */
    readonly publicNamespace: string,
    private readonly homes: ReadonlyMap<string, LabHome>,
    /** Every namespace, in the order made. */
    private readonly made: readonly string[],
  ) {}

  /** Build the lab (about a second for five homes); throws saying what is missing if this machine cannot. */
  static async create(options: LabOptions): Promise<Lab> {
    requireLabTools();
    checkSpecs(options.homes);
    sweepLeftovers();
    installExitHandler();
    const prefix = newPrefix();
    const publicNs = `${prefix}-pub`;
    const made: string[] = [];
    const homes = new Map<string, LabHome>();
    try {
      await buildPublic(publicNs, made);
      for (const [index, spec] of options.homes.entries()) {
        homes.set(spec.name, await buildHome(prefix, publicNs, spec, index, made));
      }
    } catch (error) {
      for (const namespace of made.reverse()) removeNamespace(namespace);
      released(prefix);
      throw error;
    }
    mkdirSync(scriptDir(prefix), { recursive: true });
    const lab = new Lab(prefix, publicNs, homes, made);
    open.add(lab);
    return lab;
  }

  /** The public network's own address (203.0.113.1), where servers listen. */
  get publicAddress(): string {
    return PUBLIC_ADDRESS;
  }

  /** The home named `name`; throws naming the homes there are. */
  home(name: string): LabHome {
    const home = this.homes.get(name);
    if (home === undefined)
      throw new Error(`lab: no home '${name}' (there are: ${[...this.homes.keys()].join(', ') || 'none'})`);
    return home;
  }

  /**
   * Run `command` inside `namespace` (one of this lab's), through
   * `ip netns exec` (which execs it: the child's pid is the command's). The
   * lab kills it on close if it is still running.
   */
  spawn(namespace: string, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    this.check(namespace);
    const child = spawn('ip', ['netns', 'exec', namespace, command, ...args], options);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /**
   * The path of a script that runs `binary` inside `namespace` with the
   * arguments it is given: an executable to hand a launcher (playwright-core's
   * `executablePath`, which talks to Chromium over a pipe, so the browser
   * needs no port of the machine's own).
   */
  executable(namespace: string, binary = '/usr/bin/chromium'): string {
    this.check(namespace);
    const path = join(scriptDir(this.prefix), `${namespace}-${binary.replace(/\W+/g, '_')}.sh`);
    writeFileSync(path, `#!/bin/sh\nexec ip netns exec ${namespace} ${binary} "$@"\n`);
    chmodSync(path, 0o755);
    return path;
  }

  /**
   * Stop every process the lab started (SIGTERM, SIGKILL after 5 s), kill
   * whatever else still runs in its namespaces (a browser's helpers), delete
   * the namespaces (and so every interface) and the scripts. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    await Promise.all(
      [...this.children].map(async (child) => {
        child.kill('SIGTERM');
        try {
          await withTimeout(exited(child), STOP_MS, 'a lab process to exit on SIGTERM');
        } catch {
          child.kill('SIGKILL');
        }
      }),
    );
    this.removeAll();
    open.delete(this);
  }

  /** Synchronous removal, for close and for the exit handler. */
  removeAll(): void {
    for (const namespace of [...this.made].reverse()) removeNamespace(namespace);
    rmSync(scriptDir(this.prefix), { recursive: true, force: true });
    released(this.prefix);
  }

  private check(namespace: string): void {
    if (!this.made.includes(namespace))
      throw new Error(`lab ${this.prefix}: '${namespace}' is not one of its namespaces (${this.made.join(', ')})`);
  }
}

/** Once per process: on exit, remove what open labs hold (a crash skips this; the next lab's sweep catches it). */
function installExitHandler(): void {
  if (exitHandler) return;
  exitHandler = true;
  process.once('exit', () => {
    for (const lab of open) lab.removeAll();
  });
}
