/**
 * The STUN codec (signaling-server/stun/codec.ts) on raw bytes: RFC 5769's
 * test vectors, what Chromium sends, and every way a datagram is refused.
 */
import { describe, expect, it } from 'vitest';
import {
  MAX_AMPLIFICATION,
  MAX_STUN_REQUEST_BYTES,
  addressBytes,
  encodeBindingSuccess,
  fingerprintOf,
  parseBindingRequest,
  withinAmplification,
} from '../../signaling-server/stun/codec.js';
import { TRANSACTION_ID, readBindingSuccess, stunRequest } from '../helpers/stun.js';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

// RFC 5769 §2.1-2.3 (the request carries SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME, MESSAGE-INTEGRITY, FINGERPRINT).
const SAMPLE_REQUEST = hex(`
  000100582112a442b7e7a701bc34d686fa87dfae
  80220010 5354554e2074657374 20636c69656e74
  00240004 6e0001ff
  80290008 932ff9b151263b36
  00060009 6576746a3a68367659202020
  00080014 9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2
  80280004 e57a3bcf`);
const SAMPLE_IPV4_RESPONSE = hex(`
  0101003c2112a442b7e7a701bc34d686fa87dfae
  8022000b 7465737420766563746f7220
  00200008 0001a147e112a643
  00080014 2b91f599fd9e90c38c7489f92af9ba53f06be7d7
  80280004 c07d4c96`);
const SAMPLE_IPV6_RESPONSE = hex(`
  010100482112a442b7e7a701bc34d686fa87dfae
  8022000b 7465737420766563746f7220
  00200014 0002a1470113a9faa5d3f179bc25f4b5bed2b9d9
  00080014 a382954e4be67bf11784c97c8292c275bfe3ed41
  80280004 c8fb0b4c`);
const VECTOR_ID = hex('b7e7a701bc34d686fa87dfae');

/** What Chromium 156 sent to `stun:127.0.0.1:<port>` (captured from a real RTCPeerConnection). */
const CHROMIUM_REQUEST = hex('000100002112a4427a336b5544556969694c4569');

describe('STUN codec: RFC 5769 vectors', () => {
  it('checks each vector’s FINGERPRINT as RFC 8489 §14.7 computes it', () => {
    for (const vector of [SAMPLE_REQUEST, SAMPLE_IPV4_RESPONSE, SAMPLE_IPV6_RESPONSE]) {
      const at = vector.length - 8;
      expect(fingerprintOf(vector.subarray(0, at))).toBe(Buffer.from(vector).readUInt32BE(at + 4));
    }
  });

  it('builds the IPv4 vector’s XOR-MAPPED-ADDRESS for 192.0.2.1 port 32853', () => {
    const response = encodeBindingSuccess(VECTOR_ID, addressBytes('192.0.2.1') ?? new Uint8Array(), 32853);
    expect(response.length).toBe(32);
    expect(response.subarray(20)).toEqual(SAMPLE_IPV4_RESPONSE.subarray(36, 48));
    expect(response.subarray(4, 20)).toEqual(SAMPLE_IPV4_RESPONSE.subarray(4, 20));
  });

  it('builds the IPv6 vector’s XOR-MAPPED-ADDRESS for 2001:db8:1234:5678:11:2233:4455:6677 port 32853', () => {
    const address = addressBytes('2001:db8:1234:5678:11:2233:4455:6677') ?? new Uint8Array();
    const response = encodeBindingSuccess(VECTOR_ID, address, 32853);
    expect(response.length).toBe(44);
    expect(response.subarray(20)).toEqual(SAMPLE_IPV6_RESPONSE.subarray(36, 60));
    expect(readBindingSuccess(response)).toMatchObject({
      address: '2001:db8:1234:5678:11:2233:4455:6677',
      port: 32853,
    });
  });

  it('refuses the sample request: its USERNAME and MESSAGE-INTEGRITY need credentials we do not have', () => {
    expect(parseBindingRequest(SAMPLE_REQUEST)).toEqual({ ok: false, refusal: 'UNKNOWN_ATTRIBUTE' });
  });

  it('refuses the sample responses: they are not requests', () => {
    expect(parseBindingRequest(SAMPLE_IPV4_RESPONSE)).toEqual({ ok: false, refusal: 'NOT_BINDING' });
    expect(parseBindingRequest(SAMPLE_IPV6_RESPONSE)).toEqual({ ok: false, refusal: 'NOT_BINDING' });
  });
});

describe('STUN codec: Binding requests', () => {
  it('accepts what Chromium sends, a bare 20-byte header, and answers within the amplification limit', () => {
    const parsed = parseBindingRequest(CHROMIUM_REQUEST);
    expect(parsed).toEqual({ ok: true, transactionId: CHROMIUM_REQUEST.subarray(8) });
    for (const address of ['203.0.113.7', '2001:db8::1']) {
      const response = encodeBindingSuccess(CHROMIUM_REQUEST.subarray(8), addressBytes(address) ?? new Uint8Array(), 1);
      expect(withinAmplification(CHROMIUM_REQUEST.length, response.length)).toBe(true);
    }
  });

  it('accepts comprehension-optional attributes and a correct FINGERPRINT', () => {
    const request = stunRequest({ attributes: [[0x8022, Buffer.from('client')]], fingerprint: true });
    expect(parseBindingRequest(request)).toEqual({ ok: true, transactionId: TRANSACTION_ID });
  });

  it('keeps no reference to the datagram', () => {
    const request = stunRequest();
    const parsed = parseBindingRequest(request);
    request.fill(0);
    expect(parsed.ok && parsed.transactionId).toEqual(TRANSACTION_ID);
  });

  it.each([
    ['shorter than a header', stunRequest().subarray(0, 19)],
    ['over the size cap', stunRequest({ attributes: [[0x8022, new Uint8Array(MAX_STUN_REQUEST_BYTES - 24 + 4)]] })],
    ['a top bit set', Uint8Array.from(stunRequest(), (b, i) => (i === 0 ? b | 0x80 : b))],
    ['no magic cookie (RFC 3489)', Uint8Array.from(stunRequest(), (b, i) => (i === 4 ? 0 : b))],
    ['a length past the datagram', Uint8Array.from(stunRequest(), (b, i) => (i === 3 ? 4 : b))],
    ['a length short of the datagram', Buffer.concat([stunRequest(), new Uint8Array(4)])],
    ['a length not a multiple of 4', Uint8Array.from([...stunRequest(), 0, 0], (b, i) => (i === 3 ? 2 : b))],
    [
      'an attribute running past the end',
      Uint8Array.from([...stunRequest(), 0x80, 0x22, 0x00, 0x08], (b, i) => (i === 3 ? 4 : b)),
    ],
    [
      'a FINGERPRINT not last',
      stunRequest({
        attributes: [
          [0x8028, new Uint8Array(4)],
          [0x8022, new Uint8Array(4)],
        ],
      }),
    ],
    ['a FINGERPRINT of 8 bytes', stunRequest({ attributes: [[0x8028, new Uint8Array(8)]] })],
  ])('refuses as MALFORMED: %s', (_name, bytes) => {
    expect(parseBindingRequest(bytes)).toEqual({ ok: false, refusal: 'MALFORMED' });
  });

  it('refuses a request of exactly the size cap only for what it says, not its size', () => {
    const request = stunRequest({ attributes: [[0x8022, new Uint8Array(MAX_STUN_REQUEST_BYTES - 24)]] });
    expect(request.length).toBe(MAX_STUN_REQUEST_BYTES);
    expect(parseBindingRequest(request).ok).toBe(true);
  });

  it.each([
    ['an indication', 0x0011],
    ['a success response', 0x0101],
    ['an error response', 0x0111],
    ['an Allocate request', 0x0003],
  ])('refuses as NOT_BINDING: %s', (_name, type) => {
    expect(parseBindingRequest(stunRequest({ type }))).toEqual({ ok: false, refusal: 'NOT_BINDING' });
  });

  it('refuses a comprehension-required attribute as UNKNOWN_ATTRIBUTE (no 420: nothing is sent back)', () => {
    for (const type of [0x0006, 0x0008, 0x0024, 0x7fff])
      expect(parseBindingRequest(stunRequest({ attributes: [[type, new Uint8Array(4)]] }))).toEqual({
        ok: false,
        refusal: 'UNKNOWN_ATTRIBUTE',
      });
  });

  it('refuses a FINGERPRINT that does not match', () => {
    expect(parseBindingRequest(stunRequest({ badFingerprint: true }))).toEqual({
      ok: false,
      refusal: 'BAD_FINGERPRINT',
    });
  });
});

describe('STUN codec: answers', () => {
  it('names IPv4, IPv6 and IPv4-mapped addresses, and refuses what is none', () => {
    expect(addressBytes('198.51.100.9')).toEqual(Uint8Array.of(198, 51, 100, 9));
    expect(addressBytes('::ffff:198.51.100.9')).toEqual(Uint8Array.of(198, 51, 100, 9));
    expect(addressBytes('fe80::1%eth0')).toEqual(Uint8Array.of(0xfe, 0x80, ...new Array<number>(13).fill(0), 1));
    expect(addressBytes('::1')).toEqual(Uint8Array.of(...new Array<number>(15).fill(0), 1));
    expect(addressBytes('64:ff9b::192.0.2.33')?.subarray(12)).toEqual(Uint8Array.of(192, 0, 2, 33));
    for (const bad of ['', 'localhost', '256.1.1.1', '::ffff:999.1.1.1', '1::2::3'])
      expect(addressBytes(bad)).toBeUndefined();
  });

  it('round-trips address and port through the XOR', () => {
    for (const [address, port] of [
      ['0.0.0.0', 0],
      ['255.255.255.255', 65535],
      ['2001:db8:ffff::42', 54321],
    ] as const) {
      const read = readBindingSuccess(
        encodeBindingSuccess(TRANSACTION_ID, addressBytes(address) ?? new Uint8Array(), port),
      );
      expect(read.port).toBe(port);
      expect(read.transactionId).toEqual(TRANSACTION_ID);
      expect(addressBytes(read.address)).toEqual(addressBytes(address));
    }
  });

  it(`holds answers to ${MAX_AMPLIFICATION} times the request`, () => {
    expect(withinAmplification(20, 44)).toBe(true);
    expect(withinAmplification(20, 60)).toBe(true);
    expect(withinAmplification(20, 61)).toBe(false);
  });
});
