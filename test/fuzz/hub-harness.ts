/**
 * Two ways to put frames in front of the server's frame handler, behind one
 * interface: the real Hub in this process, each connection a loopback socket
 * (hundreds of thousands of frames a minute), and the real server on port 0
 * behind real `ws` sockets (what a client really reaches, ws's own checks
 * included). What the server sends back must parse with the client's parser.
 */
import { EventEmitter } from 'node:events';
import { isUtf8 } from 'node:buffer';
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { LOCAL_ONLY } from '../../signaling-server/federation.js';
import { DEFAULTS } from '../../signaling-server/defaults.js';
import { createNodeEd25519 } from '../../signaling-server/ed25519-node.js';
import { Hub, type HubConfig } from '../../signaling-server/hub.js';
import { ServerMetrics } from '../../signaling-server/metrics.js';
import { resolveOptions } from '../../signaling-server/options.js';
import type { Session } from '../../signaling-server/session.js';
import { routeSocketEvent, type SessionSocket, type SocketEvents } from '../../signaling-server/session-socket.js';
import { CloseCode } from '../../shared/protocol/close-codes.js';
import { parseServerMessage, type ChallengeMessage, type ServerMessage } from '../../shared/protocol/signaling.js';
import { silentLogger, startServer, type TestServer } from '../helpers/server.js';
import { FuzzFailure } from './check.js';

/** What the server did on one connection, in order. */
export type ServerEvent =
  | { readonly kind: 'message'; readonly message: ServerMessage }
  /** A frame the client's parser refuses: never right, whatever was asked. */
  | { readonly kind: 'unparsable'; readonly reason: string; readonly length: number }
  | { readonly kind: 'close'; readonly code: number };

/** The client's end of one connection. */
export interface ClientEnd {
  /** One frame, as a client may send it: text (any bytes, valid UTF-8 or not) or binary. */
  send(bytes: Uint8Array, binary: boolean): void;
  /** The next thing the server did; a failure if it does nothing in time. */
  next(what: string): Promise<ServerEvent>;
  /** Events not taken yet. */
  readonly queued: number;
  readonly closed: boolean;
  /** Hang up from the client's side. */
  close(): Promise<void>;
}

export interface ServerCounts {
  readonly sessions: number;
  readonly pending: number;
  readonly registered: number;
}

export interface HubUnderTest {
  /** A new connection and the challenge it got. */
  connect(): Promise<{ end: ClientEnd; challenge: ChallengeMessage }>;
  /**
   * The server's connection counts once they reach `expected`, or as they
   * are when the bound runs out. The server announces no event when it lets
   * go of a connection a client saw close, so the socket hub looks again on
   * each turn of the event loop until they match.
   */
  settledCounts(expected: ServerCounts): Promise<ServerCounts>;
  /** The close code ws gives a frame before the hub sees it (over the size cap, text that is not UTF-8), if any. */
  transportClose(bytes: Uint8Array, binary: boolean): number | undefined;
  close(): Promise<void>;
}

/** TURN is on, so `turn` requests are answered with credentials. */
export const FUZZ_TURN = { urls: ['turn:127.0.0.1:3478'], secret: 'fuzz-secret-of-sixteen-or-more', ttlS: 3600 };
/** A server no honest rate reaches: every fuzzed frame is handled, none dropped by the bucket. */
const UNLIMITED = 1e9;
const WAIT_MS = 10_000;
/** RFC 6455's close code for text that is not UTF-8 (ws sends it; the hub never sees such a frame). */
const INVALID_UTF8 = 1007;

/** Events of one connection, taken one at a time with a bound. */
class EventQueue {
  private readonly events: ServerEvent[] = [];
  private waiter: (() => void) | undefined;
  closed = false;

  get length(): number {
    return this.events.length;
  }

  /** A frame from the server, as the client's parser reads it. */
  pushText(text: string): void {
    const parsed = parseServerMessage(text);
    this.push(
      parsed.ok
        ? { kind: 'message', message: parsed.value }
        : { kind: 'unparsable', reason: parsed.error.message, length: text.length },
    );
  }

  push(event: ServerEvent): void {
    if (event.kind === 'close') this.closed = true;
    this.events.push(event);
    this.waiter?.();
  }

  next(what: string): Promise<ServerEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // Only its own: a case given up on may leave a wait behind, which must not take the next case's.
        if (this.waiter === take) this.waiter = undefined;
        reject(new FuzzFailure(`the server did nothing within ${WAIT_MS} ms; waiting for ${what}`));
      }, WAIT_MS);
      const take = (): void => {
        const head = this.events.shift();
        if (head === undefined) return;
        clearTimeout(timer);
        this.waiter = undefined;
        resolve(head);
      };
      this.waiter = take;
      take();
    });
  }
}

/**
 * The socket the Hub writes to, in place of a ws WebSocket: the few members
 * the Hub uses, behaving as ws does (sends after close are dropped; 'close'
 * is emitted once, after the close).
 */
class LoopbackSocket extends EventEmitter {
  readonly bufferedAmount = 0;
  private closing = false;
  /** Set by the Hub when it opens the connection, as on its own sockets (session-socket.ts). */
  session: Session | undefined;

  constructor(
    private readonly queue: EventQueue,
    private readonly events: SocketEvents,
  ) {
    super();
  }

  /** Events reach the Hub as they do from its own sockets: through its socket events, not listeners. */
  override emit(event: string | symbol, a?: unknown, b?: unknown): boolean {
    return routeSocketEvent(this.events, this.session, event, a, b) || super.emit(event, a, b);
  }

  /** As ws sends it: the Hub writes text frames as strings or as UTF-8 Buffers (its outbox), and a client reads a string. */
  send(data: string | Buffer): void {
    if (!this.closing) this.queue.pushText(typeof data === 'string' ? data : data.toString('utf8'));
  }

  close(code: number): void {
    this.hangUp(code);
  }

  terminate(): void {
    this.hangUp(1006);
  }

  ping(): void {}

  /** The server side lets go first, then the client sees the close: counts are settled when a case sees it. */
  hangUp(code: number): void {
    if (this.closing) return;
    this.closing = true;
    queueMicrotask(() => {
      this.emit('close', code, Buffer.alloc(0));
      this.queue.push({ kind: 'close', code });
    });
  }
}

/** Corking batches writes on a real TCP socket; here there is nothing to batch. */
const NO_TCP = { cork() {}, uncork() {} };

export function inProcessHub(): HubUnderTest {
  const config: HubConfig = {
    ...resolveOptions({}),
    serverName: 'fuzz',
    rate: UNLIMITED,
    burst: UNLIMITED,
    turn: FUZZ_TURN,
  };
  const hub: Hub = new Hub(config, {
    ed25519: createNodeEd25519(),
    logger: silentLogger,
    metrics: new ServerMetrics(
      {
        connections: () => ({ pending: hub.pendingCount, registered: hub.registry.size }),
        networkSizes: () => hub.registry.networkSizes(),
        networkCount: () => hub.registry.networkCount,
      },
      DEFAULTS.maxMetricNetworks,
      false,
    ),
    now: Date.now,
    random: Math.random,
    federation: LOCAL_ONLY,
    closed: () => {},
  });
  return {
    connect: async () => {
      const queue = new EventQueue();
      const socket = new LoopbackSocket(queue, hub.socketEvents);
      // The Hub's socket type is its ws class; the loopback socket has the members it uses.
      hub.open(socket as unknown as SessionSocket, NO_TCP as unknown as Duplex, '127.0.0.1', undefined);
      const end: ClientEnd = {
        send: (bytes, binary) => {
          socket.emit('message', Buffer.from(bytes), binary);
        },
        next: (what) => queue.next(what),
        get queued() {
          return queue.length;
        },
        get closed() {
          return queue.closed;
        },
        close: async () => {
          socket.hangUp(1000);
          while (!queue.closed) await queue.next('our own close');
        },
      };
      return { end, challenge: await challengeOf(end) };
    },
    // The loopback socket lets the Hub go before the client sees the close: counts are settled already.
    settledCounts: () =>
      Promise.resolve({ sessions: hub.sessions.size, pending: hub.pendingCount, registered: hub.registry.size }),
    transportClose: () => undefined,
    close: () => Promise.resolve(),
  };
}

export function sameCounts(a: ServerCounts, b: ServerCounts): boolean {
  return a.sessions === b.sessions && a.pending === b.pending && a.registered === b.registered;
}

async function challengeOf(end: ClientEnd): Promise<ChallengeMessage> {
  const first = await end.next('the challenge');
  if (first.kind !== 'message' || first.message.type !== 'challenge')
    throw new FuzzFailure('no challenge on connecting');
  return first.message;
}

export async function socketHub(): Promise<HubUnderTest> {
  const server: TestServer = await startServer({
    serverName: 'fuzz',
    rate: UNLIMITED,
    burst: UNLIMITED,
    maxConnectionsPerIp: UNLIMITED,
    turnUrls: FUZZ_TURN.urls,
    turnSecret: FUZZ_TURN.secret,
  });
  const maxFrameBytes = DEFAULTS.maxFrameBytes;
  return {
    connect: async () => {
      const queue = new EventQueue();
      const socket = new WebSocket(server.wsUrl);
      socket.on('message', (data: Buffer, isBinary) => {
        if (isBinary) queue.push({ kind: 'unparsable', reason: 'a binary frame', length: data.length });
        else queue.pushText(data.toString('utf8'));
      });
      socket.on('close', (code) => queue.push({ kind: 'close', code }));
      socket.on('error', () => {
        // Followed by 'close', which the case sees.
      });
      const end: ClientEnd = {
        send: (bytes, binary) => {
          socket.send(bytes, { binary });
        },
        next: (what) => queue.next(what),
        get queued() {
          return queue.length;
        },
        get closed() {
          return queue.closed;
        },
        close: async () => {
          socket.close();
          while (!queue.closed) await queue.next('our own close');
        },
      };
      return { end, challenge: await challengeOf(end) };
    },
    settledCounts: async (expected) => {
      const counts = (): ServerCounts => {
        const stats = server.server.stats();
        return { sessions: stats.connections, pending: stats.pending, registered: stats.peers };
      };
      const deadline = Date.now() + WAIT_MS;
      let now = counts();
      while (!sameCounts(now, expected) && Date.now() < deadline) {
        await new Promise((resolve) => setImmediate(resolve));
        now = counts();
      }
      return now;
    },
    // ws reads the length before the payload, so an oversize frame is refused whatever it holds.
    transportClose: (bytes, binary) =>
      bytes.length > maxFrameBytes ? CloseCode.MESSAGE_TOO_BIG : !binary && !isUtf8(bytes) ? INVALID_UTF8 : undefined,
    close: () => server.close(),
  };
}
