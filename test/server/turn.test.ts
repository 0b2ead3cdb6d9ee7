import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { parseCli, UsageError } from '../../signaling-server/config.js';
import { DEFAULTS } from '../../signaling-server/defaults.js';
import { createSignalingServer } from '../../signaling-server/server.js';
import {
  MAX_TURN_TTL_S,
  MIN_TURN_TTL_S,
  mintTurnCredentials,
  turnConfigProblem,
  turnCredentialsUntil,
} from '../../signaling-server/turn.js';
import { joined, TestClient } from '../helpers/client.js';
import { startServer } from '../helpers/server.js';

const ID = 'tm16adfsqvzky9t042tlmfujeq88g8wzuhnm2nzxfd0qgdx3ac82ydqe330cx';
const SECRET = 'north-sea-herring-1905';
const URLS = ['turn:turn.example:3478', 'turns:turn.example:5349?transport=tcp'];

describe('minting TURN credentials', () => {
  it('matches a known answer (computed apart, with Python hmac) and node:crypto recomputed here', () => {
    const now = 1_700_000_000_500;
    const minted = mintTurnCredentials({ urls: URLS, secret: SECRET, ttlS: 3600 }, ID, now);
    expect(minted.username).toBe(`1700003600:${ID}`);
    // python3 -c "import hmac,hashlib,base64; print(base64.b64encode(hmac.new(b'north-sea-herring-1905',
    //   b'1700003600:tm16adf…330cx', hashlib.sha1).digest()).decode())"
    expect(minted.credential).toBe('yBiCF7Ryek8mlerImsrgfgDqUTg=');
    expect(minted.credential).toBe(createHmac('sha1', SECRET).update(minted.username).digest('base64'));
    // The expiry is rounded down to the second: what is left is a little under the lifetime.
    expect(minted).toEqual({ urls: URLS, username: minted.username, credential: minted.credential, ttlMs: 3_599_500 });
  });

  it('names the expiry it is given, past ones too, with the same HMAC', () => {
    const expired = turnCredentialsUntil({ urls: URLS, secret: SECRET }, 'x', 1_000, 5_000_000);
    expect(expired.username).toBe('1000:x');
    expect(expired.credential).toBe(createHmac('sha1', SECRET).update('1000:x').digest('base64'));
    expect(expired.ttlMs).toBe(1);
  });

  it.each<[string, Parameters<typeof turnConfigProblem>[0]]>([
    ['no URLs', { urls: [], secret: SECRET, ttlS: 3600 }],
    ['nine URLs', { urls: new Array(9).fill('turn:a'), secret: SECRET, ttlS: 3600 }],
    ['a stun: URL', { urls: ['stun:a'], secret: SECRET, ttlS: 3600 }],
    ['two URLs in one', { urls: ['turn:a,turn:b'], secret: SECRET, ttlS: 3600 }],
    ['a short secret', { urls: URLS, secret: 'short', ttlS: 3600 }],
    ['a lifetime under the floor', { urls: URLS, secret: SECRET, ttlS: MIN_TURN_TTL_S - 1 }],
    ['a lifetime over the cap', { urls: URLS, secret: SECRET, ttlS: MAX_TURN_TTL_S + 1 }],
  ])('refuses a configuration with %s', (_what, config) => {
    expect(turnConfigProblem(config)).toBeTypeOf('string');
    expect(() =>
      createSignalingServer({ turnUrls: config.urls, turnSecret: config.secret, turnTtlS: config.ttlS }),
    ).toThrow(RangeError);
  });
});

describe('TURN options on the command line', () => {
  it('reads --turn-urls and --turn-ttl-s, and the secret from the environment', () => {
    const config = parseCli(['--turn-urls', URLS.join(','), '--turn-ttl-s', '600'], { TABMESH_TURN_SECRET: SECRET });
    expect(config.options).toEqual({ turnUrls: URLS, turnSecret: SECRET, turnTtlS: 600 });
    expect(DEFAULTS.turnTtlS).toBe(3600);
  });

  it.each([
    [['--turn-urls', 'turn:a']],
    [['--turn-secret', SECRET]],
    [['--turn-ttl-s', '600']],
    [['--turn-urls', 'http://a', '--turn-secret', SECRET]],
    [['--turn-urls', 'turn:a', '--turn-secret', SECRET, '--turn-ttl-s', '10']],
  ])('refuses %j', (argv) => {
    expect(() => parseCli(argv, {})).toThrow(UsageError);
  });

  it('never repeats the secret in a usage error', () => {
    const secret = 'too-short';
    expect(() => parseCli(['--turn-urls', 'turn:a', '--turn-secret', secret], {})).toThrow(UsageError);
    try {
      parseCli(['--turn-urls', 'turn:a', '--turn-secret', secret], {});
    } catch (error) {
      expect((error as Error).message).not.toContain(secret);
    }
  });
});

describe('a server with TURN', () => {
  it('announces credentials in the challenge, hands them out in the welcome, and fresh ones on request', async () => {
    const server = await startServer({ turnUrls: URLS, turnSecret: SECRET, turnTtlS: 600 });
    try {
      const client = new TestClient(server.wsUrl);
      const challenge = await client.next('challenge');
      expect(challenge.turn).toBe(true);
      client.close();
      const { client: tab, identity: id, welcome } = await joined(server.wsUrl);
      const turn = welcome.turn;
      if (turn === undefined) throw new Error('no credentials in the welcome');
      expect(turn.urls).toEqual(URLS);
      const [expiry, user] = turn.username.split(':');
      expect(user).toBe(id.id);
      expect(Number(expiry) * 1000).toBeGreaterThan(Date.now() + 590_000);
      expect(Number(expiry) * 1000).toBeLessThanOrEqual(Date.now() + 600_000);
      expect(turn.credential).toBe(createHmac('sha1', SECRET).update(turn.username).digest('base64'));
      expect(turn.ttlMs).toBeGreaterThan(590_000);
      expect(turn.ttlMs).toBeLessThanOrEqual(600_000);
      tab.send({ type: 'turn', ref: 9 });
      const fresh = await tab.next('turn');
      expect(fresh.ref).toBe(9);
      expect(fresh.turn.username.endsWith(`:${id.id}`)).toBe(true);
      expect(fresh.turn.credential).toBe(createHmac('sha1', SECRET).update(fresh.turn.username).digest('base64'));
      tab.close();
    } finally {
      await server.close();
    }
  });

  it('without TURN: no flag, no credentials, and a request is answered TURN_UNAVAILABLE', async () => {
    const server = await startServer();
    try {
      const client = new TestClient(server.wsUrl);
      const challenge = await client.next('challenge');
      expect('turn' in challenge).toBe(false);
      client.close();
      const { client: tab, welcome } = await joined(server.wsUrl);
      expect('turn' in welcome).toBe(false);
      tab.send({ type: 'turn', ref: 3 });
      const error = await tab.next('error');
      expect(error).toMatchObject({ code: ErrorCode.TURN_UNAVAILABLE, ref: 3 });
      tab.close();
    } finally {
      await server.close();
    }
  });
});
