/** Targets for the client <-> server JSON channel, each direction. */
import fc from 'fast-check';
import { ErrorCode, type Result } from '../../../shared/errors.js';
import { MAX_SIGNALING_FRAME_BYTES } from '../../../shared/limits.js';
import {
  encodeClientMessage,
  encodeServerMessage,
  parseClientMessage,
  parseServerMessage,
  type ClientMessage,
  type ServerMessage,
} from '../../../shared/protocol/signaling.js';
import {
  CLIENT_KEYS,
  CLIENT_TYPES,
  SERVER_KEYS,
  SERVER_TYPES,
  clientMessage,
  serverMessage,
  signalTo,
} from '../arbitraries/signaling.js';
import { fixedPeers } from '../arbitraries/peers.js';
import { isPlainObject, isWellFormed, must, sameValue, typedRefusal, type Verdict } from '../check.js';
import { mutatedJson, mutatedText, nearTheCap, randomEnvelope, randomText } from '../mutate.js';
import { defineTarget, type FuzzTarget } from '../target.js';

/** A frame's text, with the message it encodes when it is one as generated. */
export interface Frame<M> {
  readonly text: string;
  readonly message?: M;
}

/** Valid frames, valid frames with fields or characters bent, random text, and envelopes with random fields. */
export function hostileFrames<M>(
  valid: fc.Arbitrary<M>,
  encode: (message: M) => string,
  keys: readonly string[],
  types: readonly string[],
  /** A string field of some messages, filled up to the frame cap. */
  filled: fc.Arbitrary<M>,
  field: string,
): fc.Arbitrary<Frame<M>> {
  const encoded = valid.map(encode);
  const bare = (text: string): Frame<M> => ({ text });
  return fc.oneof(
    { weight: 2, arbitrary: valid.map((message): Frame<M> => ({ text: encode(message), message })) },
    { weight: 4, arbitrary: mutatedJson(encoded, keys).map(bare) },
    { weight: 2, arbitrary: mutatedText(encoded).map(bare) },
    { weight: 1, arbitrary: nearTheCap(filled.map(encode), [field], MAX_SIGNALING_FRAME_BYTES).map(bare) },
    { weight: 1, arbitrary: randomText(300).map(bare) },
    { weight: 1, arbitrary: randomEnvelope(types, keys).map(bare) },
  );
}

/** What a parse error may say, in either direction. */
export const ENVELOPE_CODES = [
  ErrorCode.FRAME_TOO_LARGE,
  ErrorCode.BAD_JSON,
  ErrorCode.BAD_FIELD,
  ErrorCode.VERSION_UNSUPPORTED,
  ErrorCode.UNKNOWN_TYPE,
];

/**
 * One frame through a parser: a typed refusal, or a fresh message that
 * survives encode-then-parse unchanged (and is the generated one, if it was valid).
 */
export function checkFrame<M>(
  { text, message }: Frame<M>,
  parse: (text: string) => Result<M>,
  encode: (message: M) => string,
): Verdict {
  const result = parse(text);
  if (!result.ok) {
    must(message === undefined, `a valid message was refused: ${result.error.message}`);
    return typedRefusal(result, ENVELOPE_CODES);
  }
  must(isPlainObject(result.value), 'the parser passed on something other than a fresh plain object');
  // Text off a socket is decoded UTF-8, never with a lone surrogate; JSON writes one as six characters,
  // so such text (possible only in-process) may re-encode past the cap.
  if (!isWellFormed(text)) return 'accepted';
  const again = parse(encode(result.value));
  must(again.ok && sameValue(again.value, result.value), 'an accepted message changes through encode and parse');
  if (message !== undefined) must(sameValue(result.value, message), 'a valid message parsed to another value');
  return 'accepted';
}

const IDS = fixedPeers(3);

export const clientMessageTarget: FuzzTarget = defineTarget<Frame<ClientMessage>>({
  name: 'client-message',
  about:
    'parseClientMessage (what the server reads): valid, field-mutated, character-mutated, random and oversized frames',
  prepare: () =>
    Promise.resolve({
      input: hostileFrames(
        clientMessage(IDS),
        encodeClientMessage,
        CLIENT_KEYS,
        CLIENT_TYPES,
        signalTo(IDS),
        'payload',
      ),
      async: false,
      check: (frame) => checkFrame(frame, parseClientMessage, encodeClientMessage),
    }),
});

export const serverMessageTarget: FuzzTarget = defineTarget<Frame<ServerMessage>>({
  name: 'server-message',
  about: 'parseServerMessage (what a tab reads): valid, field-mutated, character-mutated, random and oversized frames',
  prepare: () =>
    Promise.resolve({
      input: hostileFrames(
        serverMessage(IDS),
        encodeServerMessage,
        SERVER_KEYS,
        SERVER_TYPES,
        fc.constantFrom(...IDS).map((from): ServerMessage => ({ type: 'signal', from, payload: '' })),
        'payload',
      ),
      async: false,
      check: (frame) => checkFrame(frame, parseServerMessage, encodeServerMessage),
    }),
});
