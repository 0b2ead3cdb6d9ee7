/**
 * Tabs in homes behind NATs, as over the Internet: the NAT lab
 * (test/helpers/lab.ts) puts each home's Chromium behind a router of its own
 * (Linux namespaces and iptables), and the real `tabmesh-signal` (the built
 * CLI, serving the built page and answering STUN) and coturn on a public
 * network between them. Each Chromium runs as a user's would: host
 * candidates hidden behind mDNS names, no loopback. Which path ICE chose is
 * read from the node (`measureLinks()`: the selected pair's candidate types).
 *
 * Homes: a, b and c behind port-preserving NATs (endpoint-independent
 * mapping, port-restricted filtering, as most home routers); s1 and s2
 * behind symmetric NATs (a new outside port per destination, as some
 * carrier-grade NATs), which only a relay joins. One case puts Firefox
 * (test/helpers/firefox.ts, launched in home a's namespace) in a home.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import type { LinkInfo } from '../../web/tabmesh.js';
import { firefoxTab, launchFirefox } from '../helpers/firefox.js';
import { SIGNAL_PORT, TURN_PORT, useLab } from '../helpers/lab/fixture.js';
import { isSettledMesh, waitForMesh } from '../helpers/mesh.js';
import {
  collectMessages,
  idOf,
  reportOnFailure,
  waitForMessages,
  waitForNode,
  waitForPeer,
  type Tab,
} from '../helpers/tabs.js';

const net = useLab({
  homes: [
    { name: 'a', nat: 'port-preserving' },
    { name: 'b', nat: 'port-preserving' },
    { name: 'c', nat: 'port-preserving' },
    { name: 's1', nat: 'symmetric' },
    { name: 's2', nat: 'symmetric' },
  ],
});

type Path = NonNullable<LinkInfo['path']>;

/** The tab's link to `peer`, its figures read now (the selected pair's types among them). */
async function linkTo(page: Page, peer: PeerId): Promise<LinkInfo> {
  const links = await page.evaluate(() => window.tabmesh?.measureLinks() ?? []);
  const link = links.find((l) => l.peer === peer);
  if (link === undefined) throw new Error(`no link to ${peer}: ${JSON.stringify(links)}`);
  return link;
}

/** The selected pair of the tab's link to `peer`, once the node has read one. */
async function pathTo(page: Page, peer: PeerId): Promise<Path> {
  const { path } = await linkTo(page, peer);
  if (path === undefined) throw new Error(`the link to ${peer} has no path read: measureLinks() gave none`);
  return path;
}

/** Time from the start of the tab's page load to its first confirmed channel, in ms. */
function firstChannelMs(page: Page): Promise<number> {
  return page.evaluate(() => {
    const times = (window.tabmesh?.links() ?? []).flatMap((l) => (l.connectedAt === undefined ? [] : [l.connectedAt]));
    return Math.round(Math.min(...times) - performance.timeOrigin);
  });
}

/** `from` sends `text` to `to` over their channel; resolves once `to` has it, from `from`. */
async function exchange(from: Page, to: Page, text: string): Promise<void> {
  const read = await collectMessages(to);
  const [idFrom, idTo] = await Promise.all([idOf(from), idOf(to)]);
  await from.evaluate(([peer, data]) => window.tabmesh?.send(peer, data), [idTo, text] as const);
  await waitForMessages(to, text, 1);
  expect((await read()).filter((m) => m.data === text)).toEqual([{ from: idFrom, data: text, broadcast: false }]);
}

/** Ends of a path through NATs: the mapping STUN reported, or one learnt from a check. */
const reflexive = ['srflx', 'prflx'];
/** Ends of a path within one LAN: the host's own address, or that address learnt from a check. */
const lan = ['host', 'prflx'];

/**
 * Resolves once coturn has allocated a relay for one of these tabs under the
 * username the server minted for it (`<expiry>:<peer ID>`). One, not each: a
 * tab whose ICE connects before its own allocation is made stops gathering
 * (Chromium gathers once), and never asks.
 */
async function allocated(...ids: PeerId[]): Promise<void> {
  await net.turn.logLine(
    new RegExp(`user <\\d+:(${ids.join('|')})>: incoming packet ALLOCATE processed, success`),
    `coturn's allocation for one of ${ids.join(', ')}`,
  );
}

/** The tab's first RELAY_NEEDED warning (a `warning` event: code, message, peer), within 30 s. */
function relayNeeded(page: Page): Promise<{ message: string; peer: PeerId | undefined }> {
  return waitForNode(
    page,
    'warning',
    (detail) => detail?.code === 'RELAY_NEEDED' && { message: detail.message, peer: detail.peer },
    { what: 'code RELAY_NEEDED' },
  );
}

/** Resolves once the tab has noticed its signaling server is gone. */
async function signalingLost(page: Page): Promise<void> {
  await waitForNode(page, 'status', (_, node) => node.status.signaling !== 'connected', {
    timeoutMs: 10_000,
    what: 'signaling lost',
  });
}

describe('tabs in homes behind NATs', () => {
  it('behind port-preserving NATs, connect with the server defaults alone, on a reflexive pair', async ({
    annotate,
  }) => {
    const server = await net.server();
    const a = await net.tab('a', server, { network: 'pp' });
    const b = await net.tab('b', server, { network: 'pp' });
    reportOnFailure(() => [
      ['home a', a],
      ['home b', b],
    ]);
    const [idA, idB] = await Promise.all([idOf(a), idOf(b)]);
    await Promise.all([waitForPeer(a, idB), waitForPeer(b, idA)]);
    await annotate(`first channel ${await firstChannelMs(b)} ms after the second tab began loading`, 'timing');
    // Each side sees the other's NAT mapping (learnt from STUN, or from its checks), never a LAN address.
    for (const [page, peer] of [
      [a, idB],
      [b, idA],
    ] as const) {
      const path = await pathTo(page, peer);
      expect(reflexive, JSON.stringify(path)).toContain(path.local);
      expect(reflexive, JSON.stringify(path)).toContain(path.remote);
    }
    await exchange(a, b, 'through two NATs');
  });

  it('behind symmetric NATs, connect through coturn with the credentials the server minted, on a relayed pair', async ({
    annotate,
  }) => {
    const server = await net.server({ turn: true });
    const s1 = await net.tab('s1', server, { network: 'sym-turn' });
    const s2 = await net.tab('s2', server, { network: 'sym-turn' });
    reportOnFailure(() => [
      ['home s1', s1],
      ['home s2', s2],
    ]);
    const [id1, id2] = await Promise.all([idOf(s1), idOf(s2)]);
    await Promise.all([waitForPeer(s1, id2), waitForPeer(s2, id1)]);
    await annotate(`first channel ${await firstChannelMs(s2)} ms after the second tab began loading`, 'timing');
    // One end at least is coturn's relay address; the other may be the
    // peer-reflexive mapping its NAT made towards that relay (each side may
    // send through the other's allocation: both can read {prflx, relay}).
    for (const [page, peer] of [
      [s1, id2],
      [s2, id1],
    ] as const) {
      const path = await pathTo(page, peer);
      expect([path.local, path.remote], JSON.stringify(path)).toContain('relay');
    }
    await exchange(s1, s2, 'through the relay');
    await allocated(id1, id2);
  });

  it('behind symmetric NATs without TURN, fail with RELAY_NEEDED on both sides and leave nothing open', async ({
    annotate,
  }) => {
    const server = await net.server();
    const s1 = await net.tab('s1', server, { network: 'sym-bare' });
    // Waited for from before the other tab exists, so neither side's warning is missed.
    const warned1 = relayNeeded(s1);
    const started = Date.now();
    const s2 = await net.tab('s2', server, { network: 'sym-bare' });
    // s2 dials s1 once it has joined; its ICE gives up seconds after this wait begins.
    const warned2 = relayNeeded(s2);
    reportOnFailure(() => [
      ['home s1', s1],
      ['home s2', s2],
    ]);
    const [id1, id2] = await Promise.all([idOf(s1), idOf(s2)]);
    // connect() waits on that attempt (or makes one) and rejects with its code.
    const outcome = await s2.evaluate(
      (peer) =>
        window.tabmesh?.connect(peer).then(
          () => ({ code: 'connected', message: '' }),
          (error: unknown) => ({ code: (error as { code?: string }).code, message: String(error) }),
        ),
      id1,
    );
    await annotate(`RELAY_NEEDED ${Date.now() - started} ms after the second tab began loading`, 'timing');
    expect(outcome?.code, outcome?.message).toBe(ErrorCode.RELAY_NEEDED);
    expect(outcome?.message).toMatch(/a TURN relay is needed/);
    // Each side said so, naming the other (s1's ICE gave up too, or s2's bye told it).
    for (const [warned, peer] of [
      [warned1, id2],
      [warned2, id1],
    ] as const) {
      const warning = await warned;
      expect(warning.peer).toBe(peer);
      expect(warning.message).toMatch(/relay is needed/);
    }
    // Nothing half-open: no channel, and no link in any state, on either side.
    for (const page of [s1, s2]) {
      expect(await page.evaluate(() => window.tabmesh?.connections())).toEqual([]);
      expect(await page.evaluate(() => window.tabmesh?.links())).toEqual([]);
    }
  });

  it('with the server stopped, opens a channel between two homes by signalling through the mesh', async ({
    annotate,
  }) => {
    // STUN from the server and from coturn, as docs/SELF-HOSTING.md advises
    // where coturn runs: the server's own responder stops with it, and
    // without a STUN server a new connection between two NATed homes finds
    // no path (each side knows only its private address).
    const stun = [SIGNAL_PORT, TURN_PORT].map((port) => `stun:${net.lab.publicAddress}:${port}`).join(',');
    const server = await net.server({ args: ['--stun-urls', stun] });
    // Four tabs of at most two channels each settle into a ring, where the
    // two pairs across have no channel; home c has two of them.
    const homes = ['a', 'b', 'c', 'c'] as const;
    const tabs: Page[] = [];
    for (const home of homes) tabs.push(await net.tab(home, server, { network: 'ring', maxConnections: '2' }));
    reportOnFailure(() => tabs.map((tab, i) => [`tab ${i} in home ${homes[i] ?? '?'}`, tab]));
    const ids = await Promise.all(tabs.map(idOf));
    const ring = await waitForMesh(tabs, (s) => isSettledMesh(s) && s.every((t) => t.connections.length === 2));
    const across = ring.flatMap((state, i) =>
      ring.flatMap((other, j) =>
        j > i && homes[i] !== homes[j] && !state.connections.includes(other.id) ? [[i, j]] : [],
      ),
    );
    const [i, j] = across[0] ?? [];
    const from = i === undefined ? undefined : tabs[i];
    const to = j === undefined ? undefined : tabs[j];
    if (from === undefined || to === undefined || i === undefined || j === undefined)
      throw new Error(`no unlinked pair across homes in the ring: ${JSON.stringify(ring)}`);
    await server.stop();
    await Promise.all(tabs.map(signalingLost));
    const before = Date.now();
    await from.evaluate((peer) => window.tabmesh?.connect(peer), ids[j] as PeerId);
    await annotate(`channel through the mesh in ${Date.now() - before} ms`, 'timing');
    const link = await linkTo(from, ids[j] as PeerId);
    expect(link.via).toBe('mesh');
    expect((await linkTo(to, ids[i] as PeerId)).via).toBe('mesh');
    expect(reflexive).toContain(link.path?.local);
    expect(reflexive).toContain(link.path?.remote);
    await exchange(from, to, 'signalled through the mesh');
  });

  it('a Firefox tab behind one NAT and a Chromium tab behind another connect on a reflexive pair', async ({
    annotate,
  }) => {
    const server = await net.server();
    const { namespace } = net.lab.home('a');
    // Firefox as a user has it (mDNS host candidates), in home a; its pages
    // come over plain http from the public address, which stands for https.
    const firefox = await launchFirefox({
      exec: (command) => ['ip', ['netns', 'exec', namespace, ...command]],
      secureHost: net.lab.publicAddress,
    });
    net.defer(() => firefox.close());
    const fx = await firefoxTab(await firefox.browser.createBrowserContext(), server.httpUrl, 'network=ff-nat');
    const cr = await net.tab('b', server, { network: 'ff-nat' });
    reportOnFailure(() => [
      ['Firefox in home a', fx],
      ['Chromium in home b', cr],
    ]);
    const [idFx, idCr] = await Promise.all([idOf(fx), idOf(cr)]);
    await Promise.all([waitForPeer(fx, idCr), waitForPeer(cr, idFx)]);
    await annotate(`first channel ${await firstChannelMs(cr)} ms after the Chromium tab began loading`, 'timing');
    const path = await pathTo(cr, idFx);
    expect(reflexive, JSON.stringify(path)).toContain(path.local);
    expect(reflexive, JSON.stringify(path)).toContain(path.remote);
    // Messages both ways, each from the other's key.
    const tabs: [Tab, Tab, string][] = [
      [fx, cr, 'from Firefox, through two NATs'],
      [cr, fx, 'from Chromium, through two NATs'],
    ];
    for (const [from, to, text] of tabs) {
      const read = await collectMessages(to);
      const [idFrom, idTo] = from === fx ? [idFx, idCr] : [idCr, idFx];
      await from.evaluate(([peer, data]: readonly [PeerId, string]) => window.tabmesh?.send(peer, data), [idTo, text]);
      await waitForMessages(to, text, 1);
      expect((await read()).filter((m) => m.data === text)).toEqual([{ from: idFrom, data: text, broadcast: false }]);
    }
  });

  it('two tabs of one home connect within it, on a host pair, though a relay is offered', async ({ annotate }) => {
    const server = await net.server({ turn: true });
    const first = await net.tab('a', server, { network: 'lan' });
    const second = await net.tab('a', server, { network: 'lan' });
    reportOnFailure(() => [
      ['first tab of home a', first],
      ['second tab of home a', second],
    ]);
    const [id1, id2] = await Promise.all([idOf(first), idOf(second)]);
    await Promise.all([waitForPeer(first, id2), waitForPeer(second, id1)]);
    await annotate(`first channel ${await firstChannelMs(second)} ms after the second tab began loading`, 'timing');
    // Within the LAN: host candidates (behind mDNS names). A check that
    // arrives before the peer's name is resolved makes one end peer-reflexive
    // (its address learnt from the check): still the LAN address, as there
    // is no path through the NAT (no hairpinning) and the relay is not on it.
    for (const [page, peer] of [
      [first, id2],
      [second, id1],
    ] as const) {
      const path = await pathTo(page, peer);
      expect(lan, JSON.stringify(path)).toContain(path.local);
      expect(lan, JSON.stringify(path)).toContain(path.remote);
      expect([path.local, path.remote], JSON.stringify(path)).toContain('host');
    }
    await allocated(id1, id2);
    await exchange(first, second, 'across the living room');
  });
});
