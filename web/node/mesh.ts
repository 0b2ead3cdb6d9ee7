/**
 * Signals and short messages through the mesh: sealed to the recipient's
 * X25519 key, signed inside by the sender, forwarded hop by hop by
 * shared/relay.ts's rules. This class does the sealing, the deduplication and
 * the forwarding, within budgets (relay-budget.ts): each claimed sender's
 * frames are passed on at most at RELAY_ORIGIN_RATE, and each neighbour is
 * sent no more than it accepts from us (RelayPacers); what a neighbour sends
 * us is its PeerLink's to budget. The node decides what to send and what a
 * delivery means.
 */
import { toHex } from '../../shared/bytes.js';
import { ErrorCode } from '../../shared/errors.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import {
  MAX_RELAY_PATH,
  MAX_RELAY_TTL,
  MESH_FLOOD_TTL,
  RELAY_DEDUP_ENTRIES,
  RELAY_ID_BYTES,
  RELAY_ORIGINS_TRACKED,
} from '../../shared/limits.js';
import {
  MAX_SEALED_BYTES,
  encodeRelay,
  encodeSealedContent,
  parseSealedContent,
  type RelayFrame,
  type SealedContent,
} from '../../shared/protocol/mesh.js';
import { RecentSet } from '../../shared/dedup.js';
import { RecentMap } from '../../shared/recent-map.js';
import { originateRelay, routeBack, routeRelay, type RelayHeader } from '../../shared/relay.js';
import { openSeal, seal, type Nacl, type SealKeyPair } from '../../shared/seal.js';
import { KeyedBuckets } from './budgets.js';
import { newLimitCounters, type LimitCounters } from './options.js';
import { DEFAULT_RELAY_LIMITS, RelayPacers, type RelayLimits } from './relay-budget.js';

export interface MeshHost {
  readonly self: PeerId;
  now(): number;
  /** Peers with confirmed channels. */
  neighbours(): PeerId[];
  /** Queue a frame on the channel to `peer` (a neighbour). */
  sendFrame(peer: PeerId, frame: Uint8Array): void;
  /** The peer's seal key, from its verified record, if we know one. */
  sealKeyOf(peer: PeerId): Uint8Array | undefined;
  problem(code: ErrorCode, message: string, peer: PeerId | undefined): void;
  /** Sealed content for us, opened and parsed (its signature is the node's to check). */
  deliver(from: PeerId, content: SealedContent, id: Uint8Array, back: PeerId[]): void;
}

/** Counters for the page and tests. */
export interface MeshCounters {
  sent: number;
  forwarded: number;
  delivered: number;
  dropped: number;
}

export class Mesh {
  /**
   * Relay IDs seen, with the most hops any copy had left. A copy with more
   * hops left than any before goes on again (a flood's first copy may have
   * come the long way), so a flood reaches everyone within its hops; it is
   * delivered only once.
   */
  private readonly seen = new RecentMap<string, number>(RELAY_DEDUP_ENTRIES);
  /**
   * Copies for us whose seal did not open, by relay ID and the neighbour
   * that passed them on: each neighbour gets one try per relay ID, so a
   * forwarder that spoils its copy neither blocks the intact copies coming
   * other ways nor makes us open its copies again and again.
   */
  private readonly spoiled = new RecentSet(RELAY_DEDUP_ENTRIES);
  readonly counters: MeshCounters = { sent: 0, forwarded: 0, delivered: 0, dropped: 0 };
  /** What each claimed sender may have passed on (RELAY_ORIGIN_RATE). */
  private readonly origins: KeyedBuckets<PeerId>;
  /** What each neighbour takes from us. */
  private readonly pacers: RelayPacers;

  constructor(
    private readonly host: MeshHost,
    private readonly nacl: Nacl,
    private readonly keys: SealKeyPair,
    limits: RelayLimits = DEFAULT_RELAY_LIMITS,
    private readonly tally: LimitCounters = newLimitCounters(),
  ) {
    this.origins = new KeyedBuckets(limits.origin, RELAY_ORIGINS_TRACKED);
    this.pacers = new RelayPacers(limits);
  }

  /**
   * Seal `content` to `to` and send it along `route` (or flood when there is
   * none). Returns the relay ID, or an error code when it cannot go
   * (RATE_LIMITED when no neighbour would take another frame from us now).
   */
  send(to: PeerId, content: SealedContent, route: readonly PeerId[], id = this.newId()): ErrorCode | Uint8Array {
    const key = this.host.sealKeyOf(to);
    if (key === undefined) return ErrorCode.NO_MESH_PATH;
    const neighbours = this.host.neighbours().filter((peer) => peer !== to);
    if (neighbours.length === 0) return ErrorCode.NO_MESH_PATH;
    const sealed = seal(this.nacl, key, encodeSealedContent(content));
    if (sealed.length > MAX_SEALED_BYTES) return ErrorCode.PAYLOAD_TOO_LARGE;
    const copies = originateRelay(this.host.self, to, route, neighbours, {
      routeTtl: MAX_RELAY_TTL,
      floodTtl: MESH_FLOOD_TTL,
    });
    const sent = this.sendCopies(id, sealed, copies, { routedTo: route[0] });
    if (sent === 0) return ErrorCode.RATE_LIMITED;
    this.seen.set(toHex(id), Number.MAX_SAFE_INTEGER);
    this.counters.sent += sent;
    return id;
  }

  /** A relay frame from neighbour `from`. */
  receive(from: PeerId, frame: RelayFrame): void {
    const key = toHex(frame.id);
    const best = this.seen.get(key);
    const forUs = frame.to === this.host.self;
    // A flood's copies meet; that is normal. Only one with more hops left goes on.
    if (best !== undefined && (forUs || frame.ttl <= best)) return;
    // A copy for us counts as seen once it opens (below).
    if (forUs && this.spoiled.has(`${key}/${from}`)) return;
    if (!forUs) this.seen.set(key, frame.ttl);
    const decision = routeRelay(this.host.self, frame, this.host.neighbours(), from, {
      maxPath: MAX_RELAY_PATH,
      floodTtl: MESH_FLOOD_TTL,
    });
    switch (decision.action) {
      case 'drop':
        this.counters.dropped++;
        // Spent hops and dead ends are how floods end; a loop is someone's fault.
        if (decision.reason === 'loop') {
          this.host.problem(ErrorCode.RELAY_UNROUTABLE, 'relayed frame came round in a loop', from);
        }
        return;
      case 'forward':
        // The neighbour's own budget (what it may make us pass on) was its link's to check.
        if (!this.origins.take(frame.from, this.host.now())) {
          this.counters.dropped++;
          this.tally.relayOverOrigin++;
          return;
        }
        this.counters.forwarded += this.sendCopies(frame.id, frame.sealed, decision.copies, {
          from,
          routedTo: frame.route[0],
        });
        return;
      case 'deliver':
        if (this.open(frame)) this.seen.set(key, frame.ttl);
        else this.spoiled.add(`${key}/${from}`);
        return;
    }
  }

  /**
   * Send each copy its neighbour will take from us now; the number sent (the
   * rest are counted). `from`: the neighbour the frame came from (none for
   * ours); `routedTo`: the next hop its route named. A copy to the recipient
   * or along the route is routed; any other is a flood copy.
   */
  private sendCopies(
    id: Uint8Array,
    sealed: Uint8Array,
    copies: readonly { readonly next: PeerId; readonly header: RelayHeader<PeerId> }[],
    how: { readonly from?: PeerId; readonly routedTo: PeerId | undefined },
  ): number {
    const now = this.host.now();
    let sent = 0;
    for (const { next, header } of copies) {
      const pass = next !== header.to;
      const copy = {
        pass,
        flood: pass && next !== how.routedTo,
        ...(how.from === undefined ? {} : { from: how.from }),
      };
      if (this.pacers.take(next, copy, now)) {
        this.host.sendFrame(next, encodeRelay({ id, sealed, ...header }));
        sent++;
      } else {
        this.tally.relayUnsent++;
      }
    }
    return sent;
  }

  /** Open a frame for us and deliver it; false (counted) when its seal or content is bad. */
  private open(frame: RelayFrame): boolean {
    const plaintext = openSeal(this.nacl, this.keys.secretKey, frame.sealed);
    if (plaintext === undefined) {
      this.counters.dropped++;
      this.host.problem(ErrorCode.BAD_SEAL, 'a frame for us whose seal does not open', frame.from);
      return false;
    }
    const content = parseSealedContent(plaintext);
    if (!content.ok) {
      this.counters.dropped++;
      this.host.problem(content.error.code, content.error.message, frame.from);
      return false;
    }
    this.counters.delivered++;
    this.host.deliver(frame.from, content.value, frame.id, routeBack(frame.trail));
    return true;
  }

  private newId(): Uint8Array {
    return crypto.getRandomValues(new Uint8Array(RELAY_ID_BYTES));
  }
}
