/** A target for the headers the server reads before any WebSocket exists (signaling-server/admission.ts). */
import { isIPv6 } from 'node:net';
import fc from 'fast-check';
import { OriginPolicy, addressKey, type SelfOrigin } from '../../../signaling-server/admission.js';
import { must, type Verdict } from '../check.js';
import { mutatedText, randomText } from '../mutate.js';
import { defineTarget } from '../target.js';

const hostArb = fc.oneof(
  fc.constantFrom(
    'localhost',
    '127.0.0.1',
    '[::1]',
    'friend.example',
    'evil.example',
    'localhost.evil.example',
    'xn--80ak6aa92e.com',
  ),
  fc.domain(),
);
const originArb = fc
  .tuple(
    fc.constantFrom('http', 'https', 'ws', 'file', 'javascript'),
    hostArb,
    fc.option(fc.integer({ min: 0, max: 70_000 })),
  )
  .map(([scheme, host, port]) => `${scheme}://${host}${port === null ? '' : `:${port}`}`);

const group = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
const ipv6Arb = fc.array(group, { minLength: 8, maxLength: 8 }).map((groups) => groups.join(':'));
const addressArb = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  ipv6Arb,
  fc.ipV4().map((ip) => `::ffff:${ip}`),
  ipv6Arb.map((ip) => `${ip}%eth0`),
  mutatedText(fc.ipV6()),
  randomText(60),
);

type Header =
  | { readonly kind: 'origin'; readonly origin: string; readonly self: SelfOrigin }
  | { readonly kind: 'address'; readonly address: string };

const POLICY = new OriginPolicy(['self', 'localhost', 'https://friend.example']);

export const admissionTarget = defineTarget<Header>({
  name: 'admission',
  about: 'OriginPolicy.allows and addressKey: Origin and Host headers and client addresses, valid, mutated and random',
  prepare: () => {
    const input: fc.Arbitrary<Header> = fc.oneof(
      fc
        .record({
          origin: fc.oneof(originArb, mutatedText(originArb), fc.constant('null'), randomText(60)),
          // What `self` stands for: a public origin, loopback pages on a port, or nothing (never the Host header).
          self: fc.oneof(
            fc.constant<SelfOrigin>({ kind: 'public', origin: 'https://friend.example' }),
            fc.integer({ min: 1, max: 65_535 }).map((port): SelfOrigin => ({ kind: 'loopback', port })),
            fc.constant<SelfOrigin>({ kind: 'none' }),
          ),
        })
        .map((h): Header => ({ kind: 'origin', ...h })),
      addressArb.map((address): Header => ({ kind: 'address', address })),
    );
    return Promise.resolve({
      input,
      async: false,
      check: (header): Verdict => {
        if (header.kind === 'origin') return POLICY.allows(header.origin, header.self) ? 'accepted' : 'refused';
        const key = addressKey(header.address);
        must(addressKey(key) === key, 'an address key is not its own key');
        const bare = header.address.split('%')[0] ?? '';
        if (!isIPv6(bare.toLowerCase()) || bare.toLowerCase().startsWith('::ffff:')) return 'refused';
        // Every address of the /64 counts as one: the last four groups do not change the key.
        const groups = bare.split(':');
        if (groups.length !== 8 || !groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return 'accepted';
        const neighbour = [...groups.slice(0, 4), '1', '2', '3', '4'].join(':');
        must(addressKey(neighbour) === key, 'two addresses of one /64 count apart');
        return 'accepted';
      },
    });
  },
});
