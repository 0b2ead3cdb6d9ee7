/**
 * The node's use of the sealed mesh (web/node/mesh.ts): starting it (loading
 * tweetnacl and this slot's seal keys, off the first connection's path),
 * routing short messages to peers we have no channel to, and checking what
 * arrives sealed for us. A signal that arrives this way goes to the node's
 * signal intake; a message is checked against its sender's signature here.
 */
import { ErrorCode } from '../../shared/errors.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import { Purpose, verifyFrom } from '../../shared/identity/signing.js';
import { MAX_CLOCK_SKEW_MS, RELAY_ID_BYTES, SIGNAL_TTL_MS } from '../../shared/limits.js';
import { routedMessageBytes, type RelayFrame, type SealedContent } from '../../shared/protocol/mesh.js';
import { payloadText } from '../../shared/protocol/channel.js';
import { loadNacl } from '../../shared/seal.js';
import { loadSealKeys } from '../local/seal-keys.js';
import type { KeyValueStore } from '../storage/store.js';
import type { NodeCore } from './core.js';
import { Mesh, type MeshCounters } from './mesh.js';
import { newLimitCounters, type LimitCounters } from './options.js';
import { DEFAULT_RELAY_LIMITS, type RelayLimits } from './relay-budget.js';

export interface MeshRoutingHost {
  readonly store: KeyValueStore;
  /** This tab's identity slot, whose seal keys are loaded. */
  readonly slot: number | undefined;
  /** Queue a frame on the channel to a neighbour. */
  sendFrame(peer: PeerId, frame: Uint8Array): void;
  sealKeyOf(peer: PeerId): Uint8Array | undefined;
  /** Sealing works: our seal key, to publish in our record. */
  started(sealKey: Uint8Array): Promise<void>;
  /** A signal sealed to us, with its sender's record if it carried one, and the way back. */
  signal(from: PeerId, signal: string, record: Uint8Array | undefined, back: PeerId[]): Promise<void>;
  /** A message sealed to us whose signature checked out, and the way back to its sender. */
  message(from: PeerId, data: string | Uint8Array, back: PeerId[]): void;
}

const NO_COUNTS: Readonly<MeshCounters> = { sent: 0, forwarded: 0, delivered: 0, dropped: 0 };

export class MeshRouting {
  private mesh: Mesh | undefined;
  private starting = false;

  constructor(
    private readonly core: NodeCore,
    private readonly host: MeshRoutingHost,
    private readonly tally: LimitCounters = newLimitCounters(),
    private readonly limits: RelayLimits = DEFAULT_RELAY_LIMITS,
  ) {}

  /** Whether sealed frames can be sent now. */
  get ready(): boolean {
    return this.mesh !== undefined;
  }

  counters(): Readonly<MeshCounters> {
    return { ...(this.mesh?.counters ?? NO_COUNTS) };
  }

  /** Whether the mesh could carry something to `peer`: sealing works, we know its seal key, and another neighbour exists. */
  canReach(peer: PeerId): boolean {
    return (
      this.mesh !== undefined &&
      this.host.sealKeyOf(peer) !== undefined &&
      this.core.connected().some((neighbour) => neighbour !== peer)
    );
  }

  /** Start sealing (once): load tweetnacl and our seal keys, then publish a record carrying the seal key. */
  start(): void {
    if (this.starting || this.core.closed()) return;
    this.starting = true;
    this.enable().catch((error: unknown) =>
      this.core.logger.warn('the mesh is unavailable: sealing could not start', { error }),
    );
  }

  /** Seal `content` to `to` along `route` (a flood without one); the relay ID, or why it cannot go. */
  send(to: PeerId, content: SealedContent, route: readonly PeerId[], id?: Uint8Array): ErrorCode | Uint8Array {
    return this.mesh?.send(to, content, route, id) ?? ErrorCode.NO_MESH_PATH;
  }

  /** Sign, seal and route a short message; false when the mesh cannot carry it. */
  async sendMessage(to: PeerId, binary: boolean, payload: Uint8Array, route: readonly PeerId[]): Promise<boolean> {
    if (this.mesh === undefined || this.host.sealKeyOf(to) === undefined || this.core.connected().length === 0)
      return false;
    const id = crypto.getRandomValues(new Uint8Array(RELAY_ID_BYTES));
    const sentAt = this.core.now();
    const self = this.core.identity.id;
    const signature = await this.core.identity.sign(
      Purpose.ROUTED,
      routedMessageBytes(self, to, id, sentAt, binary, payload),
    );
    const content: SealedContent = { kind: 'message', sentAt, binary, payload, signature };
    return this.send(to, content, route, id) instanceof Uint8Array;
  }

  /** A relay frame from neighbour `from` (within its rate). */
  receive(from: PeerId, frame: RelayFrame): void {
    if (this.mesh === undefined) {
      this.core.logger.debug('relayed frame dropped: the mesh is not ready', { from });
      return;
    }
    this.mesh.receive(from, frame);
  }

  private async enable(): Promise<void> {
    const nacl = await loadNacl();
    const keys = await loadSealKeys(nacl, this.host.store, this.host.slot, (message, error) =>
      this.core.logger.warn(message, { error }),
    );
    if (this.core.closed()) return;
    this.mesh = new Mesh(
      {
        self: this.core.identity.id,
        now: () => this.core.now(),
        neighbours: () => this.core.connected(),
        sendFrame: (peer, frame) => this.host.sendFrame(peer, frame),
        sealKeyOf: (peer) => this.host.sealKeyOf(peer),
        problem: (code, message, peer) => this.core.problem(code, message, peer),
        deliver: (from, content, id, back) => void this.open(from, content, id, back),
      },
      nacl,
      keys,
      this.limits,
      this.tally,
    );
    await this.host.started(keys.publicKey);
  }

  /** Sealed content for us from `from` (claimed: each kind checks its signature). */
  private async open(from: PeerId, content: SealedContent, id: Uint8Array, back: PeerId[]): Promise<void> {
    if (content.kind === 'signal') {
      await this.host.signal(from, content.signal, content.record, back);
      return;
    }
    const now = this.core.now();
    if (content.sentAt < now - SIGNAL_TTL_MS || content.sentAt > now + MAX_CLOCK_SKEW_MS) {
      this.core.problem(ErrorCode.SIGNAL_STALE, 'routed message too old or dated ahead', from);
      return;
    }
    const signed = routedMessageBytes(from, this.core.identity.id, id, content.sentAt, content.binary, content.payload);
    if (!(await verifyFrom(this.core.ed25519, from, Purpose.ROUTED, signed, content.signature))) {
      this.core.problem(ErrorCode.BAD_SIGNATURE, 'routed message whose signature does not verify for its sender', from);
      return;
    }
    let data: string | Uint8Array = content.payload;
    if (!content.binary) {
      const text = payloadText(content.payload);
      if (!text.ok) {
        this.core.problem(ErrorCode.BAD_SEAL, text.error.message, from);
        return;
      }
      data = text.value;
    }
    this.host.message(from, data, back);
  }
}
