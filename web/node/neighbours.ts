/**
 * The node's side of HyParView: shared/membership decides, this wires it to
 * channels. Membership deals in bare IDs; on the wire, every peer that may
 * enter a view travels as its signed record (the joiner of a join or
 * forward-join, the samples of a shuffle), verified here before the
 * membership sees its ID and cached so we can seal to it and dial it later.
 * Messages from one neighbour are handled in order, one at a time.
 */
import { ErrorCode } from '../../shared/errors.js';
import type { Ed25519 } from '../../shared/identity/ed25519.js';
import { isPeerIdShaped, type PeerId } from '../../shared/identity/peer-id.js';
import { MAX_RECORDS_PER_MESSAGE } from '../../shared/limits.js';
import { Membership, type MembershipMessage, type MembershipOptions } from '../../shared/membership/hyparview.js';
import { encodeMembership, type WireMembership } from '../../shared/protocol/mesh.js';
import { verifyRecord, type SignedRecord } from '../../shared/records.js';

export interface NeighboursHost {
  readonly self: PeerId;
  readonly network: string;
  readonly ed25519: Ed25519;
  now(): number;
  random(): number;
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
  problem(code: ErrorCode, message: string, peer: PeerId): void;
  /** Close the link to `peer` for a violation. */
  cutOff(peer: PeerId, message: string): void;
  viewsChanged(): void;
}

export class Neighbours {
  readonly membership: Membership<PeerId>;
  private readonly chains = new Map<PeerId, Promise<void>>();

  constructor(
    private readonly host: NeighboursHost,
    options: Partial<MembershipOptions>,
  ) {
    this.membership = new Membership<PeerId>(
      host.self,
      {
        send: (to, message) => this.send(to, message),
        connect: (peer, route) => host.connect(peer, route),
        disconnect: (peer) => host.disconnect(peer),
        reachable: (peer) => host.reachable(peer),
        problem: (from, reason, severe) => {
          if (severe) host.cutOff(from, `membership: ${reason}`);
          else host.problem(ErrorCode.PROTOCOL_VIOLATION, `membership: ${reason}`, from);
        },
        viewsChanged: () => host.viewsChanged(),
      },
      { now: () => host.now(), random: () => host.random(), isId: (value): value is PeerId => isPeerIdShaped(value) },
      options,
    );
  }

  /** A membership frame from neighbour `from`: verified records in, IDs to the membership. */
  receive(from: PeerId, wire: WireMembership): void {
    const previous = this.chains.get(from) ?? Promise.resolve();
    const next = previous
      .then(() => this.translate(from, wire))
      .then((message) => {
        if (message !== undefined) this.membership.receive(from, message);
      })
      .catch((error: unknown) => this.host.problem(ErrorCode.PROTOCOL_VIOLATION, String(error), from))
      .finally(() => {
        if (this.chains.get(from) === next) this.chains.delete(from);
      });
    this.chains.set(from, next);
  }

  private async translate(from: PeerId, wire: WireMembership): Promise<MembershipMessage<PeerId> | undefined> {
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
      case 'neighbor':
      case 'neighbor-reply':
      case 'disconnect':
      case 'degree':
        return wire;
    }
  }

  /** Verify one introduced record; its peer ID, or undefined (counted) when it fails. */
  private async verified(from: PeerId, bytes: Uint8Array): Promise<PeerId | undefined> {
    const result = await verifyRecord(this.host.ed25519, bytes, { now: this.host.now(), network: this.host.network });
    if (!result.ok) {
      this.host.problem(result.error.code, `record in a membership message: ${result.error.message}`, from);
      return undefined;
    }
    const id = result.value.record.id;
    if (id !== this.host.self) this.host.learn(result.value, from);
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
      case 'neighbor':
      case 'neighbor-reply':
      case 'disconnect':
      case 'degree':
        return message;
    }
  }

  private recordBytes(peer: PeerId): Uint8Array | undefined {
    return peer === this.host.self ? this.host.ownRecord().bytes : this.host.recordOf(peer)?.bytes;
  }

  /** Records for a sample; peers whose record we no longer hold are left out. */
  private sampleBytes(sample: readonly PeerId[]): Uint8Array[] {
    return sample.map((peer) => this.recordBytes(peer)).filter((bytes): bytes is Uint8Array => bytes !== undefined);
  }
}
