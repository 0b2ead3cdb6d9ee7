/**
 * An in-memory network of the real relay code, for issue 15's relay-flood
 * simulation (relay-flood.ts): every node runs the node's own Mesh
 * (web/node/mesh.ts: deduplication, routeRelay, the per-origin budgets and
 * the pacers), every link end the RelayIntake that PeerLink holds, and every
 * frame is encoded and parsed by the channel codec. What is modelled: the
 * links (a fixed one-way latency each, FIFO, no bandwidth limit), and what a
 * PeerLink does with the intake's verdict (pass the frame to the mesh, drop
 * it, or cut the link off as a flooder). Attackers are nodes without a mesh
 * that write raw frames and read nothing.
 */
import { toHex } from '../../shared/bytes.js';
import type { ErrorCode } from '../../shared/errors.js';
import { peerIdFromPublicKey, type PeerId } from '../../shared/identity/peer-id.js';
import { parseChannelFrame } from '../../shared/protocol/channel.js';
import type { SealedContent } from '../../shared/protocol/mesh.js';
import { createSealKeyPair, type Nacl, type SealKeyPair } from '../../shared/seal.js';
import { Mesh } from '../../web/node/mesh.js';
import { newLimitCounters, type LimitCounters } from '../../web/node/options.js';
import { RelayIntake, type RelayLimits, type RelayVerdict } from '../../web/node/relay-budget.js';
import { VirtualClock } from './clock.js';

/** Our end of a link: what the neighbour may send us, and whether the link still stands. */
interface End {
  readonly intake: RelayIntake;
  readonly latency: number;
  open: boolean;
}

export interface RelayNode {
  readonly id: PeerId;
  readonly honest: boolean;
  /** Honest nodes only. */
  readonly mesh: Mesh | undefined;
  readonly keys: SealKeyPair | undefined;
  /** Our end of each link, by the neighbour at its other end. */
  readonly ends: Map<PeerId, End>;
}

/** One link closed by `by` because `peer` flooded it. */
export interface Cut {
  readonly by: PeerId;
  readonly peer: PeerId;
  readonly at: number;
}

export interface RelayNetCounters {
  /** Frames put on links. */
  frames: number;
  readonly verdicts: Record<RelayVerdict, number>;
  readonly cuts: Cut[];
  /** What the nodes' own limits refused (the Mesh's share: origin budgets and pacers), summed. */
  readonly limits: LimitCounters;
  readonly problems: Map<ErrorCode, number>;
}

/** A fresh acceptable peer ID from `random` (a key is retried in the rare case it is not a valid point). */
export function randomPeerId(random: () => number): PeerId {
  for (;;) {
    const key = Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
    try {
      return peerIdFromPublicKey(key);
    } catch {
      // Not an acceptable Ed25519 key: draw another.
      continue;
    }
  }
}

export class RelayNet {
  readonly clock = new VirtualClock();
  readonly nodes: RelayNode[] = [];
  readonly byId = new Map<PeerId, RelayNode>();
  readonly counters: RelayNetCounters = {
    frames: 0,
    verdicts: { accept: 0, 'over-rate': 0, 'over-pass': 0, flooding: 0 },
    cuts: [],
    limits: newLimitCounters(),
    problems: new Map(),
  };
  /** Relay IDs (hex) of frames delivered to their recipient. */
  readonly delivered = new Set<string>();

  constructor(
    private readonly random: () => number,
    private readonly nacl: Nacl,
    private readonly limits: RelayLimits,
  ) {}

  add(honest: boolean): RelayNode {
    const id = randomPeerId(this.random);
    const ends = new Map<PeerId, End>();
    const keys = honest ? createSealKeyPair(this.nacl) : undefined;
    let mesh: Mesh | undefined;
    if (keys !== undefined) {
      mesh = new Mesh(
        {
          self: id,
          now: () => this.clock.now(),
          neighbours: () => [...ends].filter(([, end]) => end.open).map(([peer]) => peer),
          sendFrame: (peer, frame) => this.transmit(id, peer, frame),
          sealKeyOf: (peer) => this.byId.get(peer)?.keys?.publicKey,
          problem: (code) => this.counters.problems.set(code, (this.counters.problems.get(code) ?? 0) + 1),
          deliver: (_from, _content, relayId) => this.delivered.add(toHex(relayId)),
        },
        this.nacl,
        keys,
        this.limits,
        this.counters.limits,
      );
    }
    const node: RelayNode = { id, honest, mesh, keys, ends };
    this.nodes.push(node);
    this.byId.set(id, node);
    return node;
  }

  link(a: RelayNode, b: RelayNode, latency: number): void {
    const now = this.clock.now();
    a.ends.set(b.id, { intake: new RelayIntake(now, this.limits), latency, open: true });
    b.ends.set(a.id, { intake: new RelayIntake(now, this.limits), latency, open: true });
  }

  /** Seal `content` from `from` to `to` along `route` with the real Mesh; the relay ID (hex), or undefined if it could not go. */
  send(from: RelayNode, to: PeerId, content: SealedContent, route: readonly PeerId[]): string | undefined {
    const sent = from.mesh?.send(to, content, route);
    return sent instanceof Uint8Array ? toHex(sent) : undefined;
  }

  /** Put `frame` on the link from `from` to `to`; it arrives after the link's latency, if the link still stands. */
  transmit(from: PeerId, to: PeerId, frame: Uint8Array): void {
    const end = this.byId.get(from)?.ends.get(to);
    if (end?.open !== true) return;
    this.counters.frames++;
    this.clock.schedule(end.latency, () => this.arrive(from, to, frame));
  }

  /** Links of `node` still standing. */
  openLinks(node: RelayNode): PeerId[] {
    return [...node.ends].filter(([, end]) => end.open).map(([peer]) => peer);
  }

  private arrive(from: PeerId, to: PeerId, frame: Uint8Array): void {
    const receiver = this.byId.get(to);
    const end = receiver?.ends.get(from);
    if (receiver === undefined || end?.open !== true || !receiver.honest) return;
    const parsed = parseChannelFrame(frame);
    if (!parsed.ok || parsed.value.type !== 'relay') throw new Error('the simulation carries relay frames only');
    const relay = parsed.value;
    // What PeerLink does with its intake's verdict.
    const verdict = end.intake.admit(this.clock.now(), relay.to !== to);
    this.counters.verdicts[verdict]++;
    if (verdict === 'accept') receiver.mesh?.receive(from, relay);
    else if (verdict === 'flooding') this.cut(receiver, from);
  }

  private cut(by: RelayNode, peer: PeerId): void {
    const mine = by.ends.get(peer);
    const theirs = this.byId.get(peer)?.ends.get(by.id);
    if (mine !== undefined) mine.open = false;
    if (theirs !== undefined) theirs.open = false;
    this.counters.cuts.push({ by: by.id, peer, at: this.clock.now() });
  }
}
