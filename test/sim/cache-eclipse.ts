/**
 * The peer-cache eclipse of issue 15, item 7, on the real PeerBook and
 * PeerCache: a victim tab that has held long connections with honest peers
 * (who told it of others) and has a server's sample, then an attacker with
 * unlimited keys making `connections` connections, one after another, each
 * from a fresh key, each lasting `connectionMs` and introducing
 * `recordsPerConnection` records of further fresh keys. Time is virtual;
 * the book's maintenance runs every MAINTENANCE_INTERVAL_MS of it, and each
 * round the reachability test the cache asks for is answered as the
 * Dialler's dial would be: every peer, honest or the attacker's, is online.
 * Deterministic for a given seed (keys, salt and randomness come from it).
 *
 * Used by the unit test (a smaller run that asserts the goal) and the
 * adversary bench (test/bench/adversary/cache-eclipse.ts).
 */
import type { PeerId } from '../../shared/identity/peer-id.js';
import { identityFromKeyPair, type Identity } from '../../shared/identity/signing.js';
import { PEER_CACHE_SALT_BYTES } from '../../shared/limits.js';
import { PeerCache } from '../../shared/peer-cache.js';
import { signRecord, type SignedRecord } from '../../shared/records.js';
import { MAINTENANCE_INTERVAL_MS } from '../../web/node/options.js';
import { PeerBook, signOwnRecord, type CacheStats, type PeerBookHost } from '../../web/node/peer-book.js';
import { memoryStore } from '../../web/storage/store.js';
import { ed25519 } from '../helpers/client.js';
import { recordingCore } from '../helpers/node-core.js';
import { seededRandom } from './prng.js';

export interface EclipseScenario {
  /** Honest peers the victim held a long connection with (each two minutes) before the attack. */
  readonly honestNeighbours: number;
  /** Honest records each of them introduced once tried. */
  readonly introducedEach: number;
  /** Records in the server's sample (at most MAX_SAMPLE_SIZE). */
  readonly sample: number;
  /** The attacker's connections, one after another, each from a fresh key. */
  readonly connections: number;
  /** How long each lasts. */
  readonly connectionMs: number;
  /** Fresh-key records each connection introduces besides its own. */
  readonly recordsPerConnection: number;
  readonly seed: number;
  /**
   * The defences switched off, as the cache was before issue 15: a
   * connection's peer is tried however short it was, a tried incumbent is
   * evicted untested, and the server's sample has no reserved share.
   */
  readonly defenceOff?: boolean;
}

export interface EclipseOutcome {
  /** Honest peers in the tried table before the attack, and after it. */
  readonly honestTried: number;
  readonly honestTriedLeft: number;
  /** Records in the server's sample; how many were cached before the attack, and after it. */
  readonly sample: number;
  readonly sampleBefore: number;
  readonly sampleLeft: number;
  /** Of the server's next sample, offered after the attack: how many it kept. */
  readonly nextSampleKept: number;
  /** Honest heard-of records (introduced by tried neighbours) before the attack, and after it. */
  readonly honestHeard: number;
  readonly honestHeardLeft: number;
  /** Entries of the attacker's keys after the attack, and how many of them tried. */
  readonly attackerEntries: number;
  readonly attackerTried: number;
  readonly stats: CacheStats;
}

const NETWORK = 'eclipse';
const START = 1_800_000_000_000;
/** Long enough that nothing expires during the longest run. */
const LIFETIME_MS = 24 * 3_600_000;
const HONEST_CONNECTION_MS = 120_000;
const SERVER = 'signaling:wss://signal.example.com/ws';

const ignore = (): void => undefined;

export async function simulateCacheEclipse(scenario: EclipseScenario): Promise<EclipseOutcome> {
  const random = seededRandom(scenario.seed);
  let keys = 0;
  const key = async (): Promise<Identity> => {
    const seed = new Uint8Array(32);
    const view = new DataView(seed.buffer);
    view.setUint32(0, scenario.seed);
    view.setUint32(4, ++keys);
    return identityFromKeyPair(await ed25519.fromSeed(seed));
  };
  const self = await key();
  const { core, state } = recordingCore(self, { clock: START, network: NETWORK });
  const salt = Uint8Array.from({ length: PEER_CACHE_SALT_BYTES }, () => Math.floor(random() * 256));
  const off = scenario.defenceOff === true;
  const cache = new PeerCache(salt, off ? { serverShare: 0, testBeforeEvict: false } : {});
  const host: PeerBookHost = {
    addPassive: ignore,
    learnEndpoints: ignore,
    recordRenewed: ignore,
    sendFrame: ignore,
    changed: ignore,
  };
  const settings = { urls: ['wss://signal.example.com/ws'], name: undefined };
  const own = await signOwnRecord(self, NETWORK, settings, undefined, START, undefined);
  const book = new PeerBook(core, host, cache, memoryStore(), settings, own, off ? { minTriedAgeMs: 0 } : {});

  const record = async (identity: Identity): Promise<SignedRecord> =>
    signRecord(identity, {
      seq: 1,
      network: NETWORK,
      now: state.clock,
      lifetimeMs: LIFETIME_MS,
      endpoints: [`wss://${identity.id.slice(3, 11)}.example.net/ws`],
    });
  const records = async (count: number): Promise<SignedRecord[]> =>
    Promise.all(Array.from({ length: count }, async () => record(await key())));
  /** Virtual time passes in maintenance rounds; each round answers the due reachability test. */
  const wait = async (ms: number): Promise<void> => {
    for (let left = ms; left > 0; left -= MAINTENANCE_INTERVAL_MS) {
      state.clock += Math.min(left, MAINTENANCE_INTERVAL_MS);
      await book.maintain();
      const due = book.dueReachabilityTest();
      if (due !== undefined) {
        book.testStarted(due);
        book.reachable(due);
      }
    }
  };
  /** One connection: reached, the peer's records over it, `ms` of time, closed. */
  const connection = async (identity: Identity, introduced: readonly SignedRecord[], ms: number): Promise<void> => {
    state.connected.push(identity.id);
    book.reached(identity.id);
    await book.intake([(await record(identity)).text, ...introduced.map((r) => r.text)], {
      introducer: identity.id,
      label: 'records from a peer',
      from: identity.id,
      connectedPeer: (id) => id === identity.id,
    });
    await wait(ms);
    state.connected = state.connected.filter((id) => id !== identity.id);
    book.lost(identity.id);
  };
  const held = (ids: readonly PeerId[], table?: string): number =>
    ids.filter((id) => {
      const entry = cache.get(id);
      return entry !== undefined && (table === undefined || entry.table === table);
    }).length;

  // Before the attack: the server's sample, then honest neighbours, each
  // kept two minutes and introducing others once tried.
  const sample = await records(scenario.sample);
  await book.intake(
    sample.map((r) => r.text),
    { introducer: SERVER, label: 'welcome' },
  );
  const neighbours: PeerId[] = [];
  const heard: PeerId[] = [];
  for (let i = 0; i < scenario.honestNeighbours; i++) {
    const neighbour = await key();
    neighbours.push(neighbour.id);
    await connection(neighbour, [], HONEST_CONNECTION_MS);
    const introduced = await records(scenario.introducedEach);
    heard.push(...introduced.map((r) => r.record.id));
    await book.intake(
      introduced.map((r) => r.text),
      { introducer: neighbour.id, label: 'records from a peer', from: neighbour.id },
    );
  }
  const triedBefore = neighbours.filter((id) => cache.get(id)?.table === 'tried');
  const sampleIds = sample.map((r) => r.record.id);
  const sampleBefore = sampleIds.filter((id) => cache.get(id) !== undefined);
  const heardBefore = heard.filter((id) => cache.get(id) !== undefined);

  const attacker: PeerId[] = [];
  for (let i = 0; i < scenario.connections; i++) {
    const mallory = await key();
    const introduced = await records(scenario.recordsPerConnection);
    attacker.push(mallory.id, ...introduced.map((r) => r.record.id));
    await connection(mallory, introduced, scenario.connectionMs);
  }

  const sampleLeft = held(sampleIds);
  const next = await records(scenario.sample);
  await book.intake(
    next.map((r) => r.text),
    { introducer: SERVER, label: 'welcome' },
  );
  const outcome: EclipseOutcome = {
    honestTried: triedBefore.length,
    honestTriedLeft: held(triedBefore, 'tried'),
    sample: sampleIds.length,
    sampleBefore: sampleBefore.length,
    sampleLeft,
    nextSampleKept: held(next.map((r) => r.record.id)),
    honestHeard: heardBefore.length,
    honestHeardLeft: held(heardBefore),
    attackerEntries: held(attacker),
    attackerTried: held(attacker, 'tried'),
    stats: book.stats(),
  };
  await book.close();
  return outcome;
}
