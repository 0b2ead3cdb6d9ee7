/**
 * TURN with a real coturn on loopback (Debian's `coturn` package, in
 * shared-secret mode): relay-only tabs connect through it with the
 * credentials the signaling server minted, and do not with expired or forged
 * ones. Each tab has a browser context of its own.
 */
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PeerId } from '../../shared/identity/peer-id.js';
import { turnCredentialsUntil } from '../../signaling-server/turn.js';
import { useBrowser } from '../helpers/fixture.js';
import { TurnProcess } from '../helpers/processes.js';
import type { TestServer } from '../helpers/server.js';
import { collectMessages, idOf, waitForMessages, waitForPeer } from '../helpers/tabs.js';

/** coturn's secret for this run; a server that knows another one mints forged passwords. */
const SECRET = randomBytes(24).toString('base64url');
const WRONG_SECRET = randomBytes(24).toString('base64url');

const browser = useBrowser();
let turn: TurnProcess;

beforeAll(async () => {
  turn = await TurnProcess.start(SECRET);
  browser.defer(() => turn.stop());
}, 30_000);

/** A relay-only tab in a browser context of its own. */
async function relayTab(server: TestServer, network: string, iceServers?: RTCIceServer[]): Promise<Page> {
  const query = new URLSearchParams({ signaling: server.wsUrl, network, relay: '1' });
  if (iceServers !== undefined) query.set('ice', JSON.stringify(iceServers));
  return browser.fixtureTab('turn', query.toString(), 'tabmesh', await browser.newContext());
}

function selectedPairs(page: Page): Promise<{ local: string; remote: string }[]> {
  return page.evaluate(() =>
    (
      window as unknown as { turnTab: { selectedPairs(): Promise<{ local: string; remote: string }[]> } }
    ).turnTab.selectedPairs(),
  );
}

function configs(
  page: Page,
): Promise<{ iceTransportPolicy?: string; iceServers: { urls: unknown; username?: string }[] }[]> {
  return page.evaluate(() =>
    (
      window as unknown as {
        turnTab: { configs(): { iceTransportPolicy?: string; iceServers: { urls: unknown; username?: string }[] }[] };
      }
    ).turnTab.configs(),
  );
}

/** Dial `peer` from `page`: resolves with the outcome, bounded by the node's own connect timeout (20 s). */
function dial(page: Page, peer: PeerId): Promise<string> {
  return page.evaluate(
    (id) =>
      window.tabmesh?.connect(id).then(
        () => 'connected',
        (error: unknown) => (error as { code?: string }).code ?? String(error),
      ) ?? 'no node',
    peer,
  );
}

describe('TURN through coturn', () => {
  it('two relay-only tabs connect through coturn with the credentials the server minted, on a relayed pair', async () => {
    const server = await browser.signalingServer({ turnUrls: [turn.url], turnSecret: SECRET });
    const a = await relayTab(server, 'relay-ok');
    const b = await relayTab(server, 'relay-ok');
    const [idA, idB] = await Promise.all([idOf(a), idOf(b)]);
    await Promise.all([waitForPeer(a, idB), waitForPeer(b, idA)]);
    const read = await collectMessages(b);
    await a.evaluate((id) => window.tabmesh?.send(id, 'through the relay'), idB);
    await waitForMessages(b, 'through the relay', 1);
    expect(await read()).toEqual([{ from: idA, data: 'through the relay', broadcast: false }]);
    // Relayed at both ends: relay-only ICE gathers nothing else.
    for (const page of [a, b]) {
      const pairs = await selectedPairs(page);
      expect(pairs.length).toBeGreaterThan(0);
      for (const pair of pairs) expect(pair).toEqual({ local: 'relay', remote: 'relay' });
    }
    // Every peer connection was given the policy. Those for connections had
    // the server's STUN URL, then its TURN URL with a username of the
    // shared-secret scheme, `<unix expiry>:<peer ID>` (the first offer, made
    // before the challenge, had the STUN URL only, and was not used).
    const all = await configs(a);
    for (const config of all) expect(config.iceTransportPolicy).toBe('relay');
    const used = all.filter((config) => config.iceServers.some((server) => server.username !== undefined));
    expect(used.length).toBeGreaterThan(0);
    for (const config of used) {
      expect(config.iceServers.map((server) => server.urls)).toEqual([
        [`stun:127.0.0.1:${server.stunPort}`],
        [turn.url],
      ]);
      expect(config.iceServers[1]?.username).toMatch(new RegExp(`^\\d{10}:${idA}$`));
    }
    // coturn allocated for both tabs under their minted usernames.
    await turn.logLine(new RegExp(`user <\\d+:${idA}>: incoming packet ALLOCATE processed, success`), 'A allocation');
    await turn.logLine(new RegExp(`user <\\d+:${idB}>: incoming packet ALLOCATE processed, success`), 'B allocation');
  }, 60_000);

  it('relay-only tabs with expired credentials (minted an hour in the past) do not connect', async () => {
    const server = await browser.signalingServer();
    const nowMs = Date.now();
    const expiredS = Math.floor(nowMs / 1000) - 3600;
    const expired = (user: string): RTCIceServer => {
      const c = turnCredentialsUntil({ urls: [turn.url], secret: SECRET }, user, expiredS, nowMs);
      return { urls: [...c.urls], username: c.username, credential: c.credential };
    };
    const a = await relayTab(server, 'relay-expired', [expired('expired-a')]);
    const b = await relayTab(server, 'relay-expired', [expired('expired-b')]);
    const idA = await idOf(a);
    expect(await dial(b, idA)).toBe('CONNECT_FAILED');
    expect(await b.evaluate(() => window.tabmesh?.connections() ?? [])).toEqual([]);
    expect(await a.evaluate(() => window.tabmesh?.connections() ?? [])).toEqual([]);
    // coturn refused the expired username, and allocated nothing for it.
    await turn.logLine(new RegExp(`user <${expiredS}:expired-b>: .*error 401`), 'the refusal of the expired one');
  }, 60_000);

  it('relay-only tabs whose server signs with another secret (forged passwords) do not connect', async () => {
    const server = await browser.signalingServer({ turnUrls: [turn.url], turnSecret: WRONG_SECRET });
    const a = await relayTab(server, 'relay-forged');
    const b = await relayTab(server, 'relay-forged');
    const [idA, idB] = await Promise.all([idOf(a), idOf(b)]);
    expect(await dial(b, idA)).toBe('CONNECT_FAILED');
    expect(await b.evaluate(() => window.tabmesh?.connections() ?? [])).toEqual([]);
    expect(await a.evaluate(() => window.tabmesh?.connections() ?? [])).toEqual([]);
    await turn.logLine(new RegExp(`user <\\d+:${idB}>: .*error 401`), 'the refusal of the forged one');
  }, 60_000);
});
