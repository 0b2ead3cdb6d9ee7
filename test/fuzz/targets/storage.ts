/**
 * Targets for what a tab reads that another party may have written: the peer
 * cache from IndexedDB (shared/peer-cache.ts) and messages from other tabs on
 * the BroadcastChannel (web/local/tabs.ts), both structured-clone values.
 */
import fc from 'fast-check';
import type { PeerId } from '../../../shared/identity/peer-id.js';
import type { Identity } from '../../../shared/identity/signing.js';
import { DEFAULT_RECORD_LIFETIME_MS, MAX_SIGNAL_PAYLOAD_CHARS } from '../../../shared/limits.js';
import { toHex } from '../../../shared/bytes.js';
import { PeerCache, type CachePolicy } from '../../../shared/peer-cache.js';
import { restoreCache, storedForm } from '../../../shared/peer-cache-store.js';
import { MAX_RECORD_TEXT_CHARS, signRecord } from '../../../shared/records.js';
import { parseLocalMessage, type LocalMessage } from '../../../web/local/tabs.js';
import { parsePeerId } from '../../../shared/identity/peer-id.js';
import { ed25519, newIdentity } from '../../helpers/client.js';
import { fixedPeers } from '../arbitraries/peers.js';
import { isPlainObject, must, sameValue, type Verdict } from '../check.js';
import { mutatedText, randomText } from '../mutate.js';
import { defineTarget } from '../target.js';

const NOW = 1_800_000_000_000;
/** A small cache (6 entries: 2 tried, 2 new, 2 from servers), so that full buckets are reached by ten entries. */
const POLICY: Partial<CachePolicy> = {
  triedBuckets: 1,
  newBuckets: 1,
  bucketSlots: 2,
  bucketsPerSource: 1,
  serverShare: 2,
};
const CAPACITY = 6;
const SALT = new Uint8Array(16).fill(7);

/** Values IndexedDB can hold: everything structured clone keeps. */
const cloneable = fc.anything({
  maxDepth: 2,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withSparseArray: true,
  withTypedArray: true,
});

interface Pool {
  readonly self: Identity;
  /** Record texts a restored cache may hold (network 'n', current, not our own). */
  readonly keepable: ReadonlySet<string>;
  readonly texts: readonly string[];
  /** The pool's peer IDs, for stored anchors. */
  readonly ids: readonly PeerId[];
}

async function recordPool(): Promise<Pool> {
  const self = await newIdentity();
  const others = await Promise.all(Array.from({ length: 7 }, () => newIdentity()));
  const keepable = await Promise.all(
    others.map((identity, i) => signRecord(identity, { seq: 1, network: 'n', now: NOW - i * 1000 })),
  );
  const first = others[0];
  if (first === undefined) throw new Error('no identities');
  const newer = await signRecord(first, { seq: 2, network: 'n', now: NOW });
  const refused = await Promise.all([
    signRecord(self, { seq: 1, network: 'n', now: NOW }),
    signRecord(first, { seq: 3, network: 'other', now: NOW }),
    signRecord(first, { seq: 4, network: 'n', now: NOW - 2 * DEFAULT_RECORD_LIFETIME_MS }),
  ]);
  const good = [...keepable, newer].map((signed) => signed.text);
  return {
    self,
    keepable: new Set(good),
    texts: [...good, ...refused.map((signed) => signed.text)],
    ids: others.map((identity) => identity.id),
  };
}

export const peerCacheTarget = defineTarget<unknown>({
  name: 'peer-cache',
  about:
    'restoreCache: stored caches (version 2 and the bare array before it; entries good, foreign, expired, our own, mis-shaped; any cloneable value); only verified records stay',
  prepare: async () => {
    const pool = await recordPool();
    const text = fc.constantFrom(...pool.texts);
    const entry = fc.record(
      {
        r: fc.oneof(
          { weight: 6, arbitrary: text },
          { weight: 1, arbitrary: mutatedText(text) },
          { weight: 1, arbitrary: cloneable },
        ),
        t: fc.oneof({ weight: 6, arbitrary: fc.boolean() }, { weight: 1, arbitrary: cloneable }),
        i: fc.oneof(
          { weight: 6, arbitrary: fc.constantFrom(null, 'signaling:wss://a.example/ws', 'x', 'y', 'z') },
          { weight: 1, arbitrary: fc.string({ maxLength: 310 }) },
          { weight: 1, arbitrary: cloneable },
        ),
        s: fc.oneof(
          { weight: 6, arbitrary: fc.integer({ min: 0, max: 2 * NOW }) },
          { weight: 1, arbitrary: cloneable },
        ),
      },
      { requiredKeys: ['r', 't', 's'] },
    );
    const item = fc.oneof({ weight: 8, arbitrary: entry }, { weight: 1, arbitrary: cloneable });
    const entries = fc.oneof(
      { weight: 6, arbitrary: fc.array(item, { maxLength: 10 }) },
      { weight: 1, arbitrary: fc.sparseArray(item, { maxLength: 10 }) },
      { weight: 1, arbitrary: cloneable },
    );
    const ids = fc.constantFrom(...pool.ids);
    // The stored form (version 2), the form before it (a bare array), and anything else.
    const input: fc.Arbitrary<unknown> = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          v: fc.oneof({ weight: 6, arbitrary: fc.constant(2) }, { weight: 1, arbitrary: cloneable }),
          salt: fc.oneof(
            { weight: 6, arbitrary: fc.constant(toHex(SALT)) },
            { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
            { weight: 1, arbitrary: cloneable },
          ),
          anchors: fc.oneof(
            { weight: 6, arbitrary: fc.array(fc.oneof(ids, cloneable), { maxLength: 4 }) },
            { weight: 1, arbitrary: cloneable },
          ),
          entries,
        }),
      },
      { weight: 3, arbitrary: entries },
      { weight: 1, arbitrary: cloneable },
    );
    const options = { now: NOW, network: 'n', self: pool.self.id, freshSalt: SALT, policy: POLICY };
    return {
      input,
      async: true,
      check: async (stored): Promise<Verdict> => {
        const { cache, anchors } = await restoreCache(stored, ed25519, options);
        must(cache.size <= CAPACITY, `the cache holds ${cache.size} entries, over its capacity`);
        for (const held of cache.all()) {
          must(pool.keepable.has(held.signed.text), 'the cache kept a record it should have dropped');
        }
        for (const anchor of anchors) must(cache.get(anchor)?.table === 'tried', 'an anchor that is not tried');
        // What it keeps, it stores in a form it restores whole.
        const again = await restoreCache(storedForm(cache, anchors), ed25519, options);
        must(again.dropped === 0, 'a restored cache does not restore whole');
        const shape = (c: PeerCache): [PeerId, string][] => c.all().map((e) => [e.signed.record.id, e.table]);
        must(sameValue(shape(again.cache), shape(cache)), 'a restored cache restores to other entries');
        must(sameValue(again.anchors, anchors), 'a restored cache restores other anchors');
        return cache.size > 0 ? 'accepted' : 'refused';
      },
    };
  },
});

const IDS = fixedPeers(2) as [PeerId, PeerId];

const localMessageArb: fc.Arbitrary<LocalMessage> = fc.oneof(
  fc
    .record({
      t: fc.constantFrom('hello' as const, 'here' as const),
      id: fc.constantFrom(...IDS),
      record: fc.string({ maxLength: 400 }),
    })
    .map((m): LocalMessage => m),
  fc
    .record({ from: fc.constantFrom(...IDS), to: fc.constantFrom(...IDS), payload: fc.string({ maxLength: 400 }) })
    .map((m): LocalMessage => ({ t: 'signal', ...m })),
  fc.constantFrom(...IDS).map((id): LocalMessage => ({ t: 'bye', id })),
);

const KEYS: Record<LocalMessage['t'], readonly string[]> = {
  hello: ['t', 'id', 'record'],
  here: ['t', 'id', 'record'],
  signal: ['t', 'from', 'to', 'payload'],
  bye: ['t', 'id'],
};

export const localTabsTarget = defineTarget<{ readonly data: unknown; readonly message?: LocalMessage }>({
  name: 'local-tabs',
  about:
    'parseLocalMessage: what any script of the origin may post on the tabs’ BroadcastChannel; only fresh, checked messages pass',
  prepare: () => {
    const fields = ['t', 'id', 'record', 'from', 'to', 'payload'] as const;
    const bent = fc
      .tuple(
        localMessageArb,
        fc.constantFrom(...fields, '__proto__'),
        fc.oneof(
          cloneable,
          randomText(50),
          fc.nat({ max: 40_000 }).map((n) => 'x'.repeat(n)),
          mutatedText(fc.constantFrom(...IDS)),
        ),
      )
      .map(([message, key, value]): unknown => {
        const out: Record<string, unknown> = { ...message };
        Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
        return out;
      });
    const input = fc.oneof(
      { weight: 2, arbitrary: localMessageArb.map((message) => ({ data: { ...message }, message })) },
      { weight: 4, arbitrary: bent.map((data) => ({ data })) },
      { weight: 1, arbitrary: cloneable.map((data) => ({ data })) },
    );
    return Promise.resolve({
      input,
      async: false,
      check: ({ data, message }): Verdict => {
        const parsed = parseLocalMessage(data);
        if (parsed === undefined) {
          must(message === undefined, 'a valid message from a tab was refused');
          return 'refused';
        }
        must(isPlainObject(parsed) && parsed !== data, 'the parser passed on the posted object itself');
        must(
          sameValue(Object.keys(parsed).sort(), [...KEYS[parsed.t]].sort()),
          'a message with other fields than its kind has',
        );
        const ids = parsed.t === 'signal' ? [parsed.from, parsed.to] : [parsed.id];
        must(
          ids.every((id) => parsePeerId(id).ok),
          'a message naming something other than a peer ID',
        );
        if (parsed.t === 'hello' || parsed.t === 'here')
          must(parsed.record.length <= MAX_RECORD_TEXT_CHARS, 'a record over its cap');
        if (parsed.t === 'signal') must(parsed.payload.length <= MAX_SIGNAL_PAYLOAD_CHARS, 'a payload over its cap');
        if (message !== undefined) must(sameValue(parsed, message), 'a valid message parsed to another value');
        return 'accepted';
      },
    });
  },
});
