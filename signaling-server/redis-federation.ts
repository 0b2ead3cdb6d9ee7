/**
 * Presence and relays across signaling instances through Redis (ioredis).
 *
 * - Presence: `tabmesh:<network>:peer:<id>` holds the owning registration's
 *   token (`<instanceId>.<n>`), the record's expiry and the record, with a
 *   TTL of presenceTtlMs that every instance refreshes for its own peers each
 *   presenceRefreshMs. A sorted set per network (`tabmesh:<network>:peers`,
 *   scored by presence expiry) gives samples in O(sample) with ZRANDMEMBER.
 *   An instance that dies stops refreshing: its peers' keys expire within
 *   presenceTtlMs and the set entries are pruned by the next refresh of any
 *   instance holding peers of that network.
 * - Relays: a peer on another instance is found and published to that
 *   instance's channel in one Lua script (one round trip). Each message
 *   carries its origin instance and a sequence number increasing per origin;
 *   pub/sub keeps one publisher's order, so anything not newer than the last
 *   seen from that origin is a duplicate and is dropped. The receiver hands
 *   the frame only to the peer of that exact network and ID registered there.
 * - Outage: commands fail at once while Redis is away (no offline queue);
 *   the hub then serves its own peers alone. One log line and
 *   `tabmesh_redis_up 0` mark it; when Redis returns, the instance
 *   re-publishes every local peer's presence at once and says so.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { PeerId } from '../shared/identity/peer-id.js';
import { RecentMap } from '../shared/recent-map.js';
import {
  encodePresence,
  encodeReplacedMessage,
  encodeSignalMessage,
  instanceChannel,
  networkIndexKey,
  parseInstanceMessage,
  parsePresence,
  presenceKey,
} from './cluster-wire.js';
import type { FederatedPeer, Federation, FederationHost } from './federation.js';
import type { Logger } from './logger.js';
import type { FederationMetrics } from './metrics.js';

/** After Redis returns, checks (this far apart, this many) that our subscription is back before presence is re-published. */
const RESUBSCRIBE_CHECK_MS = 50;
const RESUBSCRIBE_CHECKS = 40;
/** Longest wait between reconnection attempts to Redis (ioredis retries forever, backing off to this). */
export const REDIS_RETRY_MAX_MS = 2_000;
/** First wait between reconnection attempts; doubles per attempt up to REDIS_RETRY_MAX_MS. */
export const REDIS_RETRY_BASE_MS = 100;
/**
 * Origin instances whose last sequence number we remember for deduplication.
 * Instances get a new ID per process, so after many restarts the oldest are
 * forgotten (a forgotten origin's messages are accepted afresh; its process
 * is long gone).
 */
export const MAX_TRACKED_INSTANCES = 1_024;
/** Presence refreshes sent in one pipeline, so a large instance never builds one huge reply. */
export const REFRESH_BATCH = 1_000;

export interface RedisFederationConfig {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS. */
  readonly url: string;
  readonly presenceTtlMs: number;
  readonly presenceRefreshMs: number;
  readonly commandTimeoutMs: number;
}

export interface RedisFederationDeps {
  readonly host: FederationHost;
  readonly logger: Logger;
  readonly metrics: FederationMetrics;
  readonly now: () => number;
}

/**
 * Look the recipient up and publish to its instance, atomically.
 * KEYS[1] presence key; ARGV[1] our instance ID, ARGV[2] the message.
 * Returns receivers (0: the owning instance is gone), -1 no presence, -2 ours.
 */
const RELAY_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if not v then return -1 end
local owner = string.match(v, '^(%x+)%.')
if not owner or owner == ARGV[1] then return -2 end
return redis.call('PUBLISH', 'tabmesh:instance:' .. owner, ARGV[2])
`;

/** Delete a presence only if it is still this registration's. KEYS: presence, index; ARGV: token, id. */
const LEAVE_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. ' ' then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  return 1
end
return 0
`;

type Script = (...args: (string | number)[]) => Promise<unknown>;

export class RedisFederation implements Federation {
  readonly instanceId = randomBytes(16).toString('hex');
  private readonly cmd: Redis;
  private readonly sub: Redis;
  private readonly relayScript: Script;
  private readonly leaveScript: Script;
  /** Last sequence number heard per origin instance, least recently heard first. */
  private readonly lastSeq = new RecentMap<string, number>(MAX_TRACKED_INSTANCES);
  private sessionCounter = 0;
  private seq = 0;
  /** undefined until the first connection attempt settles. */
  private up: boolean | undefined;
  private downSince = 0;
  private readonly timer: NodeJS.Timeout;
  /** Settles once this instance listens on its channel (or failed to). */
  private readonly subscribed: Promise<void>;
  private refreshing: Promise<void> | undefined;
  /** Set when Redis comes (back): the next completed refresh says so in the log. */
  private announce = false;
  private closed = false;

  constructor(
    private readonly config: RedisFederationConfig,
    private readonly deps: RedisFederationDeps,
  ) {
    const retryStrategy = (times: number): number =>
      Math.min(REDIS_RETRY_BASE_MS * 2 ** Math.min(times, 10), REDIS_RETRY_MAX_MS);
    this.cmd = new Redis(config.url, {
      // Fail at once while Redis is away: the hub falls back to local service.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: config.commandTimeoutMs,
      enableAutoPipelining: true,
      retryStrategy,
      connectionName: `tabmesh-${this.instanceId}`,
    });
    this.cmd.defineCommand('tabmeshRelay', { numberOfKeys: 1, lua: RELAY_SCRIPT });
    this.cmd.defineCommand('tabmeshLeave', { numberOfKeys: 2, lua: LEAVE_SCRIPT });
    // defineCommand adds methods ioredis's types cannot know of.
    const scripts = this.cmd as unknown as Record<string, Script | undefined>;
    const script = (name: string): Script => {
      const fn = scripts[name];
      if (fn === undefined) throw new Error(`ioredis did not define ${name}`);
      return fn.bind(this.cmd);
    };
    this.relayScript = script('tabmeshRelay');
    this.leaveScript = script('tabmeshLeave');
    // A subscriber connection of its own (Redis requires it); it queues the
    // SUBSCRIBE until connected and subscribes again after every reconnect.
    this.sub = new Redis(config.url, {
      retryStrategy,
      autoResubscribe: true,
      maxRetriesPerRequest: null,
      connectionName: `tabmesh-${this.instanceId}-sub`,
    });
    this.cmd.on('ready', () => this.changed(true));
    this.cmd.on('close', () => this.changed(false));
    this.cmd.on('error', (error: Error) => this.failed('command connection', error));
    this.sub.on('error', (error: Error) => this.failed('subscriber connection', error));
    this.sub.on('message', (_channel: string, message: string) => this.received(message));
    this.subscribed = this.sub.subscribe(instanceChannel(this.instanceId)).then(
      () => undefined,
      (error: unknown) => this.failed('subscribe', error),
    );
    this.timer = setInterval(() => void this.refresh(), config.presenceRefreshMs);
    this.timer.unref();
  }

  ready(): Promise<void> {
    // Connected and listening on our channel, or the bounded wait is over.
    const connected = new Promise<void>((resolve) => {
      if (this.up !== undefined) resolve();
      this.cmd.once('ready', () => resolve());
      this.cmd.once('error', () => resolve());
    });
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.config.commandTimeoutMs);
    });
    return Promise.race([Promise.all([connected, this.subscribed]).then(() => undefined), bound]).finally(() =>
      clearTimeout(timer),
    );
  }

  /** True while the command connection to Redis is up. */
  get connected(): boolean {
    return this.up === true;
  }

  private changed(up: boolean): void {
    if (this.closed || this.up === up) return;
    const was = this.up;
    this.up = up;
    this.deps.metrics.setUp(up);
    if (up) {
      const outage = was === false ? this.deps.now() - this.downSince : 0;
      this.deps.logger.info(
        { instance: this.instanceId, outageMs: outage },
        was === false ? 'redis reachable again; re-publishing local presence' : 'redis connected',
      );
      this.announce = true;
      void this.refresh().then(() => this.refresh());
    } else {
      this.downSince = this.deps.now();
      this.deps.logger.warn(
        { instance: this.instanceId },
        'redis unreachable; serving this instance’s peers only until it returns',
      );
    }
  }

  private failed(what: string, error: unknown): void {
    this.deps.metrics.errors.inc();
    this.deps.logger.debug({ err: error, what }, 'redis error');
    // A first connection that never succeeds emits no 'close' with up set: say so once.
    if (this.up === undefined && what === 'command connection') this.changed(false);
  }

  private token(): string {
    this.sessionCounter++;
    return `${this.instanceId}.${this.sessionCounter}`;
  }

  async join(peer: FederatedPeer): Promise<void> {
    peer.presenceToken = this.token();
    if (!this.connected) return; // published by the refresh when Redis returns
    const { network, id } = peer;
    const ttl = this.config.presenceTtlMs;
    try {
      const [previous] = await Promise.all([
        this.cmd.set(presenceKey(network, id), this.value(peer), 'PX', ttl, 'GET'),
        this.cmd.zadd(networkIndexKey(network), this.deps.now() + ttl, id),
      ]);
      if (previous === null) return;
      const parsed = parsePresence(previous);
      if (!parsed.ok || parsed.value.instance === this.instanceId) return;
      // Registered here while another instance still holds it: tell that one.
      const message = encodeReplacedMessage(this.instanceId, ++this.seq, network, id, peer.presenceToken);
      this.cmd.publish(instanceChannel(parsed.value.instance), message).catch((error: unknown) => {
        this.failed('join', error);
      });
    } catch (error) {
      this.failed('join', error);
    }
  }

  update(peer: FederatedPeer): void {
    if (!this.connected || peer.presenceToken === '') return;
    this.cmd
      .set(presenceKey(peer.network, peer.id), this.value(peer), 'PX', this.config.presenceTtlMs)
      .catch((error: unknown) => this.failed('update', error));
  }

  leave(peer: FederatedPeer): void {
    const token = peer.presenceToken;
    // Cleared first, so a refresh under way never publishes this peer again.
    peer.presenceToken = '';
    if (!this.connected || token === '') return; // its presence expires on its own
    this.leaveScript(presenceKey(peer.network, peer.id), networkIndexKey(peer.network), token, peer.id).catch(
      (error: unknown) => this.failed('leave', error),
    );
  }

  async relay(network: string, to: PeerId, frame: string): Promise<boolean> {
    if (!this.connected) return false;
    const message = encodeSignalMessage(this.instanceId, ++this.seq, network, to, frame);
    try {
      const receivers = await this.relayScript(presenceKey(network, to), this.instanceId, message);
      const sent = typeof receivers === 'number' && receivers > 0;
      this.deps.metrics.signal('out', sent ? 'sent' : receivers === 0 ? 'instance_gone' : 'unknown');
      return sent;
    } catch (error) {
      this.failed('relay', error);
      this.deps.metrics.signal('out', 'error');
      return false;
    }
  }

  async sample(network: string, k: number, exclude: PeerId | undefined): Promise<string[] | undefined> {
    if (!this.connected || k <= 0) return undefined;
    try {
      const ids = (await this.cmd.zrandmember(networkIndexKey(network), k + 1)).filter((id) => id !== exclude);
      if (ids.length === 0) return [];
      const values = await this.cmd.mget(ids.slice(0, k).map((id) => presenceKey(network, id)));
      const now = this.deps.now();
      const out: string[] = [];
      for (const value of values) {
        if (value === null) continue; // expired presence; pruned on the next refresh
        const parsed = parsePresence(value);
        if (parsed.ok && parsed.value.recordExpiresAt > now) out.push(parsed.value.recordText);
      }
      return out;
    } catch (error) {
      this.failed('sample', error);
      return undefined;
    }
  }

  private value(peer: FederatedPeer): string {
    return encodePresence(peer.presenceToken, peer.recordExpiresAt, peer.recordText);
  }

  private received(text: string): void {
    const parsed = parseInstanceMessage(text);
    if (!parsed.ok) {
      this.deps.metrics.signal('in', 'malformed');
      this.deps.logger.warn({ reason: parsed.reason }, 'malformed message on the instance channel; dropped');
      return;
    }
    const message = parsed.value;
    const last = this.lastSeq.get(message.origin);
    if (last !== undefined && message.seq <= last) {
      this.deps.metrics.signal('in', 'duplicate');
      return;
    }
    this.lastSeq.set(message.origin, message.seq);
    if (message.kind === 'signal') {
      this.deps.metrics.signal('in', this.deps.host.deliverLocal(message.network, message.to, message.frame));
    } else {
      this.deps.host.replacedElsewhere(message.network, message.id, message.token);
    }
  }

  /** Renew every local peer's presence; re-create what Redis lost; prune expired index entries. */
  private refresh(): Promise<void> {
    this.refreshing ??= this.refreshAll().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /**
   * Whether our subscriber connection is subscribed to our channel again
   * (after a reconnect it re-subscribes on its own, a moment after the
   * command connection is back): until it is, relays to us would be lost.
   */
  private async listening(): Promise<boolean> {
    const [, count] = (await this.cmd.pubsub('NUMSUB', instanceChannel(this.instanceId))) as [string, unknown];
    return Number(count) > 0;
  }

  private async refreshAll(): Promise<void> {
    if (!this.connected) return;
    if (this.announce) {
      // Back after an outage: presence first when we can hear relays again.
      for (let tries = 0; !(await this.listening().catch(() => false)); tries++) {
        if (tries >= RESUBSCRIBE_CHECKS || this.closed) return; // the next refresh tries again
        await new Promise((resolve) => setTimeout(resolve, RESUBSCRIBE_CHECK_MS));
      }
    }
    const ttl = this.config.presenceTtlMs;
    const networks = new Set<string>();
    let count = 0;
    let batch: FederatedPeer[] = [];
    const flush = async (): Promise<void> => {
      const peers = batch;
      batch = [];
      const pipeline = this.cmd.pipeline();
      const score = this.deps.now() + ttl;
      for (const peer of peers) {
        pipeline.pexpire(presenceKey(peer.network, peer.id), ttl);
        pipeline.zadd(networkIndexKey(peer.network), score, peer.id);
      }
      const results = (await pipeline.exec()) ?? [];
      // PEXPIRE answers 0 where the key is gone (Redis restarted, or it
      // expired during an outage): publish those peers again.
      const lost = peers.filter((peer, i) => results[2 * i]?.[1] === 0 && peer.presenceToken !== '');
      if (lost.length === 0) return;
      const again = this.cmd.pipeline();
      for (const peer of lost) again.set(presenceKey(peer.network, peer.id), this.value(peer), 'PX', ttl, 'NX');
      await again.exec();
    };
    try {
      for (const peer of [...this.deps.host.registeredPeers()]) {
        if (peer.presenceToken === '') continue; // left since
        count++;
        networks.add(peer.network);
        batch.push(peer);
        if (batch.length >= REFRESH_BATCH) await flush();
      }
      if (batch.length > 0) await flush();
      const now = this.deps.now();
      const prune = this.cmd.pipeline();
      for (const network of networks) prune.zremrangebyscore(networkIndexKey(network), '-inf', now);
      await prune.exec();
      if (this.announce) {
        this.announce = false;
        this.deps.logger.info({ instance: this.instanceId, peers: count }, 'presence published');
      }
    } catch (error) {
      this.failed('refresh', error);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.refreshing;
    // quit() waits for replies to what is in flight (the last leaves); disconnect if Redis is away.
    await Promise.all(
      [this.cmd, this.sub].map((client) =>
        client.status === 'ready' ? client.quit().then(() => undefined) : Promise.resolve(client.disconnect()),
      ),
    );
  }
}
