import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toBase64url } from '../../shared/bytes.js';
import { Writer } from '../../shared/canonical.js';
import { ErrorCode, TabmeshError } from '../../shared/errors.js';
import { Purpose } from '../../shared/identity/signing.js';
import { publicKeyOf } from '../../shared/identity/peer-id.js';
import {
  MAX_CLOCK_SKEW_MS,
  MAX_RECORD_BYTES,
  MAX_RECORD_LIFETIME_MS,
  DEFAULT_RECORD_LIFETIME_MS,
} from '../../shared/limits.js';
import { decodeRecord, signRecord, supersedes, verifyRecord, type PeerRecord } from '../../shared/records.js';
import { concatBytes } from '../../shared/bytes.js';
import { ed25519, newIdentity } from '../helpers/client.js';

const NOW = 1_800_000_000_000;

async function expectCode(promise: Promise<{ ok: boolean; error?: TabmeshError }>, code: ErrorCode): Promise<void> {
  const result = await promise;
  expect(result.ok).toBe(false);
  expect(result.error?.code).toBe(code);
}

/** Sign arbitrary canonical bytes as a record, bypassing signRecord's field checks. */
async function signRaw(identity: Awaited<ReturnType<typeof newIdentity>>, data: Uint8Array): Promise<Uint8Array> {
  return concatBytes(data, await identity.sign(Purpose.RECORD, data));
}

function rawRecord(fields: Partial<PeerRecord> & { id: PeerRecord['id'] }, extra?: (w: Writer) => void): Uint8Array {
  const w = new Writer()
    .u8(1)
    .fixed(publicKeyOf(fields.id), 32)
    .varint(fields.seq ?? 1)
    .varint(fields.issuedAt ?? NOW)
    .varint(fields.expiresAt ?? NOW + 1000)
    .string(fields.network ?? 'net', 64);
  const endpoints = fields.endpoints ?? [];
  w.varint(endpoints.length);
  for (const e of endpoints) w.string(e, 1000);
  w.string(fields.name ?? '', 1000);
  const sealKey = fields.sealKey ?? new Uint8Array();
  w.varint(sealKey.length).fixed(sealKey, sealKey.length);
  extra?.(w);
  return w.finish();
}

describe('peer records', () => {
  it('sign and verify round-trip, from bytes and from text', async () => {
    const identity = await newIdentity();
    const signed = await signRecord(identity, {
      seq: 7,
      network: 'lobby',
      now: NOW,
      endpoints: ['wss://signal.example.com/ws', 'ws://127.0.0.1:8787/ws'],
      name: 'Ada ✨',
    });
    expect(signed.bytes.length).toBeLessThanOrEqual(MAX_RECORD_BYTES);
    for (const input of [signed.bytes, signed.text]) {
      const result = await verifyRecord(ed25519, input, { now: NOW, network: 'lobby' });
      expect(result.ok).toBe(true);
      if (result.ok) {
        expect(result.value.record).toEqual({
          id: identity.id,
          seq: 7,
          issuedAt: NOW,
          expiresAt: NOW + DEFAULT_RECORD_LIFETIME_MS,
          network: 'lobby',
          endpoints: ['wss://signal.example.com/ws', 'ws://127.0.0.1:8787/ws'],
          name: 'Ada ✨',
        });
        expect(result.value.text).toBe(signed.text);
      }
    }
  });

  it('refuses a record whose bytes were changed anywhere (forged)', async () => {
    const identity = await newIdentity();
    const signed = await signRecord(identity, { seq: 1, network: 'n', now: NOW });
    for (let i = 0; i < signed.bytes.length; i++) {
      const forged = Uint8Array.from(signed.bytes);
      forged[i] = (forged[i] ?? 0) ^ 0x01;
      const result = await verifyRecord(ed25519, forged, { now: NOW });
      expect(result.ok, `byte ${i}`).toBe(false);
    }
  });

  it('refuses a record signed by a key other than the one it names', async () => {
    const [alice, mallory] = [await newIdentity(), await newIdentity()];
    const data = rawRecord({ id: alice.id });
    await expectCode(verifyRecord(ed25519, await signRaw(mallory, data), { now: NOW }), ErrorCode.RECORD_BAD_SIGNATURE);
  });

  it('refuses a record signed for another purpose', async () => {
    const alice = await newIdentity();
    const data = rawRecord({ id: alice.id });
    const bytes = concatBytes(data, await alice.sign(Purpose.SIGNAL, data));
    await expectCode(verifyRecord(ed25519, bytes, { now: NOW }), ErrorCode.RECORD_BAD_SIGNATURE);
  });

  it('applies the time rules: expired, future-dated and over-long records are refused', async () => {
    const alice = await newIdentity();
    const signed = await signRecord(alice, { seq: 1, network: 'n', now: NOW, lifetimeMs: 60_000 });
    const at = (now: number) => verifyRecord(ed25519, signed.bytes, { now });
    expect((await at(NOW + 60_000 + MAX_CLOCK_SKEW_MS)).ok).toBe(true);
    await expectCode(at(NOW + 60_000 + MAX_CLOCK_SKEW_MS + 1), ErrorCode.RECORD_EXPIRED);
    expect((await at(NOW - MAX_CLOCK_SKEW_MS)).ok).toBe(true);
    await expectCode(at(NOW - MAX_CLOCK_SKEW_MS - 1), ErrorCode.RECORD_FUTURE_DATED);
    const long = await signRaw(alice, rawRecord({ id: alice.id, expiresAt: NOW + MAX_RECORD_LIFETIME_MS + 1 }));
    await expectCode(verifyRecord(ed25519, long, { now: NOW }), ErrorCode.RECORD_LIFETIME_TOO_LONG);
  });

  it('refuses oversized records before reading them, as bytes and as text', async () => {
    const alice = await newIdentity();
    const big = await signRaw(
      alice,
      rawRecord({ id: alice.id }, (w) => w.fixed(new Uint8Array(MAX_RECORD_BYTES), MAX_RECORD_BYTES)),
    );
    await expectCode(verifyRecord(ed25519, big, { now: NOW }), ErrorCode.RECORD_TOO_LARGE);
    await expectCode(verifyRecord(ed25519, toBase64url(big), { now: NOW }), ErrorCode.RECORD_TOO_LARGE);
  });

  it('refuses a record of another network when a network is expected', async () => {
    const alice = await newIdentity();
    const signed = await signRecord(alice, { seq: 1, network: 'a', now: NOW });
    await expectCode(verifyRecord(ed25519, signed.bytes, { now: NOW, network: 'b' }), ErrorCode.NETWORK_MISMATCH);
  });

  it.each<[string, (id: PeerRecord['id']) => Uint8Array]>([
    ['trailing bytes', (id) => rawRecord({ id }, (w) => w.u8(0))],
    ['an unknown format byte', (id) => Uint8Array.from([2, ...rawRecord({ id }).subarray(1)])],
    ['a bad network name', (id) => rawRecord({ id, network: 'has space' })],
    ['an empty network name', (id) => rawRecord({ id, network: '' })],
    ['five endpoints', (id) => rawRecord({ id, endpoints: ['ws://a', 'ws://b', 'ws://c', 'ws://d', 'ws://e'] })],
    ['an http endpoint', (id) => rawRecord({ id, endpoints: ['http://example.com'] })],
    ['a duplicate endpoint', (id) => rawRecord({ id, endpoints: ['ws://a', 'ws://a'] })],
    ['a port out of range', (id) => rawRecord({ id, endpoints: ['ws://a:70000'] })],
    ['a control character in the name', (id) => rawRecord({ id, name: 'a\u0007b' })],
    ['a bidi override in the name', (id) => rawRecord({ id, name: 'abc\u202edef' })],
    ['a name over 64 bytes', (id) => rawRecord({ id, name: 'x'.repeat(65) })],
    ['expiry before issue', (id) => rawRecord({ id, issuedAt: NOW, expiresAt: NOW })],
    [
      'a non-minimal varint',
      (id) => {
        const good = rawRecord({ id, seq: 1 });
        // seq sits right after the format byte and the key: 0x01 becomes 0x81 0x00.
        return Uint8Array.from([...good.subarray(0, 33), 0x81, 0x00, ...good.subarray(34)]);
      },
    ],
    ['truncated data', (id) => rawRecord({ id }).subarray(0, 40)],
  ])('refuses a record with %s as malformed', async (_what, make) => {
    const alice = await newIdentity();
    await expectCode(
      verifyRecord(ed25519, await signRaw(alice, make(alice.id)), { now: NOW }),
      ErrorCode.RECORD_MALFORMED,
    );
  });

  it('refuses non-canonical base64url text', async () => {
    const alice = await newIdentity();
    const signed = await signRecord(alice, { seq: 1, network: 'n', now: NOW });
    await expectCode(verifyRecord(ed25519, `${signed.text}=`, { now: NOW }), ErrorCode.RECORD_MALFORMED);
    await expectCode(verifyRecord(ed25519, signed.text.replace(/.$/, '~'), { now: NOW }), ErrorCode.RECORD_MALFORMED);
  });

  it('signRecord refuses invalid fields with BAD_FIELD', async () => {
    const alice = await newIdentity();
    const cases = [
      { seq: -1, network: 'n', now: NOW },
      { seq: 1.5, network: 'n', now: NOW },
      { seq: 1, network: 'bad name', now: NOW },
      { seq: 1, network: 'n', now: NOW, endpoints: ['ftp://x'] },
      { seq: 1, network: 'n', now: NOW, name: ' padded ' },
      { seq: 1, network: 'n', now: NOW, lifetimeMs: MAX_RECORD_LIFETIME_MS + 1 },
    ];
    for (const fields of cases) {
      await expect(signRecord(alice, fields)).rejects.toMatchObject({ code: ErrorCode.BAD_FIELD });
    }
  });

  it('only a strictly newer sequence number replaces a held record (replays are ignored)', async () => {
    const alice = await newIdentity();
    const r1 = (await signRecord(alice, { seq: 1, network: 'n', now: NOW })).record;
    const r2 = (await signRecord(alice, { seq: 2, network: 'n', now: NOW })).record;
    expect(supersedes(r1, undefined)).toBe(true);
    expect(supersedes(r2, r1)).toBe(true);
    expect(supersedes(r1, r2)).toBe(false);
    expect(supersedes(r2, r2)).toBe(false);
    const bob = (await signRecord(await newIdentity(), { seq: 3, network: 'n', now: NOW })).record;
    expect(() => supersedes(bob, r1)).toThrow(RangeError);
  });

  // Random and mutated record bytes are the record and record-verify fuzz targets (test/fuzz/targets/records.ts).

  it('carries a seal key bound by the signature, and refuses one of the wrong length', async () => {
    const identity = await newIdentity();
    const sealKey = new Uint8Array(32).fill(7);
    const signed = await signRecord(identity, { seq: 1, network: 'lobby', now: NOW, sealKey });
    const result = await verifyRecord(ed25519, signed.bytes, { now: NOW });
    expect(result.ok && result.value.record.sealKey).toEqual(sealKey);
    // A forwarder swapping the key breaks the signature.
    const swapped = signed.bytes.slice();
    const at = swapped.length - 64 - 32;
    swapped[at] = (swapped[at] ?? 0) ^ 1;
    await expectCode(verifyRecord(ed25519, swapped, { now: NOW }), ErrorCode.RECORD_BAD_SIGNATURE);
    const short = await signRaw(identity, rawRecord({ id: identity.id, sealKey: new Uint8Array(31) }));
    await expectCode(verifyRecord(ed25519, short, { now: NOW }), ErrorCode.RECORD_MALFORMED);
  });

  it('decodes every valid record it encodes (10,000 cases)', async () => {
    const alice = await newIdentity();
    const endpoint = fc
      .tuple(
        fc.constantFrom('ws', 'wss'),
        fc.stringMatching(/^[a-z0-9-]{1,20}(\.[a-z0-9-]{1,10}){0,3}$/),
        fc.option(fc.integer({ min: 1, max: 65535 })),
      )
      .map(([s, host, port]) => `${s}://${host}${port === null ? '' : `:${port}`}/ws`);
    const fields = fc.record({
      seq: fc.maxSafeNat(),
      issuedAt: fc.integer({ min: 0, max: 2 ** 50 }),
      lifetime: fc.integer({ min: 1, max: MAX_RECORD_LIFETIME_MS }),
      network: fc.stringMatching(/^[A-Za-z0-9._~-]{1,64}$/),
      endpoints: fc.uniqueArray(endpoint, { maxLength: 4 }),
      name: fc.option(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 ]{0,20}[A-Za-z0-9]$/)),
      sealKey: fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 })),
    });
    // Sign once, check the codec many times: the data encoding is what varies.
    await fc.assert(
      fc.asyncProperty(fields, async (f) => {
        const record: PeerRecord = {
          id: alice.id,
          seq: f.seq,
          issuedAt: f.issuedAt,
          expiresAt: f.issuedAt + f.lifetime,
          network: f.network,
          endpoints: f.endpoints,
          ...(f.name === null ? {} : { name: f.name }),
          ...(f.sealKey === null ? {} : { sealKey: f.sealKey }),
        };
        const data = rawRecord(record);
        const decoded = decodeRecord(concatBytes(data, new Uint8Array(64)));
        expect(decoded.ok).toBe(true);
        if (decoded.ok) expect(decoded.value.record).toEqual(record);
        return Promise.resolve();
      }),
      { numRuns: 10_000 },
    );
  });
});
