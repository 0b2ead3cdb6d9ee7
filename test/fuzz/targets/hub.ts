/**
 * The server's frame handler: fuzzed frames into the real Hub, from a
 * registered connection (which must stay up and get exactly the answer the
 * protocol gives) and from fresh ones (which must get an error and a close).
 * Run in process (high counts) and through real ws sockets on port 0.
 */
import fc from 'fast-check';
import { utf8 } from '../../../shared/bytes.js';
import { ErrorCode } from '../../../shared/errors.js';
import { parsePeerId } from '../../../shared/identity/peer-id.js';
import { Purpose, type Identity } from '../../../shared/identity/signing.js';
import { CloseCode, registrationCloseCode } from '../../../shared/protocol/close-codes.js';
import { MAX_SIGNALING_FRAME_BYTES } from '../../../shared/limits.js';
import {
  encodeClientMessage,
  encodeSignalDelivery,
  parseClientMessage,
  registrationBytes,
  type ClientMessage,
  type ServerMessage,
} from '../../../shared/protocol/signaling.js';
import type { SignedRecord } from '../../../shared/records.js';
import { newIdentity, newRecord } from '../../helpers/client.js';
import { CLIENT_KEYS, CLIENT_TYPES, clientMessage, signalTo } from '../arbitraries/signaling.js';
import { must, type Verdict } from '../check.js';
import {
  FUZZ_TURN,
  inProcessHub,
  socketHub,
  type ClientEnd,
  sameCounts,
  type HubUnderTest,
  type ServerEvent,
} from '../hub-harness.js';
import { mutatedBytes } from '../mutate.js';
import { defineTarget, type Fuzzer } from '../target.js';
import { hostileFrames } from './signaling.js';

const NETWORK = 'fuzz';

type Frame =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array; readonly binary: boolean };

interface HubCase {
  /** From a registered connection, or as the first frame of a fresh one. */
  readonly stage: 'registered' | 'fresh';
  readonly frame: Frame;
}

/** The parties: A sends every fuzzed frame, B is registered to receive relays, C is a valid ID nobody registered. */
interface Cast {
  readonly a: Identity;
  readonly b: Identity;
  readonly c: Identity;
  readonly records: { readonly a: SignedRecord; readonly b: SignedRecord; readonly updates: readonly SignedRecord[] };
}

async function cast(): Promise<Cast> {
  const [a, b, c] = await Promise.all([newIdentity(), newIdentity(), newIdentity()]);
  const updates = await Promise.all([2, 3, 4, 5].map((seq) => newRecord(a, NETWORK, seq)));
  return { a, b, c, records: { a: await newRecord(a, NETWORK), b: await newRecord(b, NETWORK), updates } };
}

function frames({ a, b, c, records }: Cast): fc.Arbitrary<Frame> {
  const pool = [records.a, records.b, ...records.updates].map((signed) => signed.bytes);
  const recordBytes = fc.oneof(fc.constantFrom(...pool), fc.uint8Array({ minLength: 1, maxLength: 1024 }));
  const texts = hostileFrames(
    clientMessage([a.id, b.id, c.id], recordBytes),
    encodeClientMessage,
    CLIENT_KEYS,
    CLIENT_TYPES,
    signalTo([a.id, b.id, c.id]),
    'payload',
  ).map((frame) => frame.text);
  return fc.oneof(
    { weight: 16, arbitrary: texts.map((text): Frame => ({ kind: 'text', text })) },
    // Text frames that are not UTF-8, and binary frames.
    {
      weight: 2,
      arbitrary: mutatedBytes(texts.map(utf8)).map((bytes): Frame => ({ kind: 'bytes', bytes, binary: false })),
    },
    {
      weight: 1,
      arbitrary: fc
        .oneof(texts.map(utf8), fc.uint8Array({ maxLength: 200 }))
        .map((bytes): Frame => ({ kind: 'bytes', bytes, binary: true })),
    },
  );
}

const bytesOf = (frame: Frame): Uint8Array => (frame.kind === 'text' ? utf8(frame.text) : frame.bytes);
const binaryOf = (frame: Frame): boolean => frame.kind === 'bytes' && frame.binary;

function describeEvent(event: ServerEvent): string {
  if (event.kind === 'close') return `a close (${event.code})`;
  if (event.kind === 'unparsable') return `a frame the client refuses (${event.reason}; ${event.length} characters)`;
  return `a '${event.message.type}' message`;
}

function expectError(event: ServerEvent, code: ErrorCode | readonly ErrorCode[], ref: number | undefined): void {
  const codes: readonly ErrorCode[] = typeof code === 'string' ? [code] : code;
  must(
    event.kind === 'message' &&
      event.message.type === 'error' &&
      (codes as readonly string[]).includes(event.message.code),
    `expected an error ${codes.join('|')}, got ${describeEvent(event)}${event.kind === 'message' && event.message.type === 'error' ? ` ${event.message.code}` : ''}`,
  );
  must(event.message.ref === ref, `the error's ref is ${String(event.message.ref)}, not ${String(ref)}`);
}

function expectClose(event: ServerEvent, code: number): void {
  must(event.kind === 'close' && event.code === code, `expected a close (${code}), got ${describeEvent(event)}`);
}

function expectMessage<T extends ServerMessage['type']>(
  event: ServerEvent,
  type: T,
): Extract<ServerMessage, { type: T }> {
  must(
    event.kind === 'message' && event.message.type === type,
    `expected a '${type}' message, got ${describeEvent(event)}`,
  );
  return event.message as Extract<ServerMessage, { type: T }>;
}

const RECORD_UPDATE_CODES = [
  ErrorCode.RECORD_TOO_LARGE,
  ErrorCode.RECORD_MALFORMED,
  ErrorCode.RECORD_BAD_SIGNATURE,
  ErrorCode.RECORD_EXPIRED,
  ErrorCode.RECORD_FUTURE_DATED,
  ErrorCode.RECORD_LIFETIME_TOO_LONG,
  ErrorCode.RECORD_STALE,
  ErrorCode.NETWORK_MISMATCH,
  ErrorCode.ID_MISMATCH,
];

/** A registered connection of `identity`: connect, answer the challenge, wait for the welcome. */
async function register(hub: HubUnderTest, identity: Identity, record: SignedRecord): Promise<ClientEnd> {
  const { end, challenge } = await hub.connect();
  const signed = registrationBytes(challenge.nonce, challenge.server, NETWORK, identity.id);
  const answer: ClientMessage = {
    type: 'register',
    id: identity.id,
    network: NETWORK,
    record: record.bytes,
    signature: await identity.sign(Purpose.REGISTER, signed),
  };
  end.send(utf8(encodeClientMessage(answer)), false);
  expectMessage(await end.next('the welcome'), 'welcome');
  return end;
}

/** One fuzzing session against a hub: A and B registered, A re-registered whenever a frame closes it. */
async function hubFuzzer(hub: HubUnderTest): Promise<Fuzzer<HubCase>> {
  const parties = await cast();
  let a = await register(hub, parties.a, parties.records.a);
  let b = await register(hub, parties.b, parties.records.b);
  /** False while a case runs: a case that failed midway leaves waits and answers behind. */
  let settled = true;
  const baseline = { sessions: 2, pending: 0, registered: 2 };
  const countsComeBack = async (when: string): Promise<void> => {
    const counts = await hub.settledCounts(baseline);
    must(sameCounts(counts, baseline), `connections did not come back ${when}: ${JSON.stringify(counts)}`);
  };

  /** What A's registered connection must get for a frame the parser took. */
  const answered = async (message: ClientMessage): Promise<void> => {
    const next = (): Promise<ServerEvent> => a.next(`the answer to a '${message.type}'`);
    switch (message.type) {
      case 'signal': {
        // What the recipient would get must fit the frame cap its parser holds it to.
        if (encodeSignalDelivery(parties.a.id, message.payload).length > MAX_SIGNALING_FRAME_BYTES)
          expectError(await next(), ErrorCode.FRAME_TOO_LARGE, message.ref);
        else if (message.to === parties.a.id || message.to === parties.b.id) {
          const to = message.to === parties.a.id ? a : b;
          const delivery = expectMessage(await to.next('a relayed signal'), 'signal');
          must(
            delivery.from === parties.a.id && delivery.payload === message.payload,
            'a relayed signal arrived altered',
          );
        } else if (parsePeerId(message.to).ok) expectError(await next(), ErrorCode.UNKNOWN_PEER, message.ref);
        else expectError(await next(), ErrorCode.BAD_FIELD, message.ref);
        return;
      }
      case 'peers': {
        const answer = expectMessage(await next(), 'peers');
        must(answer.ref === message.ref, 'a sample with another ref');
        must(answer.peers.length <= message.max, 'a sample larger than asked for');
        must(
          answer.peers.every((text) => text === parties.records.b.text),
          'a sample with a record of no registered peer',
        );
        return;
      }
      case 'record': {
        const event = await next();
        if (event.kind === 'message' && event.message.type === 'ok')
          must(event.message.ref === message.ref, 'an ok with another ref');
        else expectError(event, RECORD_UPDATE_CODES, message.ref);
        return;
      }
      case 'turn': {
        const answer = expectMessage(await next(), 'turn');
        must(
          answer.ref === message.ref && answer.turn.urls.join() === FUZZ_TURN.urls.join(),
          'credentials for other URLs',
        );
        return;
      }
      case 'register':
        expectError(await next(), ErrorCode.ALREADY_REGISTERED, undefined);
        return;
    }
  };

  const registered = async (frame: Frame): Promise<Verdict> => {
    const bytes = bytesOf(frame);
    const binary = binaryOf(frame);
    const transport = hub.transportClose(bytes, binary);
    a.send(bytes, binary);
    if (transport !== undefined) {
      expectClose(await a.next('the transport’s close'), transport);
      return 'refused';
    }
    if (binary) {
      expectError(await a.next('the refusal of a binary frame'), ErrorCode.BAD_FRAME, undefined);
      expectClose(await a.next('the close after a binary frame'), CloseCode.UNSUPPORTED_DATA);
      return 'refused';
    }
    const parsed = parseClientMessage(Buffer.from(bytes).toString('utf8'));
    if (!parsed.ok) {
      // A registered connection stays up: the error, and nothing else.
      expectError(await a.next('the refusal of a bad frame'), parsed.error.code, undefined);
      return 'refused';
    }
    await answered(parsed.value);
    return 'accepted';
  };

  const fresh = async (frame: Frame): Promise<Verdict> => {
    const { end } = await hub.connect();
    const bytes = bytesOf(frame);
    const binary = binaryOf(frame);
    const transport = hub.transportClose(bytes, binary);
    end.send(bytes, binary);
    if (transport !== undefined) {
      expectClose(await end.next('the transport’s close'), transport);
      await countsComeBack('after a frame ws refused');
      return 'refused';
    }
    const parsed = binary ? undefined : parseClientMessage(Buffer.from(bytes).toString('utf8'));
    const first = await end.next('the refusal before registration');
    must(first.kind === 'message' && first.message.type === 'error', `expected an error, got ${describeEvent(first)}`);
    const code = first.message.code as ErrorCode;
    if (parsed === undefined) expectError(first, ErrorCode.BAD_FRAME, undefined);
    else if (!parsed.ok) expectError(first, parsed.error.code, undefined);
    else if (parsed.value.type !== 'register') expectError(first, ErrorCode.NOT_REGISTERED, undefined);
    // Before registration every refusal ends the connection, with the close code its error calls for.
    expectClose(
      await end.next('the close before registration'),
      binary ? CloseCode.UNSUPPORTED_DATA : registrationCloseCode(code),
    );
    await countsComeBack('after a refused connection');
    return parsed?.ok === true ? 'accepted' : 'refused';
  };

  return {
    input: fc.record({
      stage: fc.oneof(
        { weight: 9, arbitrary: fc.constant('registered' as const) },
        { weight: 1, arbitrary: fc.constant('fresh' as const) },
      ),
      frame: frames(parties),
    }),
    async: true,
    check: async ({ stage, frame }) => {
      if (!settled) {
        // After a failure (and while fast-check shrinks it), each case starts from fresh connections.
        await Promise.all([a.close(), b.close()]);
        [a, b] = [await register(hub, parties.a, parties.records.a), await register(hub, parties.b, parties.records.b)];
      }
      settled = false;
      if (a.closed) a = await register(hub, parties.a, parties.records.a);
      must(a.queued === 0 && b.queued === 0, 'the server sent something nobody asked for');
      const verdict = stage === 'registered' ? await registered(frame) : await fresh(frame);
      must(!b.closed, 'a frame from A closed B’s connection');
      settled = true;
      return verdict;
    },
    close: async () => {
      if (a.closed) a = await register(hub, parties.a, parties.records.a);
      // The server is still up and relays between honest peers.
      a.send(utf8(encodeClientMessage({ type: 'signal', to: parties.b.id, payload: 'still there?' })), false);
      must(
        expectMessage(await b.next('a last relay'), 'signal').payload === 'still there?',
        'the last relay arrived altered',
      );
      await countsComeBack('after the run');
      await Promise.all([a.close(), b.close()]);
      const none = { sessions: 0, pending: 0, registered: 0 };
      const last = await hub.settledCounts(none);
      await hub.close();
      must(sameCounts(last, none), `connections left after every client hung up: ${JSON.stringify(last)}`);
    },
  };
}

export const hubTarget = defineTarget<HubCase>({
  name: 'hub',
  about:
    'the real Hub in process: fuzzed frames from a registered connection and from fresh ones; every answer checked',
  prepare: () => hubFuzzer(inProcessHub()),
});

export const hubSocketTarget = defineTarget<HubCase>({
  name: 'hub-ws',
  about: 'the real server on port 0 through real ws sockets: the same frames, ws’s own refusals included',
  // A socket round trip (and now and then a new connection) per case: a tenth of the codecs' count.
  share: 0.1,
  prepare: async () => hubFuzzer(await socketHub()),
});
