/** What instances write to Redis and to each other: round trips, every cap, hostile values; and the CLI's Redis flags. */
import { describe, expect, it } from 'vitest';
import { encodeSignalDelivery } from '../../shared/protocol/signaling.js';
import {
  MAX_RELAYED_FRAME_CHARS,
  deliverySender,
  encodePresence,
  encodeReplacedMessage,
  encodeSignalMessage,
  parseInstanceMessage,
  parsePresence,
} from '../../signaling-server/cluster-wire.js';
import { parseCli, UsageError } from '../../signaling-server/config.js';
import { MAX_SIGNAL_PAYLOAD_CHARS } from '../../shared/limits.js';
import { newIdentity } from '../helpers/client.js';

const instance = 'a'.repeat(32);
const token = `${instance}.7`;

describe('the sender of a delivery frame', () => {
  it('is the ID encodeSignalDelivery stamped, and nothing for frames that do not begin as deliveries do', async () => {
    const { id } = await newIdentity();
    expect(deliverySender(encodeSignalDelivery(id, 'payload with "quotes"'))).toBe(id);
    expect(deliverySender(`{"v":1,"t":"signal","from":"${id}`)).toBeUndefined();
    expect(deliverySender(`{"v":1,"t":"signal","from":"not-an-id","payload":""}`)).toBeUndefined();
    expect(deliverySender(`{"v":2,"t":"signal","from":"${id}","payload":""}`)).toBeUndefined();
    expect(deliverySender(`{"t":"signal","v":1,"from":"${id}","payload":""}`)).toBeUndefined();
    expect(deliverySender('')).toBeUndefined();
  });
});

describe('presence values', () => {
  it('round-trip', () => {
    expect(parsePresence(encodePresence(token, 123, 'AbC-_9'))).toEqual({
      ok: true,
      value: { token, instance, recordExpiresAt: 123, recordText: 'AbC-_9' },
    });
  });

  it.each([
    ['', 'not three fields'],
    [`${token} 123`, 'not three fields'],
    [`nottoken 123 abc`, 'token'],
    [`${'A'.repeat(32)}.7 123 abc`, 'token'],
    [`${token} -1 abc`, 'expiry'],
    [`${token} 1e9 abc`, 'expiry'],
    [`${token} 123 a b`, 'record'],
    [`${token} 123 a+b`, 'record'],
    [`${token} 123 ${'a'.repeat(5000)}`, 'cap'],
  ])('refuse %j (%s)', (value, reason) => {
    const parsed = parsePresence(value);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(reason);
  });
});

describe('instance messages', () => {
  it('round-trip a signal (the frame verbatim, any payload) and a replacement notice', async () => {
    const [from, to] = await Promise.all([newIdentity(), newIdentity()]);
    const frame = encodeSignalDelivery(from.id, 'line\nbreak "and" \u2028 \\');
    expect(parseInstanceMessage(encodeSignalMessage(instance, 5, 'net', to.id, frame))).toEqual({
      ok: true,
      value: { kind: 'signal', origin: instance, seq: 5, network: 'net', to: to.id, frame },
    });
    expect(parseInstanceMessage(encodeReplacedMessage(instance, 6, 'net', to.id, token))).toEqual({
      ok: true,
      value: { kind: 'replaced', origin: instance, seq: 6, network: 'net', id: to.id, token },
    });
  });

  it('take the largest frame encodeSignalDelivery can make, and nothing larger', async () => {
    const [from, to] = await Promise.all([newIdentity(), newIdentity()]);
    // Control characters escape to six characters each: the worst case.
    const frame = encodeSignalDelivery(from.id, '\u0001'.repeat(MAX_SIGNAL_PAYLOAD_CHARS));
    expect(frame.length).toBeLessThanOrEqual(MAX_RELAYED_FRAME_CHARS);
    expect(parseInstanceMessage(encodeSignalMessage(instance, 1, 'n', to.id, frame)).ok).toBe(true);
    const over = `{"v":1,${' '.repeat(MAX_RELAYED_FRAME_CHARS)}}`;
    expect(parseInstanceMessage(encodeSignalMessage(instance, 1, 'n', to.id, over)).ok).toBe(false);
  });

  it('refuse malformed headers, unknown kinds and frames that are not deliveries', async () => {
    const to = (await newIdentity()).id;
    const frame = '{"v":1}';
    for (const text of [
      '',
      `s ${instance} 1 net ${to}`, // no frame
      `s ${instance} 1 net ${to}\nnot json`,
      `s ${instance.slice(1)} 1 net ${to}\n${frame}`,
      `s ${instance} -1 net ${to}\n${frame}`,
      `s ${instance} 1 bad/net ${to}\n${frame}`,
      `s ${instance} 1 net tm1short\n${frame}`,
      `s ${instance} 1 net ${to} extra\n${frame}`,
      `x ${instance} 1 net ${to}\n${frame}`,
      `r ${instance} 1 net ${to} nottoken`,
      `r ${instance} 1 net ${to} ${token}\n${frame}`,
      `s ${instance} 1 ${'n'.repeat(300)} ${to}\n${frame}`,
    ]) {
      expect(parseInstanceMessage(text).ok, JSON.stringify(text.slice(0, 80))).toBe(false);
    }
  });
});

describe('CLI: Redis flags', () => {
  it('read --redis and the presence bounds, from flags or the environment', () => {
    expect(
      parseCli(['--redis', 'redis://127.0.0.1:6379', '--presence-ttl-ms', '20000'], {
        TABMESH_PRESENCE_REFRESH_MS: '5000',
        TABMESH_REDIS_TIMEOUT_MS: '250',
      }).options,
    ).toEqual({
      redis: 'redis://127.0.0.1:6379',
      presenceTtlMs: 20_000,
      presenceRefreshMs: 5_000,
      redisCommandTimeoutMs: 250,
    });
  });

  it.each([
    [['--redis', 'http://x']],
    [['--redis', 'redis://a b']],
    [['--presence-ttl-ms', '1000', '--presence-refresh-ms', '1000']],
    [['--presence-ttl-ms', '0']],
    [['--redis-timeout-ms', 'soon']],
  ])('refuse %j', (argv) => {
    expect(() => parseCli(argv, {})).toThrow(UsageError);
  });
});
