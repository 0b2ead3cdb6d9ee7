/**
 * A plain object with the part of TabmeshNode that tabmesh-peer's log and
 * metrics read: figures a test sets, and events it dispatches. No node runs.
 */
import { peerIdFromPublicKey, type PeerId } from '../../shared/identity/peer-id.js';
import type { MeshCounters } from '../../web/node/mesh.js';
import {
  newLimitCounters,
  type KnownPeer,
  type LimitCounters,
  type LinkInfo,
  type NodeEvents,
  type NodeStatus,
} from '../../web/node/options.js';

/** A well-formed peer ID for `n` (its key is 32 bytes of n; nothing is signed with it). */
export function stubPeerId(n: number): PeerId {
  return peerIdFromPublicKey(new Uint8Array(32).fill(n));
}

export class PeerNodeStub extends EventTarget {
  readonly id = stubPeerId(1);
  readonly network = 'room1';
  status: NodeStatus = {
    signaling: 'connecting',
    signalingUrl: 'ws://127.0.0.1:8787/ws',
    storage: 'memory',
    storageReason: undefined,
    crypto: 'node:crypto',
    closed: false,
  };
  open: PeerId[] = [];
  linkList: LinkInfo[] = [];
  views: { active: PeerId[]; passive: PeerId[] } = { active: [], passive: [] };
  known: KnownPeer[] = [];
  problemCounts: Record<string, number> = {};
  mesh: MeshCounters = { sent: 0, forwarded: 0, delivered: 0, dropped: 0 };
  limits: LimitCounters = newLimitCounters();
  /** How many times close() was called, and what it returns. */
  closeCalls = 0;
  closing: Promise<void> = Promise.resolve();

  connections(): PeerId[] {
    return [...this.open];
  }
  links(): LinkInfo[] {
    return [...this.linkList];
  }
  neighbourhood(): { readonly active: PeerId[]; readonly passive: PeerId[] } {
    return { active: [...this.views.active], passive: [...this.views.passive] };
  }
  knownPeers(): KnownPeer[] {
    return [...this.known];
  }
  problems(): Readonly<Record<string, number>> {
    return { ...this.problemCounts };
  }
  meshStats(): Readonly<MeshCounters> {
    return { ...this.mesh };
  }
  limitStats(): Readonly<LimitCounters> {
    return { ...this.limits };
  }

  close(): Promise<void> {
    this.closeCalls += 1;
    return this.closing;
  }

  /** Dispatch one of the node's events, as the node would. */
  emit<K extends keyof NodeEvents>(type: K, detail: NodeEvents[K]['detail']): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Change the signaling state and dispatch `status`. */
  setSignaling(signaling: NodeStatus['signaling']): void {
    this.status = { ...this.status, signaling };
    this.emit('status', this.status);
  }
}

/** A link in `state`, for `links()`. */
export function stubLink(peer: PeerId, state: string): LinkInfo {
  return {
    peer,
    state,
    initiator: true,
    bytesSent: 0,
    bytesReceived: 0,
    connectedAt: undefined,
    rttMs: undefined,
    path: undefined,
    via: undefined,
    queuedBytes: 0,
  };
}
