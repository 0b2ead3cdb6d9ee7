/**
 * Which way a signal goes. In order of preference:
 *
 * 1. `local`: the peer is a tab of this browser (BroadcastChannel, no server);
 * 2. `mesh` along a route: sealed through our neighbours, when a way to the
 *    peer is known (the reverse of the trail its last frame came by, or of a
 *    membership walk);
 * 3. `server`: the signaling server, when no peer path is known;
 * 4. `mesh` as a flood (MESH_FLOOD_TTL hops) when there is no server either.
 *    A flood is a guess: at 10,000 peers a 5-hop flood finds a random peer
 *    one time in six and costs ~1,700 messages (docs/MEMBERSHIP.md), so it is
 *    the last resort, not the first.
 *
 * A reply goes back the way its request came. An attempt with no channel
 * MESH_SIGNAL_FALLBACK_MS after it began on a local or mesh path is re-sent
 * through the server, if one is connected. Without one, an attempt that
 * has heard back is re-sent once through the mesh (a signal may have been
 * lost with a hop that left), and one that has heard nothing is given up
 * at MESH_SIGNAL_GIVE_UP_MS: a peer that no path reaches is not worth a slot
 * for the full connect timeout.
 *
 * Through the mesh the first signal of an attempt without a route floods;
 * the candidates after it wait (bounded) until the answer shows the way, so a
 * flood is paid once per attempt, not once per candidate.
 *
 * A path is kept only for a peer with an attempt under way (begun here, or
 * an offer answered: `arrived`) and forgotten with it; a reply to anyone else
 * (a bye to a stranger, a link's last bye after it closed) keeps nothing.
 * Before, every authenticated sender left one until a link to it closed
 * (issue 15, item 9). MAX_SIGNAL_PATHS bounds them still.
 */
import type { ErrorCode } from '../../shared/errors.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import { MAX_SIGNAL_PATHS, MESH_SIGNAL_FALLBACK_MS, MESH_SIGNAL_GIVE_UP_MS } from '../../shared/limits.js';
import type { SealedContent } from '../../shared/protocol/mesh.js';
import { RecentMap } from '../../shared/recent-map.js';
import { newLimitCounters, type LimitCounters } from './options.js';

export type Via =
  | { readonly kind: 'server' }
  | { readonly kind: 'local' }
  | { readonly kind: 'mesh'; readonly route: readonly PeerId[] };

/** Signals held for a route per attempt; the rest of an attempt is re-sent on fallback anyway. */
const MAX_HELD_SIGNALS = 32;
/** Routes remembered for peers we may dial later (a few per peer of the cache). */
const MAX_ROUTE_HINTS = 256;

interface Path {
  via: Via;
  /** Mesh signals sent so far on this path (the first of a routeless attempt floods). */
  sent: number;
  /** Mesh signals waiting for a route. */
  held: string[];
}

export interface PathHost {
  /** Through the signaling server; false when it is not connected. */
  sendServer(to: PeerId, payload: string): boolean;
  canUseServer(): boolean;
  /** To a tab of this browser; false when it is not one. */
  sendLocal(to: PeerId, payload: string): boolean;
  isLocal(peer: PeerId): boolean;
  /** Sealed through the mesh; an error code when that is impossible. */
  sendMesh(to: PeerId, content: SealedContent, route: readonly PeerId[]): ErrorCode | Uint8Array;
  canUseMesh(peer: PeerId): boolean;
  /** Our record, carried with mesh signals so the peer can seal its answer to us. */
  ownRecord(): Uint8Array;
  debug(message: string, fields: object): void;
}

export class SignalPaths {
  private readonly paths: RecentMap<PeerId, Path>;
  /** Routes learned from walks and from frames' trails, for the next attempt at a peer (bounded, oldest out). */
  private readonly hints = new RecentMap<PeerId, readonly PeerId[]>(MAX_ROUTE_HINTS);
  private readonly timers = new Map<PeerId, ReturnType<typeof setTimeout>>();

  constructor(
    private readonly host: PathHost,
    private readonly tally: LimitCounters = newLimitCounters(),
    maxPaths = MAX_SIGNAL_PATHS,
  ) {
    this.paths = new RecentMap(maxPaths);
  }

  /** The way the current attempt at `peer` signals. */
  viaOf(peer: PeerId): Via | undefined {
    return this.paths.get(peer)?.via;
  }

  /** Remember a route to `peer` for the next attempt (bounded by the caller's peer count). */
  hint(peer: PeerId, route: readonly PeerId[]): void {
    if (route.length === 0) return;
    this.hints.set(peer, route);
  }

  /** A known route to `peer`, if any (it may have gone stale). */
  routeTo(peer: PeerId): readonly PeerId[] {
    return this.hints.get(peer) ?? [];
  }

  /**
   * We start an attempt at `peer`: choose its path. After the fallback
   * delay, an attempt `stillWaiting` (no channel yet) moves to the server if
   * there is one, and `resend`s its signals there (the peer then answers
   * there too: a signal lost on the way through peers, an answer or a
   * candidate, is sent again). Without a server, one that has heard back
   * `resend`s once through the mesh, the way the peer's signals come; one
   * that has still heard nothing by MESH_SIGNAL_GIVE_UP_MS is given up
   * (`giveUp`).
   */
  begin(peer: PeerId, attempt: { stillWaiting(): boolean; heard(): boolean; resend(): void; giveUp(): void }): Via {
    const via = this.choose(peer);
    this.keep(peer, { via, sent: 0, held: [] });
    clearTimeout(this.timers.get(peer));
    if (via.kind !== 'server') {
      this.timers.set(
        peer,
        setTimeout(() => {
          this.timers.delete(peer);
          if (!attempt.stillWaiting()) return;
          if (!this.host.canUseServer()) {
            if (attempt.heard()) {
              // Heard, yet no channel: a signal of either side may have been
              // lost on the way (a hop that left the route meanwhile). Once,
              // everything again, the way the peer's last signal came; the
              // peer, seeing our offer again, sends its answer and candidates again.
              attempt.resend();
              return;
            }
            this.timers.set(
              peer,
              setTimeout(() => {
                this.timers.delete(peer);
                if (attempt.stillWaiting() && !attempt.heard()) attempt.giveUp();
              }, MESH_SIGNAL_GIVE_UP_MS - MESH_SIGNAL_FALLBACK_MS),
            );
            return;
          }
          this.host.debug('no channel yet by a peer path; trying the signaling server', { peer, via: via.kind });
          this.keep(peer, { via: { kind: 'server' }, sent: 0, held: [] });
          attempt.resend();
        }, MESH_SIGNAL_FALLBACK_MS),
      );
    }
    return via;
  }

  /** An authenticated signal for an attempt at `peer` came this way: the attempt's signals follow it back. */
  arrived(peer: PeerId, via: Via): void {
    const path = this.paths.get(peer);
    // What was held back for a route goes now, the way the answer came (by
    // send(), so it still falls back to the server if that way cannot carry it).
    const held = path?.held.splice(0) ?? [];
    if (path === undefined || path.via.kind !== via.kind || via.kind !== 'mesh') {
      this.keep(peer, { via, sent: path?.via.kind === via.kind ? path.sent : 0, held: [] });
    } else {
      path.via = via;
    }
    for (const payload of held) this.send(peer, payload);
  }

  /** Send a signal of the attempt at `to` its way; with none on record (a link's last bye), the best way we have, kept nowhere. */
  send(to: PeerId, payload: string): void {
    this.sendOn(to, this.paths.get(to) ?? { via: this.choose(to), sent: 0, held: [] }, payload);
  }

  /** A reply to `to` the way its signal came (a declined offer's bye), keeping nothing. */
  reply(to: PeerId, via: Via, payload: string): void {
    this.sendOn(to, { via, sent: 0, held: [] }, payload);
  }

  private sendOn(to: PeerId, path: Path, payload: string): void {
    switch (path.via.kind) {
      case 'local':
        if (this.host.sendLocal(to, payload)) return;
        break;
      case 'mesh':
        if (this.sendMesh(to, path, payload)) return;
        break;
      case 'server':
        break;
    }
    if (!this.host.sendServer(to, payload)) this.host.debug('signal not sent: no path', { to });
  }

  /** The attempt at `peer` is over. */
  forget(peer: PeerId): void {
    this.paths.delete(peer);
    clearTimeout(this.timers.get(peer));
    this.timers.delete(peer);
  }

  /** Paths held (for tests and the bench). */
  get size(): number {
    return this.paths.size;
  }

  close(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  /** Hold a path, forgetting the oldest past MAX_SIGNAL_PATHS (counted). */
  private keep(peer: PeerId, path: Path): void {
    const forgotten = this.paths.set(peer, path);
    if (forgotten === undefined) return;
    this.tally.signalPathsForgotten++;
    this.host.debug('signal path forgotten: too many held', { peer: forgotten[0] });
  }

  private choose(peer: PeerId): Via {
    if (this.host.isLocal(peer)) return { kind: 'local' };
    const route = this.hints.get(peer) ?? [];
    const mesh = this.host.canUseMesh(peer);
    if (mesh && route.length > 0) return { kind: 'mesh', route };
    if (this.host.canUseServer() || !mesh) return { kind: 'server' };
    return { kind: 'mesh', route: [] };
  }

  /** False when the mesh cannot carry it (the caller then tries the server). */
  private sendMesh(to: PeerId, path: Path, payload: string): boolean {
    const route = path.via.kind === 'mesh' ? path.via.route : [];
    if (route.length === 0 && path.sent > 0) {
      if (path.held.length < MAX_HELD_SIGNALS) path.held.push(payload);
      return true;
    }
    const result = this.host.sendMesh(to, { kind: 'signal', signal: payload, record: this.host.ownRecord() }, route);
    if (!(result instanceof Uint8Array)) return false;
    path.sent++;
    return true;
  }
}
