/** Valid client <-> server messages (shared/protocol/signaling.ts), for round trips and as seeds for mutation. */
import fc from 'fast-check';
import type { PeerId } from '../../../shared/identity/peer-id.js';
import {
  MAX_SAMPLE_SIZE,
  MAX_STUN_URLS,
  MAX_TURN_CREDENTIAL_CHARS,
  MAX_TURN_TTL_MS,
  MAX_TURN_URLS,
  MAX_TURN_USERNAME_CHARS,
} from '../../../shared/limits.js';
import type { ClientMessage, ServerMessage, TurnCredentials } from '../../../shared/protocol/signaling.js';

export const ref = fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined });
export const network = fc.stringMatching(/^[A-Za-z0-9._~-]{1,64}$/);
const bytes = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: 1, maxLength: max });
const withRef = <T extends object>(m: T, r: number | undefined): T => (r === undefined ? m : { ...m, ref: r });

/** Every client message, naming peers from `ids`. */
export function clientMessage(
  ids: readonly PeerId[],
  records: fc.Arbitrary<Uint8Array> = bytes(1024),
): fc.Arbitrary<ClientMessage> {
  const peerId = fc.constantFrom(...ids);
  return fc.oneof(
    fc
      .record({ to: peerId, payload: fc.string({ maxLength: 300, unit: 'binary' }), ref })
      .map(({ to, payload, ref: r }) => withRef<ClientMessage>({ type: 'signal', to, payload }, r)),
    fc
      .record({ id: peerId, network, record: records, signature: fc.uint8Array({ minLength: 64, maxLength: 64 }) })
      .map((m): ClientMessage => ({ type: 'register', ...m })),
    fc
      .record({ max: fc.integer({ min: 1, max: MAX_SAMPLE_SIZE }), ref })
      .map(({ max, ref: r }) => withRef<ClientMessage>({ type: 'peers', max }, r)),
    fc
      .record({ record: records, ref })
      .map(({ record, ref: r }) => withRef<ClientMessage>({ type: 'record', record }, r)),
    ref.map((r) => withRef<ClientMessage>({ type: 'turn' }, r)),
  );
}

/** Signals to one of `ids`, with or without a ref. */
export function signalTo(ids: readonly PeerId[]): fc.Arbitrary<ClientMessage> {
  return fc
    .record({ to: fc.constantFrom(...ids), ref })
    .map(({ to, ref: r }) => withRef<ClientMessage>({ type: 'signal', to, payload: '' }, r));
}

/** The field names of client messages, for mutation. */
export const CLIENT_KEYS = ['v', 't', 'to', 'payload', 'ref', 'id', 'network', 'record', 'sig', 'max'] as const;
export const CLIENT_TYPES = ['signal', 'register', 'peers', 'record', 'turn'] as const;

export const turnCredentials: fc.Arbitrary<TurnCredentials> = fc.record({
  urls: fc.array(fc.stringMatching(/^turns?:[a-z0-9.:?=]{1,60}$/), { minLength: 1, maxLength: MAX_TURN_URLS }),
  username: fc.string({ maxLength: MAX_TURN_USERNAME_CHARS }),
  credential: fc.string({ maxLength: MAX_TURN_CREDENTIAL_CHARS }),
  ttlMs: fc.integer({ min: 1, max: MAX_TURN_TTL_MS }),
});

const code = fc.stringMatching(/^[A-Z][A-Z0-9_]{0,20}$/);

/** Every server message, naming peers from `ids`. */
export function serverMessage(ids: readonly PeerId[]): fc.Arbitrary<ServerMessage> {
  const peerId = fc.constantFrom(...ids);
  return fc.oneof(
    fc
      .record({ from: peerId, payload: fc.string({ maxLength: 300, unit: 'binary' }) })
      .map((m): ServerMessage => ({ type: 'signal', ...m })),
    fc
      .record({
        nonce: fc.uint8Array({ minLength: 32, maxLength: 32 }),
        server: fc.string({ maxLength: 128 }),
        now: fc.maxSafeNat(),
        expires: fc.maxSafeNat(),
        turn: fc.option(fc.constant(true as const), { nil: undefined }),
        stun: fc.option(
          fc.array(fc.stringMatching(/^stuns?:(?:[a-z0-9.-]{1,40}|\[[0-9a-f:]{2,39}\])(?::\d{1,5})?$/), {
            minLength: 1,
            maxLength: MAX_STUN_URLS,
          }),
          { nil: undefined },
        ),
      })
      .map(({ turn, stun, ...m }): ServerMessage => ({
        type: 'challenge',
        ...m,
        ...(turn === undefined ? {} : { turn }),
        ...(stun === undefined ? {} : { stun }),
      })),
    fc
      .record({
        id: peerId,
        network,
        peers: fc.array(
          fc.base64String({ maxLength: 100 }).map((s) => s.replace(/=/g, '')),
          { maxLength: 32 },
        ),
        limits: fc.record({
          maxFrameBytes: fc.integer({ min: 1 }),
          maxPayloadChars: fc.integer({ min: 1 }),
          rate: fc.integer({ min: 1 }),
          burst: fc.integer({ min: 1 }),
        }),
        turn: fc.option(turnCredentials, { nil: undefined }),
      })
      .map(({ turn, ...m }): ServerMessage =>
        turn === undefined ? { type: 'welcome', ...m } : { type: 'welcome', ...m, turn },
      ),
    fc
      .record({ turn: turnCredentials, ref })
      .map(({ turn, ref: r }) => withRef<ServerMessage>({ type: 'turn', turn }, r)),
    fc
      .record({ peers: fc.array(fc.constant('AAAA'), { maxLength: 32 }), ref })
      .map(({ peers, ref: r }) => withRef<ServerMessage>({ type: 'peers', peers }, r)),
    ref.map((r) => withRef<ServerMessage>({ type: 'ok' }, r)),
    fc
      .record({ code, message: fc.string({ maxLength: 512 }), ref })
      .map(({ code: c, message, ref: r }) => withRef<ServerMessage>({ type: 'error', code: c, message }, r)),
    fc
      .record({ reason: code, retryAfterMs: fc.option(fc.maxSafeNat(), { nil: undefined }) })
      .map(({ reason, retryAfterMs }) =>
        retryAfterMs === undefined
          ? ({ type: 'goaway', reason } as const)
          : ({ type: 'goaway', reason, retryAfterMs } as const),
      ),
  );
}

export const SERVER_KEYS = [
  'v',
  't',
  'from',
  'payload',
  'nonce',
  'server',
  'now',
  'expires',
  'peers',
  'turn',
  'stun',
  'id',
  'network',
  'limits',
  'ref',
  'code',
  'message',
  'reason',
  'retryAfterMs',
] as const;
export const SERVER_TYPES = ['challenge', 'welcome', 'signal', 'peers', 'ok', 'error', 'goaway', 'turn'] as const;
