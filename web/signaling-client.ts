/**
 * The tab's side of the signaling channel: a WebSocket to one of the
 * configured servers, registration by answering the challenge, relayed
 * signals in and out, and reconnection with capped, jittered exponential
 * backoff that tries every configured URL in turn. Everything received is
 * parsed by the shared codec first; bad frames are counted, never trusted.
 */
import { ErrorCode } from '../shared/errors.js';
import { Purpose, type Identity } from '../shared/identity/signing.js';
import type { PeerId } from '../shared/identity/peer-id.js';
import { MAX_HELD_DURING_REGISTRATION } from '../shared/limits.js';
import {
  encodeClientMessage,
  parseServerMessage,
  registrationBytes,
  type ClientMessage,
  type TurnCredentials,
} from '../shared/protocol/signaling.js';
import type { SignedRecord } from '../shared/records.js';

/** First reconnection delay (before jitter); doubles per failed attempt. */
export const SIGNALING_BACKOFF_BASE_MS = 500;
/** Longest reconnection delay (before jitter). */
export const SIGNALING_BACKOFF_MAX_MS = 30_000;

/**
 * The delay before reconnection attempt `attempt` (0 for the first after a
 * connection is lost; reset by a welcome): full jitter (AWS Architecture
 * Blog, "Exponential Backoff And Jitter"), uniform in [0, min(maxMs,
 * baseMs · 2^attempt)). `random` returns [0, 1). Exported so the reconnect
 * storm benchmark drives its clients on the node's own schedule.
 */
export function reconnectDelayMs(
  attempt: number,
  random: () => number,
  baseMs = SIGNALING_BACKOFF_BASE_MS,
  maxMs = SIGNALING_BACKOFF_MAX_MS,
): number {
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20)));
}
/**
 * Frames an early socket keeps before the client adopts it (the challenge is
 * the first; a server sending more before we register is not believed).
 */
export const MAX_EARLY_FRAMES = 8;
/** Signals whose recipient is remembered, to tell which attempt an UNKNOWN_PEER error ends. */
export const MAX_TRACKED_REFS = 1024;

export type SignalingState = 'connecting' | 'connected' | 'disconnected' | 'closed';

/** WebSocket readyState values (the same in every implementation, from the WHATWG spec). */
export const SOCKET_CONNECTING = 0;
export const SOCKET_OPEN = 1;

/**
 * A handler property of a socket, declared as a method so that both the
 * browser's handlers (MessageEvent) and the `ws` package's (its own
 * MessageEvent) fit it: the client reads only `data`.
 */
type SocketHandler<E> = { handle(event: E): void }['handle'];

/**
 * What the client uses of a WebSocket: the browser's, or in Node the `ws`
 * package's (whose `onmessage` also gives text frames as strings). Nothing
 * else (no `binaryType`, no statics) is relied on.
 */
export interface SignalingSocket {
  readonly readyState: number;
  onmessage: SocketHandler<{ readonly data: unknown }> | null;
  onclose: SocketHandler<unknown> | null;
  onerror: SocketHandler<unknown> | null;
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket class: the global one in a browser, `ws` in Node (which has none before Node 22). */
export type SocketConstructor = new (url: string) => SignalingSocket;

/** The given class, else the global WebSocket, looked up only when a socket is made. */
function socketClass(given: SocketConstructor | undefined): SocketConstructor {
  return given ?? WebSocket;
}

export interface SignalingEvents {
  onState(state: SignalingState, url: string | undefined): void;
  onWelcome(url: string, records: readonly string[]): void;
  onSignal(from: PeerId, payload: string): void;
  /** An error the server reported, or a frame we refused. */
  onProblem(code: string, message: string): void;
  /** The server had no such peer (or it was not reading) when we signalled it. */
  onUndeliverable(to: PeerId): void;
  /** The server's challenge announced TURN credentials: they come with the welcome. */
  onTurnPending(): void;
  /** TURN credentials from the server (a welcome's or fresh ones), or undefined: a welcome without any. */
  onTurn(turn: TurnCredentials | undefined): void;
  /** The STUN URLs the challenge of the server at `url` named, or undefined: it named none. Told before the challenge's peers. */
  onStun(url: string, urls: readonly string[] | undefined): void;
}

export interface SignalingClientOptions {
  readonly urls: readonly string[];
  readonly network: string;
  readonly identity: Identity;
  /** The record to register with (read at each registration). */
  readonly record: () => SignedRecord;
  readonly random: () => number;
  /** The WebSocket class. Default: the global WebSocket. */
  readonly webSocket?: SocketConstructor;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
}

/** A signaling socket the page's head opened (web/index.html), with the frames it has had. */
export interface HeadSocket {
  readonly url: string;
  readonly socket: WebSocket;
  readonly frames: readonly string[];
}

/**
 * The socket the page's head opened, if it left a well-formed one at
 * `globalThis.tabmeshEarly`: taken once (a second node opens its own).
 * Anything else there is ignored.
 */
export function takeHeadSocket(): HeadSocket | undefined {
  const left: unknown = Reflect.get(globalThis, 'tabmeshEarly');
  if (left === undefined) return undefined;
  Reflect.deleteProperty(globalThis, 'tabmeshEarly');
  if (typeof left !== 'object' || left === null || typeof WebSocket === 'undefined') return undefined;
  const url: unknown = Reflect.get(left, 'url');
  const socket: unknown = Reflect.get(left, 'socket');
  const frames: unknown = Reflect.get(left, 'frames');
  if (typeof url !== 'string' || !(socket instanceof WebSocket) || !Array.isArray(frames)) return undefined;
  return {
    url,
    socket,
    frames: frames.filter((frame): frame is string => typeof frame === 'string').slice(0, MAX_EARLY_FRAMES),
  };
}

/**
 * A WebSocket opened before the node is ready (while storage and identity
 * load), its messages held until a SignalingClient adopts it.
 */
export class EarlySocket {
  readonly socket: SignalingSocket;
  readonly url: string;
  readonly held: string[] = [];

  /**
   * Adopts `head` if it is a socket to the same URL and network; closes it
   * otherwise. `webSocket`: the class to open one with (default the global).
   */
  constructor(url: string, network: string, head?: HeadSocket, webSocket?: SocketConstructor) {
    this.url = url;
    const full = withNetwork(url, network);
    if (head !== undefined && head.url === full && head.socket.readyState <= SOCKET_OPEN) {
      this.socket = head.socket;
      // takeHeadSocket has capped them at MAX_EARLY_FRAMES.
      this.held.push(...head.frames);
    } else {
      head?.socket.close();
      const Socket = socketClass(webSocket);
      this.socket = new Socket(full);
    }
    this.socket.onmessage = (event) => {
      if (typeof event.data === 'string' && this.held.length < MAX_EARLY_FRAMES) this.held.push(event.data);
    };
    // Heard, so that `ws` (an EventEmitter) does not throw it: a failed socket
    // also closes, and the client that adopts it reconnects.
    this.socket.onerror = () => undefined;
  }
}

/**
 * The URL with `?network=` added: the server then sends a bootstrap sample
 * with its challenge, so the tab can dial while it registers.
 */
export function withNetwork(url: string, network: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('network', network);
  return parsed.toString();
}

/**
 * Signaling servers learned from peers' records, tried after the configured
 * ones when those fail. Few: a learned URL is a hint from a peer, and each
 * costs a connection attempt per round of retries.
 */
export const MAX_LEARNED_SIGNALING_URLS = 4;

/**
 * Requests a registering client keeps until the server's welcome, beyond the
 * MAX_HELD_DURING_REGISTRATION it may send right behind its answer: a tab
 * that dials several peers at once (its contacts and the application's
 * connect calls) has more signals than the server holds. More are refused.
 */
export const MAX_QUEUED_UNTIL_WELCOME = 128;

export class SignalingClient {
  private socket: SignalingSocket | undefined;
  /** Configured URLs first, then those learned from peers. */
  private readonly urls: string[];
  private attempt = 0;
  private urlIndex = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private connectedUrl: string | undefined;
  /** Whether the current socket has sent its challenge (so we are about to answer). */
  private challenged = false;
  /** Whether the current socket has had our registration answer (so requests may follow it). */
  private answered = false;
  /** Requests made after the challenge but before the answer is signed and sent. */
  private readonly beforeAnswer: string[] = [];
  /** Whether the current socket's registration was verified (the welcome came). */
  private welcomed = false;
  /** Requests sent (or held to send) ahead of the welcome: the server holds MAX_HELD_DURING_REGISTRATION. */
  private aheadOfWelcome = 0;
  /** Requests beyond those, waiting here for the welcome (at most MAX_QUEUED_UNTIL_WELCOME). */
  private readonly untilWelcome: string[] = [];
  /** Recipients of recent signals by ref (a ring of MAX_TRACKED_REFS). */
  private readonly refs = new Map<number, PeerId>();
  private nextRef = 0;

  constructor(
    private readonly options: SignalingClientOptions,
    private readonly events: SignalingEvents,
  ) {
    if (options.urls.length === 0) throw new RangeError('at least one signaling URL is needed');
    this.urls = [...options.urls];
  }

  /**
   * Servers a connected peer's record lists: kept (up to
   * MAX_LEARNED_SIGNALING_URLS) to try when ours fail. Only the secure kind
   * when ours are secure, so a peer cannot steer a wss: page to plain ws:.
   */
  learn(urls: readonly string[]): void {
    const secure = this.options.urls.every((url) => url.startsWith('wss:'));
    for (const url of urls) {
      if (this.urls.length >= this.options.urls.length + MAX_LEARNED_SIGNALING_URLS) return;
      if (this.urls.includes(url) || (secure && !url.startsWith('wss:'))) continue;
      this.urls.push(url);
    }
  }

  /** Every URL it may try: configured, then learned. */
  knownUrls(): readonly string[] {
    return this.urls;
  }

  get url(): string | undefined {
    return this.connectedUrl;
  }

  /** Connect, adopting `early` if it is a socket to the first URL that has not closed. */
  start(early?: EarlySocket): void {
    if (early !== undefined && early.url === this.options.urls[0] && early.socket.readyState <= SOCKET_OPEN) {
      this.urlIndex = 1;
      this.events.onState('connecting', early.url);
      this.adopt(early.socket, early.url);
      for (const text of early.held.splice(0)) void this.receive(early.socket, early.url, text);
      return;
    }
    early?.socket.close();
    this.connect();
  }

  /** Relay `payload` to `to`; false when not connected (the caller may retry later). */
  send(to: PeerId, payload: string): boolean {
    // The ref comes back on an error, naming the peer we could not reach.
    const ref = this.nextRef;
    this.nextRef = (this.nextRef + 1) % MAX_TRACKED_REFS;
    this.refs.set(ref, to);
    return this.sendMessage({ type: 'signal', to, payload, ref });
  }

  /** Ask the server for fresh TURN credentials; they arrive through onTurn. */
  requestTurn(): boolean {
    return this.answered && this.sendMessage({ type: 'turn' });
  }

  updateRecord(record: SignedRecord): boolean {
    return this.sendMessage({ type: 'record', record: record.bytes });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.socket?.close(1000, 'closing');
    this.socket = undefined;
    this.events.onState('closed', undefined);
  }

  /**
   * Whether requests can go out now: registered, or registering (the server
   * holds up to MAX_HELD_DURING_REGISTRATION requests behind the answer).
   */
  canSignal(): boolean {
    return this.socket !== undefined && this.socket.readyState === SOCKET_OPEN && (this.answered || this.challenged);
  }

  private sendMessage(message: ClientMessage): boolean {
    // A socket still opening, or not yet challenged, will register soon: what
    // is sent meanwhile waits behind the answer rather than being lost.
    const opening =
      this.socket !== undefined &&
      !this.challenged &&
      (this.socket.readyState === SOCKET_CONNECTING || this.socket.readyState === SOCKET_OPEN);
    if ((!this.canSignal() && !opening) || this.socket === undefined) return false;
    const text = encodeClientMessage(message);
    if (this.welcomed) {
      this.socket.send(text);
      return true;
    }
    // Registering: the server holds a few requests until it has verified us
    // (and refuses more); the rest wait here for the welcome, in order.
    if (this.aheadOfWelcome < MAX_HELD_DURING_REGISTRATION && this.untilWelcome.length === 0) {
      this.aheadOfWelcome++;
      if (this.answered) this.socket.send(text);
      else this.beforeAnswer.push(text);
      return true;
    }
    if (this.untilWelcome.length >= MAX_QUEUED_UNTIL_WELCOME) return false;
    this.untilWelcome.push(text);
    return true;
  }

  private connect(): void {
    if (this.closed) return;
    const url = this.urls[this.urlIndex % this.urls.length] ?? '';
    this.urlIndex++;
    this.events.onState('connecting', url);
    let socket: SignalingSocket;
    try {
      const Socket = socketClass(this.options.webSocket);
      socket = new Socket(withNetwork(url, this.options.network));
    } catch {
      // A malformed URL: try the next one after the backoff.
      this.events.onProblem(ErrorCode.BAD_FIELD, 'invalid signaling URL');
      this.scheduleReconnect();
      return;
    }
    this.adopt(socket, url);
  }

  private adopt(socket: SignalingSocket, url: string): void {
    this.socket = socket;
    this.answered = false;
    this.challenged = false;
    this.beforeAnswer.length = 0;
    this.welcomed = false;
    this.aheadOfWelcome = 0;
    this.untilWelcome.length = 0;
    socket.onmessage = (event) => {
      if (typeof event.data !== 'string') {
        this.events.onProblem(ErrorCode.BAD_FRAME, 'binary frame from the signaling server');
        return;
      }
      void this.receive(socket, url, event.data);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.connectedUrl = undefined;
      if (this.closed) return;
      this.events.onState('disconnected', url);
      this.scheduleReconnect();
    };
    socket.onerror = () => {
      // onclose follows and schedules the reconnection.
    };
  }

  private async receive(socket: SignalingSocket, url: string, text: string): Promise<void> {
    const parsed = parseServerMessage(text);
    if (!parsed.ok) {
      this.events.onProblem(parsed.error.code, `from the signaling server: ${parsed.error.message}`);
      return;
    }
    const message = parsed.value;
    switch (message.type) {
      case 'challenge': {
        const { identity, network } = this.options;
        this.challenged = true;
        this.events.onStun(url, message.stun);
        if (message.turn === true) this.events.onTurnPending();
        // Peers to dial come with the challenge: dialling starts while we sign.
        if (message.peers !== undefined) this.events.onWelcome(url, message.peers);
        const bytes = registrationBytes(message.nonce, message.server, network, identity.id);
        const signature = await identity.sign(Purpose.REGISTER, bytes);
        if (this.socket !== socket || socket.readyState !== SOCKET_OPEN) return;
        socket.send(
          encodeClientMessage({
            type: 'register',
            id: identity.id,
            network,
            record: this.options.record().bytes,
            signature,
          }),
        );
        this.answered = true;
        for (const text of this.beforeAnswer.splice(0)) socket.send(text);
        break;
      }
      case 'welcome':
        if (message.id !== this.options.identity.id || message.network !== this.options.network) {
          this.events.onProblem(ErrorCode.ID_MISMATCH, 'the server welcomed someone else');
          socket.close(1000, 'bad welcome');
          return;
        }
        this.attempt = 0;
        this.connectedUrl = url;
        this.welcomed = true;
        for (const text of this.untilWelcome.splice(0)) socket.send(text);
        this.events.onState('connected', url);
        this.events.onTurn(message.turn);
        this.events.onWelcome(url, message.peers);
        break;
      case 'signal':
        this.events.onSignal(message.from, message.payload);
        break;
      case 'peers':
        this.events.onWelcome(url, message.peers);
        break;
      case 'error': {
        const to = message.ref === undefined ? undefined : this.refs.get(message.ref);
        if (
          to !== undefined &&
          (message.code === ErrorCode.UNKNOWN_PEER || message.code === ErrorCode.RECIPIENT_BUSY)
        ) {
          this.events.onUndeliverable(to);
        } else {
          this.events.onProblem(message.code, message.message);
        }
        break;
      }
      case 'turn':
        this.events.onTurn(message.turn);
        break;
      case 'goaway':
      case 'ok':
        break;
    }
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const delay = reconnectDelayMs(
      this.attempt,
      this.options.random,
      this.options.backoffBaseMs ?? SIGNALING_BACKOFF_BASE_MS,
      this.options.backoffMaxMs ?? SIGNALING_BACKOFF_MAX_MS,
    );
    this.attempt++;
    this.timer = setTimeout(() => this.connect(), delay);
  }
}
