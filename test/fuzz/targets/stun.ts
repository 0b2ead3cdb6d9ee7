/**
 * Targets for the STUN responder's decoders: Binding requests off the open
 * internet's UDP (signaling-server/stun/codec.ts), and the Host header a
 * STUN URL is built from (signaling-server/stun/urls.ts).
 */
import fc from 'fast-check';
import { STUN_URL_PATTERN } from '../../../shared/protocol/signaling.js';
import {
  MAX_STUN_REQUEST_BYTES,
  addressBytes,
  encodeBindingSuccess,
  parseBindingRequest,
  withinAmplification,
  type StunRefusal,
} from '../../../signaling-server/stun/codec.js';
import { hostFromHeader } from '../../../signaling-server/stun/urls.js';
import { readBindingSuccess, stunRequest } from '../../helpers/stun.js';
import { bytesSame, must, type Verdict } from '../check.js';
import { mutatedBytes, mutatedText, randomBytes, randomText } from '../mutate.js';
import { defineTarget } from '../target.js';

const REFUSALS: readonly StunRefusal[] = ['MALFORMED', 'NOT_BINDING', 'UNKNOWN_ATTRIBUTE', 'BAD_FINGERPRINT'];

/** Binding requests we answer: comprehension-optional attributes only, with or without a FINGERPRINT. */
const validRequest: fc.Arbitrary<Uint8Array> = fc
  .record({
    transactionId: fc.uint8Array({ minLength: 12, maxLength: 12 }),
    attributes: fc.array(
      fc.tuple(
        fc.integer({ min: 0x8000, max: 0xffff }).filter((type) => type !== 0x8028),
        fc.uint8Array({ maxLength: 40 }),
      ),
      { maxLength: 4 },
    ),
    fingerprint: fc.boolean(),
  })
  .map((shape) => stunRequest(shape));

/** Well-framed messages of any type and attributes (reaching every rule past the header). */
const framed: fc.Arbitrary<Uint8Array> = fc
  .record({
    type: fc.oneof(fc.constantFrom(0x0001, 0x0011, 0x0101, 0x0111), fc.integer({ min: 0, max: 0x3fff })),
    attributes: fc.array(fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 24 })), {
      maxLength: 4,
    }),
    fingerprint: fc.boolean(),
    badFingerprint: fc.boolean(),
  })
  .map((shape) => stunRequest(shape));

type Case = { readonly bytes: Uint8Array; readonly valid: boolean };

const peer = fc.record({ address: fc.oneof(fc.ipV4(), fc.ipV6()), port: fc.integer({ min: 0, max: 65535 }) });

export const stunRequestTarget = defineTarget<{
  readonly input: Case;
  readonly from: { address: string; port: number };
}>({
  name: 'stun-request',
  about: 'parseBindingRequest (UDP datagrams to the STUN port): valid, framed, byte-mutated and random datagrams',
  prepare: () =>
    Promise.resolve({
      input: fc.record({
        input: fc.oneof(
          { weight: 2, arbitrary: validRequest.map((bytes): Case => ({ bytes, valid: true })) },
          { weight: 2, arbitrary: framed.map((bytes): Case => ({ bytes, valid: false })) },
          { weight: 3, arbitrary: mutatedBytes(validRequest).map((bytes): Case => ({ bytes, valid: false })) },
          {
            weight: 1,
            arbitrary: randomBytes(MAX_STUN_REQUEST_BYTES + 40, [0x00, 0x01]).map((bytes): Case => ({
              bytes,
              valid: false,
            })),
          },
        ),
        from: peer,
      }),
      async: false,
      check: ({ input: { bytes, valid }, from }): Verdict => {
        const parsed = parseBindingRequest(bytes);
        if (!parsed.ok) {
          must(!valid, `a valid Binding request was refused: ${parsed.refusal}`);
          must(REFUSALS.includes(parsed.refusal), `unexpected refusal ${parsed.refusal}`);
          return 'refused';
        }
        must(bytes.length >= 20 && bytes.length <= MAX_STUN_REQUEST_BYTES, 'accepted a datagram of the wrong size');
        must(bytes[0] === 0x00 && bytes[1] === 0x01, 'accepted something other than a Binding request');
        must(bytesSame(parsed.transactionId, bytes.subarray(8, 20)), 'the transaction ID is not the request’s');
        must(parsed.transactionId.buffer !== bytes.buffer, 'the transaction ID is a view of the datagram');
        const address = addressBytes(from.address);
        must(address !== undefined, `a real address was not understood: ${from.address}`);
        const response = encodeBindingSuccess(parsed.transactionId, address, from.port);
        must(withinAmplification(bytes.length, response.length), 'an answer beyond the amplification limit');
        const read = readBindingSuccess(response);
        must(read.port === from.port && bytesSame(read.transactionId, parsed.transactionId), 'the answer misnames');
        must(bytesSame(addressBytes(read.address) ?? new Uint8Array(), address), 'the answer names another address');
        return 'accepted';
      },
    }),
});

const hostHeader = fc.oneof(
  fc.domain(),
  fc.tuple(fc.domain(), fc.integer({ min: 0, max: 99_999 })).map(([host, port]) => `${host}:${port}`),
  fc.ipV4(),
  fc.ipV6().map((ip) => `[${ip}]`),
  fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 65535 })).map(([ip, port]) => `[${ip}]:${port}`),
);

export const stunHostTarget = defineTarget<string>({
  name: 'stun-host',
  about: 'hostFromHeader (the Host header a STUN URL is built from): names, literals, with ports, mutated and random',
  prepare: () =>
    Promise.resolve({
      input: fc.oneof(hostHeader, mutatedText(hostHeader), randomText(80)),
      async: false,
      check: (header): Verdict => {
        const host = hostFromHeader(header);
        if (host === undefined) return 'refused';
        const url = `stun:${host}:3478`;
        must(STUN_URL_PATTERN.test(url), `a host makes a URL a tab would refuse: ${url}`);
        must(new URL(`http://${host}/`).hostname === host, `a host a URL reads otherwise: ${host}`);
        must(hostFromHeader(host) === host, 'a host is not its own host');
        return 'accepted';
      },
    }),
});
