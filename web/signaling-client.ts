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
import {
  encodeClientMessage,
  parseServerMessage,
  registrationBytes,
  type ClientMessage,
} from '../shared/protocol/signaling.js';
import type { SignedRecord } from '../shared/records.js';

/** First reconnection delay (before jitter); doubles per failed attempt. */
export const SIGNALING_BACKOFF_BASE_MS = 500;
/** Longest reconnection delay (before jitter). */
export const SIGNALING_BACKOFF_MAX_MS = 30_000;

export type SignalingState = 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface SignalingEvents {
  onState(state: SignalingState, url: string | undefined): void;
  onWelcome(url: string, records: readonly string[]): void;
  onSignal(from: PeerId, payload: string): void;
  /** An error the server reported, or a frame we refused. */
  onProblem(code: string, message: string): void;
}

export interface SignalingClientOptions {
  readonly urls: readonly string[];
  readonly network: string;
  readonly identity: Identity;
  /** The record to register with (read at each registration). */
  readonly record: () => SignedRecord;
  readonly random: () => number;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
}

export class SignalingClient {
  private socket: WebSocket | undefined;
  private attempt = 0;
  private urlIndex = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private connectedUrl: string | undefined;

  constructor(
    private readonly options: SignalingClientOptions,
    private readonly events: SignalingEvents,
  ) {
    if (options.urls.length === 0) throw new RangeError('at least one signaling URL is needed');
  }

  get url(): string | undefined {
    return this.connectedUrl;
  }

  start(): void {
    this.connect();
  }

  /** Relay `payload` to `to`; false when not connected (the caller may retry later). */
  send(to: PeerId, payload: string): boolean {
    return this.sendMessage({ type: 'signal', to, payload });
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

  private sendMessage(message: ClientMessage): boolean {
    if (this.socket === undefined || this.connectedUrl === undefined || this.socket.readyState !== WebSocket.OPEN) {
      return false;
    }
    this.socket.send(encodeClientMessage(message));
    return true;
  }

  private connect(): void {
    if (this.closed) return;
    const url = this.options.urls[this.urlIndex % this.options.urls.length] ?? '';
    this.urlIndex++;
    this.events.onState('connecting', url);
    let socket: WebSocket;
    try {
      socket = new WebSocket(url);
    } catch {
      // A malformed URL: try the next one after the backoff.
      this.events.onProblem(ErrorCode.BAD_FIELD, 'invalid signaling URL');
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onmessage = (event: MessageEvent) => {
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

  private async receive(socket: WebSocket, url: string, text: string): Promise<void> {
    const parsed = parseServerMessage(text);
    if (!parsed.ok) {
      this.events.onProblem(parsed.error.code, `from the signaling server: ${parsed.error.message}`);
      return;
    }
    const message = parsed.value;
    switch (message.type) {
      case 'challenge': {
        const { identity, network } = this.options;
        const bytes = registrationBytes(message.nonce, message.server, network, identity.id);
        const signature = await identity.sign(Purpose.REGISTER, bytes);
        if (this.socket !== socket || socket.readyState !== WebSocket.OPEN) return;
        socket.send(
          encodeClientMessage({
            type: 'register',
            id: identity.id,
            network,
            record: this.options.record().bytes,
            signature,
          }),
        );
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
        this.events.onState('connected', url);
        this.events.onWelcome(url, message.peers);
        break;
      case 'signal':
        this.events.onSignal(message.from, message.payload);
        break;
      case 'peers':
        this.events.onWelcome(url, message.peers);
        break;
      case 'error':
        this.events.onProblem(message.code, message.message);
        break;
      case 'goaway':
      case 'ok':
        break;
    }
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const base = this.options.backoffBaseMs ?? SIGNALING_BACKOFF_BASE_MS;
    const max = this.options.backoffMaxMs ?? SIGNALING_BACKOFF_MAX_MS;
    // Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter").
    const ceiling = Math.min(max, base * 2 ** Math.min(this.attempt, 20));
    this.attempt++;
    this.timer = setTimeout(() => this.connect(), Math.floor(this.options.random() * ceiling));
  }
}
