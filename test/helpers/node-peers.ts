/**
 * Tabmesh peers in Node for tests: a node made in this process with
 * `createNode` from `tabmesh/node` (real WebRTC through @roamhq/wrtc), or the
 * `tabmesh-peer` command in a child process of its own, read through its
 * JSON log lines. Every wait is on the node's events or the command's output,
 * with a bound.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { PeerId } from '../../shared/identity/peer-id.js';
import type { NodeEvents, TabmeshNode } from '../../web/tabmesh.js';
import { createNode, type NodeJsOptions } from '../../web/nodejs/index.js';
import { withTimeout } from './events.js';
import { exited, Lines } from './processes.js';

/** Bound on a `tabmesh-peer` process's start and stop. */
const PEER_PROCESS_MS = 15_000;

export interface Received {
  readonly from: PeerId;
  readonly data: string;
  readonly broadcast: boolean;
}

/** A node in this process, with the messages it has received. */
export interface NodePeer {
  readonly node: TabmeshNode;
  readonly received: Received[];
  close(): Promise<void>;
}

/** A logger for nodes in tests: nothing printed. */
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** Make a node in this process, collecting its messages from the start. */
export async function startNodePeer(options: NodeJsOptions): Promise<NodePeer> {
  const node = await createNode({ logger: quiet, ...options });
  const received: Received[] = [];
  node.addEventListener('message', (event) => {
    const { from, data, broadcast } = event.detail;
    received.push({ from, data: typeof data === 'string' ? data : `bytes:${data.length}`, broadcast });
  });
  return { node, received, close: () => node.close() };
}

/**
 * Resolves once `check` passes: at once if it does now, else after one of the
 * node's `event`s. Fails after `timeoutMs` naming `what` and the node's state.
 */
export async function waitForNodePeer(
  node: TabmeshNode,
  event: keyof NodeEvents,
  check: () => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  if (check()) return;
  let listener: (() => void) | undefined;
  try {
    await withTimeout(
      new Promise<void>((resolve) => {
        listener = () => {
          if (check()) resolve();
        };
        node.addEventListener(event, listener);
      }),
      timeoutMs,
      `Node peer ${node.id}: ${what} (now ${node.connections().length} connections, signaling ${node.status.signaling})`,
    );
  } finally {
    if (listener !== undefined) node.removeEventListener(event, listener);
  }
}

/** Resolves once `peer` has received `data` `count` times. */
export function waitForReceived(peer: NodePeer, data: string, count = 1, timeoutMs = 30_000): Promise<void> {
  return waitForNodePeer(
    peer.node,
    'message',
    () => peer.received.filter((m) => m.data === data).length >= count,
    `message "${data}" received ${count} times`,
    timeoutMs,
  );
}

/** The parsed JSON line a `tabmesh-peer` process logged. */
export type LogLine = Readonly<Record<string, unknown>>;

/** `tabmesh-peer` (from source, through tsx) in a process of its own. */
export class PeerProcess {
  private constructor(
    private readonly child: ChildProcess,
    private readonly lines: Lines,
    readonly stderr: () => string,
  ) {}

  /** Start the command with `args`; resolves at once (wait for its lines with {@link line}). */
  static start(args: readonly string[]): PeerProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', 'web/nodejs/cli.ts', ...args], {
      cwd: new URL('../..', import.meta.url),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      // Kept short: for a failure's message only.
      stderr = `${stderr}${chunk}`.slice(-4_000);
    });
    return new PeerProcess(child, new Lines(child), () => stderr);
  }

  /**
   * The first JSON line whose `event` is `event` (and whose text, after the
   * event, matches `rest` when given), printed already or within the bound.
   */
  async line(event: string, ms = PEER_PROCESS_MS, rest = ''): Promise<LogLine> {
    const pattern = new RegExp(`"event":"${event}"${rest === '' ? '' : `.*${rest}`}`);
    let text: string;
    try {
      text = await this.lines.wait(pattern, `tabmesh-peer to log '${event}'${rest === '' ? '' : ` with ${rest}`}`, ms);
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}; its stderr: ${this.stderr()}`, {
        cause: error,
      });
    }
    return JSON.parse(text) as LogLine;
  }

  /** Its peer ID, from the line it logs once joined. */
  async joinedId(ms = PEER_PROCESS_MS): Promise<PeerId> {
    const id = (await this.line('joined', ms))['id'];
    if (typeof id !== 'string') throw new Error('the joined line has no id');
    return id as PeerId;
  }

  /** The exit code, once it has exited. */
  async exitCode(ms = PEER_PROCESS_MS): Promise<number | null> {
    await withTimeout(exited(this.child), ms, 'tabmesh-peer to exit');
    return this.child.exitCode;
  }

  /** SIGTERM, then its exit code (bounded). */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exitCode();
  }

  /** For cleanup after a failure: die at once. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
