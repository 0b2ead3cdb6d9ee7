/**
 * How one signaling instance shares presence and relays with others. The hub
 * always looks in its own registry first; a Federation is what it asks about
 * peers it does not hold. Without `--redis` the federation is LOCAL_ONLY and
 * the server behaves exactly as a single instance; with it, RedisFederation
 * (redis-federation.ts) makes any number of instances act as one server.
 */
import type { PeerId } from '../shared/identity/peer-id.js';

/** A registered local peer as the federation sees it. */
export interface FederatedPeer {
  readonly id: PeerId;
  readonly network: string;
  readonly recordText: string;
  readonly recordExpiresAt: number;
  /** Set by the federation when the peer joins: names this registration across instances. */
  presenceToken: string;
}

/** What a federation needs from its instance's hub. */
export interface FederationHost {
  /** Hand a frame relayed from another instance to a local peer. */
  deliverLocal(network: string, to: string, frame: string): 'delivered' | 'unknown' | 'busy';
  /** The peer registered again on another instance (`token`): close the local registration if it is older. */
  replacedElsewhere(network: string, id: string, token: string): void;
  /** Every registered local peer, to re-publish presence. */
  registeredPeers(): Iterable<FederatedPeer>;
}

export interface Federation {
  /**
   * Resolves once connected to the others, or after a bounded wait if they
   * cannot be reached (the instance then starts on its own and joins later).
   */
  ready(): Promise<void>;
  /**
   * A local peer is registering (verified). Resolves once its presence is
   * published (or could not be: it never rejects), so a tab that has its
   * welcome is reachable from every instance.
   */
  join(peer: FederatedPeer): Promise<void>;
  /** A local peer's record changed. */
  update(peer: FederatedPeer): void;
  /** A local peer left (its connection closed or was replaced). */
  leave(peer: FederatedPeer): void;
  /**
   * Relay `frame` (a delivery built by encodeSignalDelivery) to a peer held by
   * another instance. Resolves true once handed to that instance, false when
   * no live instance holds the peer or the federation is unavailable.
   */
  relay(network: string, to: PeerId, frame: string): Promise<boolean>;
  /**
   * Up to `k` records of live peers of `network` across all instances,
   * leaving out `exclude`; undefined when unavailable (the hub then samples
   * its own registry).
   */
  sample(network: string, k: number, exclude: PeerId | undefined): Promise<string[] | undefined>;
  /** Stop: leave nothing running. Presence of peers still registered expires on its own. */
  close(): Promise<void>;
}

/** No other instances: holds no peers, relays nothing, samples nothing (the hub samples its own registry). */
export const LOCAL_ONLY: Federation = {
  ready: () => Promise.resolve(),
  join: () => Promise.resolve(),
  update() {},
  leave() {},
  relay: () => Promise.resolve(false),
  sample: () => Promise.resolve(undefined),
  close: () => Promise.resolve(),
};
