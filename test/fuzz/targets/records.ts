/** Targets for peer records (shared/records.ts): the structural decoder and the verifying edge parser. */
import fc from 'fast-check';
import { concatBytes, fromBase64url, toBase64url } from '../../../shared/bytes.js';
import { ErrorCode } from '../../../shared/errors.js';
import type { Identity } from '../../../shared/identity/signing.js';
import {
  DEFAULT_RECORD_LIFETIME_MS,
  MAX_CLOCK_SKEW_MS,
  MAX_RECORD_BYTES,
  MAX_RECORD_ENDPOINTS,
  MAX_RECORD_LIFETIME_MS,
  SEAL_KEY_BYTES,
} from '../../../shared/limits.js';
import {
  decodeRecord,
  isValidDisplayName,
  isValidEndpoint,
  isValidNetworkName,
  recordData,
  signRecord,
  verifyRecord,
  type PeerRecord,
} from '../../../shared/records.js';
import { ed25519, newIdentity } from '../../helpers/client.js';
import { peerArb } from '../arbitraries/peers.js';
import { bytesSame, must, sameValue, typedRefusal, type Verdict } from '../check.js';
import { mutatedBytes, mutatedText, randomBytes, randomText } from '../mutate.js';
import { defineTarget } from '../target.js';

const NOW = 1_800_000_000_000;
const RECORD_CODES = [
  ErrorCode.RECORD_TOO_LARGE,
  ErrorCode.RECORD_MALFORMED,
  ErrorCode.RECORD_BAD_SIGNATURE,
  ErrorCode.RECORD_EXPIRED,
  ErrorCode.RECORD_FUTURE_DATED,
  ErrorCode.RECORD_LIFETIME_TOO_LONG,
  ErrorCode.NETWORK_MISMATCH,
];

const endpointArb = fc
  .tuple(
    fc.constantFrom('ws', 'wss'),
    fc.oneof(fc.stringMatching(/^[a-z0-9-]{1,20}(\.[a-z0-9-]{1,10}){0,3}$/), fc.constantFrom('[::1]', '[2001:db8::1]')),
    fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    fc.stringMatching(/^(\/[A-Za-z0-9._~%-]{0,12}){0,3}$/),
  )
  .map(([scheme, host, port, path]) => `${scheme}://${host}${port === undefined ? '' : `:${port}`}${path}`);

/** Records with every field in range (their fields as decodeRecord must give them back). */
export const recordArb: fc.Arbitrary<PeerRecord> = fc
  .record({
    id: peerArb,
    seq: fc.maxSafeNat(),
    issuedAt: fc.integer({ min: 0, max: 2 ** 50 }),
    lifetime: fc.integer({ min: 1, max: MAX_RECORD_LIFETIME_MS * 2 }),
    network: fc.stringMatching(/^[A-Za-z0-9._~-]{1,64}$/),
    endpoints: fc.uniqueArray(endpointArb, { maxLength: MAX_RECORD_ENDPOINTS }),
    name: fc.option(fc.stringMatching(/^[A-Za-z0-9é][A-Za-z0-9 é]{0,20}[A-Za-z0-9é]$/), { nil: undefined }),
    sealKey: fc.option(fc.uint8Array({ minLength: SEAL_KEY_BYTES, maxLength: SEAL_KEY_BYTES }), { nil: undefined }),
  })
  .map(({ lifetime, name, sealKey, ...f }) => ({
    ...f,
    expiresAt: f.issuedAt + lifetime,
    ...(name === undefined ? {} : { name }),
    ...(sealKey === undefined ? {} : { sealKey }),
  }));

interface Encoded {
  readonly bytes: Uint8Array;
  readonly record?: PeerRecord;
}

export const recordTarget = defineTarget<Encoded>({
  name: 'record',
  about:
    'decodeRecord: record bytes (valid, mutated, random, oversized); what it accepts has valid fields and re-encodes byte for byte',
  prepare: () => {
    const signature = fc.uint8Array({ minLength: 64, maxLength: 64 });
    const valid = fc
      .tuple(recordArb, signature)
      .map(([record, sig]): Encoded => ({ bytes: concatBytes(recordData(record), sig), record }));
    const input = fc.oneof(
      { weight: 2, arbitrary: valid },
      { weight: 5, arbitrary: mutatedBytes(valid.map((e) => e.bytes)).map((bytes): Encoded => ({ bytes })) },
      {
        weight: 1,
        arbitrary: randomBytes(MAX_RECORD_BYTES + 100, [0, 1, 2, 255]).map((bytes): Encoded => ({ bytes })),
      },
    );
    return Promise.resolve({
      input,
      async: false,
      check: ({ bytes, record }): Verdict => {
        const result = decodeRecord(bytes);
        if (!result.ok) {
          must(record === undefined, `a valid record was refused: ${result.error.message}`);
          return typedRefusal(result, [ErrorCode.RECORD_MALFORMED, ErrorCode.RECORD_TOO_LARGE]);
        }
        const { record: decoded, data, signature } = result.value;
        must(
          bytesSame(concatBytes(recordData(decoded), signature), bytes),
          'an accepted record re-encodes differently',
        );
        must(bytesSame(data, recordData(decoded)), 'the signed part is not the record’s data');
        must(isValidNetworkName(decoded.network), 'an invalid network name was accepted');
        must(decoded.endpoints.every(isValidEndpoint), 'an invalid endpoint was accepted');
        must(new Set(decoded.endpoints).size === decoded.endpoints.length, 'a duplicate endpoint was accepted');
        must(decoded.name === undefined || isValidDisplayName(decoded.name), 'an invalid display name was accepted');
        must(decoded.expiresAt > decoded.issuedAt, 'a record that expires before it is issued was accepted');
        if (record !== undefined) must(sameValue(decoded, record), 'a record decoded to other fields');
        return 'accepted';
      },
    });
  },
});

/** Signed records and what verifying them (network 'n', at NOW) must give: the record, or this code. */
async function signedPool(
  alice: Identity,
  bob: Identity,
): Promise<{ bytes: Uint8Array; expect: PeerRecord | ErrorCode }[]> {
  const good = [
    await signRecord(alice, { seq: 1, network: 'n', now: NOW, endpoints: ['wss://a.example/ws'] }),
    await signRecord(bob, { seq: 9, network: 'n', now: NOW - 1000, name: 'Bob', sealKey: new Uint8Array(32).fill(5) }),
  ];
  const refused: [Promise<{ bytes: Uint8Array }>, ErrorCode][] = [
    [signRecord(alice, { seq: 2, network: 'other', now: NOW }), ErrorCode.NETWORK_MISMATCH],
    [signRecord(alice, { seq: 3, network: 'n', now: NOW - 2 * DEFAULT_RECORD_LIFETIME_MS }), ErrorCode.RECORD_EXPIRED],
    [signRecord(alice, { seq: 4, network: 'n', now: NOW + 2 * MAX_CLOCK_SKEW_MS }), ErrorCode.RECORD_FUTURE_DATED],
  ];
  return [
    ...good.map((signed) => ({ bytes: signed.bytes, expect: signed.record })),
    ...(await Promise.all(refused.map(async ([signed, code]) => ({ bytes: (await signed).bytes, expect: code })))),
  ];
}

export const recordVerifyTarget = defineTarget<{ readonly input: string | Uint8Array }>({
  name: 'record-verify',
  about:
    'verifyRecord: signed records as text and bytes (valid, foreign, expired, future, mutated, random); only what was signed verifies',
  prepare: async () => {
    const [alice, bob] = await Promise.all([newIdentity(), newIdentity()]);
    const pool = await signedPool(alice, bob);
    const expectations = new Map(pool.map((entry) => [toBase64url(entry.bytes), entry.expect]));
    const signed = fc.constantFrom(...pool.map((entry) => entry.bytes));
    const signedText = signed.map(toBase64url);
    const input = fc
      .oneof(
        { weight: 2, arbitrary: signed },
        { weight: 2, arbitrary: signedText },
        { weight: 4, arbitrary: mutatedBytes(signed) },
        { weight: 2, arbitrary: mutatedBytes(signed).map(toBase64url) },
        { weight: 2, arbitrary: mutatedText(signedText) },
        { weight: 1, arbitrary: randomText(200) },
      )
      .map((value) => ({ input: value }));
    return {
      input,
      async: true,
      check: async ({ input: value }): Promise<Verdict> => {
        const result = await verifyRecord(ed25519, value, { now: NOW, network: 'n' });
        const bytes = typeof value === 'string' ? fromBase64url(value) : value;
        const expected = bytes === undefined ? undefined : expectations.get(toBase64url(bytes));
        if (!result.ok) {
          must(typeof expected !== 'object', `a good signed record was refused: ${result.error.message}`);
          if (expected !== undefined)
            must(result.error.code === expected, `refused with ${result.error.code}, not ${expected}`);
          return typedRefusal(result, RECORD_CODES);
        }
        // Signatures are not malleable here (canonical S only): only the very bytes signed verify.
        must(typeof expected === 'object', 'a record nobody signed as it is was verified');
        must(sameValue(result.value.record, expected), 'a record verified to other fields than were signed');
        must(result.value.text === toBase64url(result.value.bytes), 'the text form is not the bytes’');
        return 'accepted';
      },
    };
  },
});
