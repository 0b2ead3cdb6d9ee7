/**
 * The node's side of HyParView: shared/membership decides, this wires it to
 * channels. Membership deals in bare IDs; on the wire, every peer that may
 * enter a view travels as its signed record (the joiner of a join or
 * forward-join, the samples of a shuffle), verified here before the
 * membership sees its ID and cached so we can seal to it and dial it later.
 * Messages from one neighbour are handled in order, one at a time.
 *
 * Cheap things come before signatures (issue 15, item 8): a message the
 * membership would not read from this peer now (a shuffle from a peer not in
 * the active view, say) is refused before any record in it is verified; a
 * record identical to the one we hold is not verified again; and the rest
 * draw on the neighbour's verification budget (VERIFY_RATE), past which they
 * are left out. Before, a neighbour could make a tab verify 320 records a
 * second (1.8 s of CPU per second with tweetnacl).
 */
import { bytesEqual } from '../../shared/bytes.js';
import { ErrorCode } from '../../shared/errors.js';
import { isPeerIdShaped, type PeerId } from '../../shared/identity/peer-id.js';
import { MAX_RECORDS_PER_MESSAGE } from '../../shared/limits.js';
import { Membership, type MembershipMessage, type MembershipOptions } from '../../shared/membership/hyparview.js';
import { encodeMembership, type WireMembership } from '../../shared/protocol/mesh.js';
import { checkRecordTimes, decodeRecord, verifyRecord, type SignedRecord } from '../../shared/records.js';
import type { NodeCore } from './core.js';
import { newLimitCounters, type LimitCounters } from './options.js';
import { verifyBudgets, type VerifyBudgets } from './verify-budget.js';

export interface NeighboursHost {
  ownRecord(): SignedRecord;
  /** A verified record we hold for `peer`. */
  recordOf(peer: PeerId): SignedRecord | undefined;
  /** Keep a verified record, introduced by `introducer`. */
  learn(record: SignedRecord, introducer: PeerId): void;
  sendFrame(peer: PeerId, frame: Uint8Array): void;
  /** Open a link to `peer`, signalling along `route` when it is usable. */
  connect(peer: PeerId, route: readonly PeerId[]): void;
  /** Close the link to `peer` once what is queued on it has gone. */
  disconnect(peer: PeerId): void;
  /** Whether a link to `peer` could be signalled now. */
  reachable(peer: PeerId): boolean;
  /** Close the link to `peer` for a violation. */
  cutOff(peer: PeerId, message: string): void;
  viewsChanged(): void;
}

/**
 * The one owner of the node's membership: the node asks it to join, to
 * connect, and tells it when links come and go; nothing else reaches the
 * HyParView state.
 */
export class Neighbours {
  private readonly membership: Membership<PeerId>;
  private readonly chains = new Map<PeerId, Promise<void>>();

  constructor(
    private readonly core: NodeCore,
    private readonly host: NeighboursHost,
    options: Partial<MembershipOptions>,
    private readonly defences: { readonly verify: VerifyBudgets; readonly tally: LimitCounters } = {
      verify: verifyBudgets(),
      tally: newLimitCounters(),
    },
  ) {
    this.membership = new Membership<PeerId>(
      core.identity.id,
      {
        send: (to, message) => this.send(to, message),
        connect: (peer, route) => host.connect(peer, route),
        disconnect: (peer) => host.disconnect(peer),
        reachable: (peer) => host.reachable(peer),
        problem: (from, reason, severe) => {
          if (severe) host.cutOff(from, `membership: ${reason}`);
          else core.problem(ErrorCode.PROTOCOL_VIOLATION, `membership: ${reason}`, from);
        },
        viewsChanged: () => host.viewsChanged(),
      },
      { now: () => core.now(), random: () => core.random(), isId: (value): value is PeerId => isPeerIdShaped(value) },
      options,
    );
  }

  /** Peers we keep channels to. */
  active(): PeerId[] {
    return this.membership.activeView();
  }

  /** Peers known in reserve. */
  passive(): PeerId[] {
    return this.membership.passiveView();
  }

  /** Newly learned peers, candidates for the passive view. */
  addPassive(ids: readonly PeerId[]): void {
    this.membership.addPassive(ids);
  }

  /** With an empty active view: join through these contacts, tried in turn. */
  join(contacts: readonly PeerId[]): void {
    this.membership.join(contacts);
  }

  /** The application asks for `peer` in the active view; false when there is no room just now. */
  connectTo(peer: PeerId, route: readonly PeerId[]): boolean {
    return this.membership.connectTo(peer, route);
  }

  /** Whether an offer from `peer` is wanted (room, or a request we expect). */
  acceptsInbound(peer: PeerId): boolean {
    return this.membership.acceptsInbound(peer);
  }

  /** A way through the mesh to `peer` that a membership walk found. */
  routeTo(peer: PeerId): readonly PeerId[] {
    return this.membership.routeTo(peer);
  }

  /** A confirmed channel to `peer` is up (`initiator`: we dialled it). */
  linkUp(peer: PeerId, initiator: boolean): void {
    this.membership.linkUp(peer, initiator);
  }

  /** The confirmed channel to `peer` closed. */
  linkDown(peer: PeerId): void {
    this.membership.linkDown(peer);
  }

  /** Our attempt at `peer` ended without a channel. */
  connectFailed(peer: PeerId): void {
    this.membership.connectFailed(peer);
  }

  /** The membership's periodic work (shuffles, refills). */
  tick(): void {
    this.membership.tick();
  }

  /** A membership frame from neighbour `from`: verified records in, IDs to the membership. Resolves once handled; never rejects. */
  receive(from: PeerId, wire: WireMembership): Promise<void> {
    const previous = this.chains.get(from) ?? Promise.resolve();
    const next = previous
      .then(() => this.translate(from, wire))
      .then((message) => {
        if (message !== undefined) this.membership.receive(from, message);
      })
      .catch((error: unknown) => this.core.problem(ErrorCode.PROTOCOL_VIOLATION, String(error), from))
      .finally(() => {
        if (this.chains.get(from) === next) this.chains.delete(from);
      });
    this.chains.set(from, next);
    return next;
  }

  private async translate(from: PeerId, wire: WireMembership): Promise<MembershipMessage<PeerId> | undefined> {
    if (!this.membership.reads(from, wire.type)) {
      // What the membership would refuse anyway, refused before any record in it costs a check.
      this.defences.tally.membershipUnread++;
      this.core.problem(
        ErrorCode.PROTOCOL_VIOLATION,
        `membership: ${wire.type} from a peer that may not send it now`,
        from,
      );
      return undefined;
    }
    switch (wire.type) {
      case 'join': {
        const joiner = await this.verified(from, wire.record);
        if (joiner !== from) {
          this.host.cutOff(from, 'join carries a record other than its sender’s');
          return undefined;
        }
        return { type: 'join' };
      }
      case 'forward-join': {
        const joiner = await this.verified(from, wire.joiner);
        return joiner === undefined ? undefined : { type: 'forward-join', joiner, ttl: wire.ttl, path: [...wire.path] };
      }
      case 'shuffle':
        return {
          type: 'shuffle',
          origin: wire.origin,
          ttl: wire.ttl,
          path: [...wire.path],
          sample: await this.sample(from, wire.sample),
        };
      case 'shuffle-reply':
        return { type: 'shuffle-reply', route: [...wire.route], sample: await this.sample(from, wire.sample) };
      case 'neighbour':
      case 'neighbour-reply':
      case 'disconnect':
      case 'degree':
        return wire;
    }
  }

  /**
   * Verify one introduced record; its peer ID, or undefined (counted) when it
   * fails or the neighbour's verification budget is spent. The record we hold
   * for its peer, byte for byte, is not verified again.
   */
  private async verified(from: PeerId, bytes: Uint8Array): Promise<PeerId | undefined> {
    const now = this.core.now();
    const held = this.held(bytes, now);
    if (held !== undefined) return held;
    if (!this.defences.verify.take(from, now)) {
      this.defences.tally.verifyOverBudget++;
      return undefined;
    }
    const result = await verifyRecord(this.core.ed25519, bytes, { now, network: this.core.network });
    if (!result.ok) {
      this.core.problem(result.error.code, `record in a membership message: ${result.error.message}`, from);
      return undefined;
    }
    const id = result.value.record.id;
    if (id !== this.core.identity.id) this.host.learn(result.value, from);
    return id;
  }

  /** The ID of a record we hold exactly these bytes of, still current; undefined otherwise. */
  private held(bytes: Uint8Array, now: number): PeerId | undefined {
    const decoded = decodeRecord(bytes);
    if (!decoded.ok) return undefined;
    const { id } = decoded.value.record;
    const ours = id === this.core.identity.id ? this.host.ownRecord() : this.host.recordOf(id);
    if (ours === undefined || !bytesEqual(ours.bytes, bytes) || !checkRecordTimes(ours.record, now).ok)
      return undefined;
    return id;
  }

  private async sample(from: PeerId, records: readonly Uint8Array[]): Promise<PeerId[]> {
    const ids = await Promise.all(records.slice(0, MAX_RECORDS_PER_MESSAGE).map((bytes) => this.verified(from, bytes)));
    return ids.filter((id): id is PeerId => id !== undefined);
  }

  private send(to: PeerId, message: MembershipMessage<PeerId>): void {
    const wire = this.toWire(message);
    if (wire !== undefined) this.host.sendFrame(to, encodeMembership(wire));
  }

  private toWire(message: MembershipMessage<PeerId>): WireMembership | undefined {
    switch (message.type) {
      case 'join':
        return { type: 'join', record: this.host.ownRecord().bytes };
      case 'forward-join': {
        const joiner = this.recordBytes(message.joiner);
        return joiner === undefined
          ? undefined
          : { type: 'forward-join', joiner, ttl: message.ttl, path: message.path };
      }
      case 'shuffle':
        return { ...message, sample: this.sampleBytes(message.sample) };
      case 'shuffle-reply':
        return { ...message, sample: this.sampleBytes(message.sample) };
      case 'neighbour':
      case 'neighbour-reply':
      case 'disconnect':
      case 'degree':
        return message;
    }
  }

  private recordBytes(peer: PeerId): Uint8Array | undefined {
    return peer === this.core.identity.id ? this.host.ownRecord().bytes : this.host.recordOf(peer)?.bytes;
  }

  /** Records for a sample; peers whose record we no longer hold are left out. */
  private sampleBytes(sample: readonly PeerId[]): Uint8Array[] {
    return sample.map((peer) => this.recordBytes(peer)).filter((bytes): bytes is Uint8Array => bytes !== undefined);
  }
}
