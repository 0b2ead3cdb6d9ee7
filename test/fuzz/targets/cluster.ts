/** Targets for what signaling instances read from Redis and from each other (signaling-server/cluster-wire.ts). */
import fc from 'fast-check';
import { encodeSignalDelivery } from '../../../shared/protocol/signaling.js';
import {
  encodePresence,
  encodeReplacedMessage,
  encodeSignalMessage,
  parseInstanceMessage,
  parsePresence,
  tokenInstance,
  type Parsed,
} from '../../../signaling-server/cluster-wire.js';
import { network } from '../arbitraries/signaling.js';
import { fixedPeers } from '../arbitraries/peers.js';
import { must, sameValue, type Verdict } from '../check.js';
import { mutatedText, randomText } from '../mutate.js';
import { defineTarget } from '../target.js';

const IDS = fixedPeers(2);
const instanceArb = fc.stringMatching(/^[0-9a-f]{32}$/);
const tokenArb = fc.tuple(instanceArb, fc.integer({ min: 0, max: 1e15 - 1 })).map(([i, n]) => `${i}.${n}`);
const recordTextArb = fc.stringMatching(/^[A-Za-z0-9_-]{1,400}$/);

interface Text<T> {
  readonly text: string;
  readonly value?: T;
}

/** A refusal carries a short reason and nothing else. */
function refusal(result: Parsed<unknown>): Verdict {
  if (result.ok) return 'accepted';
  must(
    typeof result.reason === 'string' && result.reason.length > 0 && result.reason.length <= 100,
    'a refusal without a short reason',
  );
  return 'refused';
}

function hostile<T>(valid: fc.Arbitrary<Text<T>>): fc.Arbitrary<Text<T>> {
  const texts = valid.map((v) => v.text);
  const bare = (text: string): Text<T> => ({ text });
  return fc.oneof(
    { weight: 2, arbitrary: valid },
    { weight: 4, arbitrary: mutatedText(texts).map(bare) },
    { weight: 1, arbitrary: randomText(200).map(bare) },
  );
}

type Presence = Parameters<typeof encodePresence>;

export const presenceTarget = defineTarget<Text<Presence>>({
  name: 'cluster-presence',
  about:
    'parsePresence: presence values as read from Redis (valid, mutated, random); what it accepts re-encodes to the same value',
  prepare: () =>
    Promise.resolve({
      input: hostile(
        fc
          .tuple(tokenArb, fc.integer({ min: 0, max: 1e15 - 1 }), recordTextArb)
          .map((value): Text<Presence> => ({ text: encodePresence(...value), value })),
      ),
      async: false,
      check: ({ text, value }): Verdict => {
        const result = parsePresence(text);
        if (!result.ok) {
          must(value === undefined, `a valid presence was refused: ${result.reason}`);
          return refusal(result);
        }
        const p = result.value;
        must(p.instance === tokenInstance(p.token), 'the instance is not the token’s');
        const again = parsePresence(encodePresence(p.token, p.recordExpiresAt, p.recordText));
        must(again.ok && sameValue(again.value, p), 'a presence changes through encode and parse');
        if (value !== undefined)
          must(sameValue([p.token, p.recordExpiresAt, p.recordText], value), 'a presence parsed to another value');
        return 'accepted';
      },
    }),
});

type InstanceMessage = Extract<ReturnType<typeof parseInstanceMessage>, { ok: true }>['value'];

function encodeInstance(message: InstanceMessage): string {
  return message.kind === 'signal'
    ? encodeSignalMessage(message.origin, message.seq, message.network, message.to, message.frame)
    : encodeReplacedMessage(message.origin, message.seq, message.network, message.id, message.token);
}

const instanceMessageArb: fc.Arbitrary<InstanceMessage> = fc.oneof(
  fc
    .record({
      origin: instanceArb,
      seq: fc.integer({ min: 0, max: 1e15 - 1 }),
      network,
      to: fc.constantFrom(...IDS),
      frame: fc
        .tuple(fc.constantFrom(...IDS), fc.string({ unit: 'binary', maxLength: 300 }))
        .map(([from, payload]) => encodeSignalDelivery(from, payload)),
    })
    .map((m): InstanceMessage => ({ kind: 'signal', ...m })),
  fc
    .record({
      origin: instanceArb,
      seq: fc.integer({ min: 0, max: 1e15 - 1 }),
      network,
      id: fc.constantFrom(...IDS),
      token: tokenArb,
    })
    .map((m): InstanceMessage => ({ kind: 'replaced', ...m })),
);

export const instanceMessageTarget = defineTarget<Text<InstanceMessage>>({
  name: 'cluster-instance',
  about:
    'parseInstanceMessage: messages between instances (valid, mutated, random); what it accepts re-encodes to the same value',
  prepare: () =>
    Promise.resolve({
      input: hostile(
        instanceMessageArb.map((value): Text<InstanceMessage> => ({ text: encodeInstance(value), value })),
      ),
      async: false,
      check: ({ text, value }): Verdict => {
        const result = parseInstanceMessage(text);
        if (!result.ok) {
          must(value === undefined, `a valid instance message was refused: ${result.reason}`);
          return refusal(result);
        }
        const again = parseInstanceMessage(encodeInstance(result.value));
        must(again.ok && sameValue(again.value, result.value), 'an instance message changes through encode and parse');
        if (value !== undefined) must(sameValue(result.value, value), 'an instance message parsed to another value');
        return 'accepted';
      },
    }),
});
