/**
 * Registered peers by network, then by ID. Each network also keeps its peers
 * in an array (swap-remove on leave) so a random sample costs O(sample size),
 * not O(peers). The registry knows nothing of sockets: it holds entries.
 */
import type { PeerId } from '../shared/identity/peer-id.js';

export interface RegistryEntry {
  readonly id: PeerId;
  readonly network: string;
  /** The peer's signed record, base64url, as handed out in samples. */
  recordText: string;
  recordSeq: number;
  recordExpiresAt: number;
  /** Position in its network's list; maintained by the registry. */
  slot: number;
}

class Network<E extends RegistryEntry> {
  readonly byId = new Map<PeerId, E>();
  readonly list: E[] = [];

  constructor(readonly name: string) {}

  add(entry: E): void {
    entry.slot = this.list.length;
    this.list.push(entry);
    this.byId.set(entry.id, entry);
  }

  remove(entry: E): void {
    const last = this.list.pop();
    if (last === undefined) return;
    if (last !== entry) {
      this.list[entry.slot] = last;
      last.slot = entry.slot;
    }
    entry.slot = -1;
    this.byId.delete(entry.id);
  }
}

export class Registry<E extends RegistryEntry> {
  private readonly networks = new Map<string, Network<E>>();
  private count = 0;

  constructor(private readonly random: () => number = Math.random) {}

  get size(): number {
    return this.count;
  }

  get networkCount(): number {
    return this.networks.size;
  }

  /** `network` as this registry holds it when it holds peers of it (one string shared by them all), else `network`. */
  networkName(network: string): string {
    return this.networks.get(network)?.name ?? network;
  }

  get(network: string, id: PeerId): E | undefined {
    return this.networks.get(network)?.byId.get(id);
  }

  /** Register `entry`; returns the entry it displaced (same network and ID), if any. */
  add(entry: E): E | undefined {
    let net = this.networks.get(entry.network);
    if (net === undefined) {
      net = new Network<E>(entry.network);
      this.networks.set(entry.network, net);
    }
    const previous = net.byId.get(entry.id);
    if (previous !== undefined) {
      net.remove(previous);
      this.count--;
    }
    net.add(entry);
    this.count++;
    return previous;
  }

  /** Remove `entry` if it is still the registered one; true when it was. */
  remove(entry: E): boolean {
    const net = this.networks.get(entry.network);
    if (net === undefined || net.byId.get(entry.id) !== entry) return false;
    net.remove(entry);
    this.count--;
    if (net.list.length === 0) this.networks.delete(entry.network);
    return true;
  }

  /**
   * Up to `k` distinct random entries of `network`, leaving out `exclude` and
   * entries whose record has expired at `now`. O(k) expected time.
   */
  sample(network: string, k: number, exclude: E | undefined, now: number): E[] {
    const net = this.networks.get(network);
    if (net === undefined || k <= 0) return [];
    const list = net.list;
    const live = (e: E): boolean => e !== exclude && e.recordExpiresAt > now;
    if (list.length <= k + 1) return list.filter(live);
    const picked = new Set<number>();
    const out: E[] = [];
    // Bounded tries: expired entries are rare (peers renew), so 4k suffices.
    for (let tries = 0; out.length < k && tries < 4 * k; tries++) {
      const i = Math.floor(this.random() * list.length);
      if (picked.has(i)) continue;
      picked.add(i);
      const entry = list[i];
      if (entry !== undefined && live(entry)) out.push(entry);
    }
    return out;
  }

  /** Registered peers per network, largest first (for metrics). */
  networkSizes(): [string, number][] {
    return [...this.networks]
      .map(([name, net]): [string, number] => [name, net.list.length])
      .sort((a, b) => b[1] - a[1]);
  }
}
