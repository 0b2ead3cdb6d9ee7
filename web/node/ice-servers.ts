/**
 * The ICE servers each new link is made with: the application's (a list, or
 * a function it calls per connection for its own short-lived credentials),
 * followed by the TURN servers whose credentials the signaling server mints
 * (docs/TURN.md). Without servers of the application's, the STUN URLs the
 * signaling server's challenge names (its own responder) come first, so a
 * tab behind a NAT learns its public address from the server it already
 * talks to and from no third party. When a server's challenge announces
 * credentials, dials wait for them, at most TURN_WAIT_MAX_MS, rather than
 * start without a relay.
 */
import type { TurnCredentials } from '../../shared/protocol/signaling.js';
import { TURN_WAIT_MAX_MS, type NodeOptions } from './options.js';

export interface IceHost {
  now(): number;
  /** Ask the signaling server for fresh TURN credentials. */
  requestTurn(): void;
  /** Credentials are on their way, or the STUN servers changed: a transport prepared without them is out of date. */
  credentialsPending(): void;
}

export class IceServers {
  /** TURN servers from the signaling server's credentials, and when to ask for fresh ones. */
  private serverTurn: { readonly servers: readonly RTCIceServer[]; readonly refreshAt: number } | undefined;
  /** Set while credentials a challenge announced are on their way: dials wait for them. */
  private turnWait: { readonly arrived: Promise<void>; readonly resolve: () => void } | undefined;
  /** The STUN servers the signaling server's last challenge named (none before one, or from a server without). */
  private serverStun: readonly RTCIceServer[] = [];

  constructor(
    private readonly configured: NonNullable<NodeOptions['iceServers']>,
    private readonly host: IceHost,
  ) {}

  /**
   * The servers for a new link: the function's when `iceServers` is one (it
   * wins: the application fetches its own credentials), else the listed ones
   * followed by the signaling server's TURN servers. An empty list (the
   * default) lists none of the application's, and the server's STUN URLs
   * take their place; a list of the application's is used without them.
   * While the server adds nothing, the configured list itself is returned
   * (a transport prepared with it is still good).
   */
  async current(): Promise<readonly RTCIceServer[]> {
    const ice = this.configured;
    if (typeof ice === 'function') return ice();
    if (this.turnWait !== undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.turnWait.arrived,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, TURN_WAIT_MAX_MS))),
      ]);
      clearTimeout(timer);
    }
    const turn = this.serverTurn?.servers ?? [];
    const stun = ice.length === 0 ? this.serverStun : [];
    return turn.length === 0 && stun.length === 0 ? ice : [...stun, ...ice, ...turn];
  }

  /** The server's challenge announced credentials: dials wait for them. */
  pending(): void {
    if (this.turnWait !== undefined) return;
    let resolve = (): void => undefined;
    const arrived = new Promise<void>((done) => (resolve = done));
    this.turnWait = { arrived, resolve };
    this.host.credentialsPending();
  }

  /** The server's credentials (or word that there are none). */
  receive(turn: TurnCredentials | undefined): void {
    this.serverTurn =
      turn === undefined
        ? undefined
        : {
            servers: [{ urls: [...turn.urls], username: turn.username, credential: turn.credential }],
            // Fresh ones halfway through, so a connection attempt never starts on credentials about to lapse.
            refreshAt: this.host.now() + turn.ttlMs / 2,
          };
    this.stopWaiting();
  }

  /**
   * The STUN URLs a server's challenge named, or undefined: it named none.
   * When they change what new links get, a transport prepared with the old
   * ones is out of date.
   */
  receiveStun(urls: readonly string[] | undefined): void {
    const before = this.serverStun;
    this.serverStun = urls === undefined ? [] : [{ urls: [...urls] }];
    const same = JSON.stringify(before) === JSON.stringify(this.serverStun);
    if (!same && typeof this.configured !== 'function' && this.configured.length === 0) this.host.credentialsPending();
  }

  /** The server is gone (lost or closed): what it announced is not coming, so dials wait no longer. */
  stopWaiting(): void {
    this.turnWait?.resolve();
    this.turnWait = undefined;
  }

  /** Periodic: ask for fresh credentials once the current ones are half spent. */
  maintain(): void {
    if (this.serverTurn !== undefined && this.host.now() >= this.serverTurn.refreshAt) this.host.requestTurn();
  }
}
