/**
 * Tabmesh in Firefox (issue 17): Debian's firefox-esr in a network namespace
 * of its own (test/helpers/firefox.ts) and the tests' Chromium on this
 * machine, each running the real page served by the real signaling server.
 * Firefox's SDP (session-level fingerprint, its setup roles), its candidates
 * (mDNS host names, server-reflexive addresses), its storage and its Web
 * Crypto meet Chromium's here.
 */
import type { Page } from 'puppeteer-core';
import { describe, expect, it } from 'vitest';
import { useFirefox, waitForFirefoxStoredIdentity } from '../helpers/firefox.js';
import { useBrowser } from '../helpers/fixture.js';
import {
  collectMessages,
  idOf,
  reloadTab,
  reportOnFailure,
  type Tab,
  waitForMessages,
  waitForNode,
  waitForPeer,
} from '../helpers/tabs.js';

const browser = useBrowser();
const firefox = useFirefox(browser);

/** Whether the tab's one connected link is one it dialled (it sent the offer). */
function initiated(tab: Tab): Promise<boolean | undefined> {
  return tab.evaluate(() => window.tabmesh?.links().find((link) => link.state === 'connected')?.initiator);
}

/** The identity slot a Firefox tab holds (sessionStorage), once it has stored its identity. */
async function slotOf(tab: Page): Promise<string | null> {
  await waitForFirefoxStoredIdentity(tab);
  return tab.evaluate(() => sessionStorage.getItem('tabmesh:slot'));
}

/**
 * Resolves once no tab holds these identity slots' Web Locks, asked from
 * `probe`, a page of the same origin that runs no node: a closed tab's locks
 * are let go as its document goes, which may come a moment after the close.
 */
async function slotsReleased(probe: Page, slots: readonly number[]): Promise<void> {
  await probe.evaluate(
    async (names) => {
      for (const name of names) {
        await navigator.locks
          .request(name, { signal: AbortSignal.timeout(10_000) }, () => undefined)
          .catch(() => {
            throw new Error(`the Web Lock ${name} is still held 10 s after its tabs closed`);
          });
      }
    },
    slots.map((slot) => `tabmesh:identity:${slot}`),
  );
}

describe('Tabmesh in Firefox', () => {
  it('a Firefox tab and a Chromium tab connect, bound to their keys, and each gets the other’s broadcast exactly once', async () => {
    const server = await firefox.pageServer();
    const fx = await firefox.tab(server, 'network=ff-cr');
    const cr = await browser.tab(server, 'network=ff-cr', await browser.newContext({ trace: true }));
    reportOnFailure(() => [
      ['firefox', fx],
      ['chromium', cr],
    ]);
    expect(await fx.evaluate(() => navigator.userAgent)).toMatch(/ Firefox\/\d+/);
    const [idFx, idCr] = await Promise.all([idOf(fx), idOf(cr)]);
    // In connections() only once both signed SDPs' fingerprints and keys are confirmed by both sides.
    await Promise.all([waitForPeer(fx, idCr), waitForPeer(cr, idFx)]);
    // The later tab dials (a lone tab waits): Chromium's offer, Firefox's answer.
    expect(await initiated(fx)).toBe(false);
    const [readFx, readCr] = await Promise.all([collectMessages(fx), collectMessages(cr)]);
    await fx.evaluate(() => window.tabmesh?.broadcast('from firefox'));
    await cr.evaluate(() => window.tabmesh?.broadcast('from chromium'));
    await Promise.all([waitForMessages(cr, 'from firefox', 1), waitForMessages(fx, 'from chromium', 1)]);
    // A second round: once it is in, a copy of the first would have had all that time to arrive too.
    await fx.evaluate(() => window.tabmesh?.broadcast('again from firefox'));
    await cr.evaluate(() => window.tabmesh?.broadcast('again from chromium'));
    await Promise.all([waitForMessages(cr, 'again from firefox', 1), waitForMessages(fx, 'again from chromium', 1)]);
    expect(await readCr()).toEqual([
      { from: idFx, data: 'from firefox', broadcast: true },
      { from: idFx, data: 'again from firefox', broadcast: true },
    ]);
    expect(await readFx()).toEqual([
      { from: idCr, data: 'from chromium', broadcast: true },
      { from: idCr, data: 'again from chromium', broadcast: true },
    ]);
    // Nothing either side sent was refused (no BAD_SDP, no candidate or confirmation turned away).
    expect(await fx.evaluate(() => window.tabmesh?.problems())).toEqual({});
    expect(await cr.evaluate(() => window.tabmesh?.problems())).toEqual({});
  });

  it('a reloaded Firefox tab keeps its ID (from IndexedDB) and comes back to its Chromium neighbour', async () => {
    const server = await firefox.pageServer();
    const cr = await browser.tab(server, 'network=ff-reload', await browser.newContext({ trace: true }));
    const fx = await firefox.tab(server, 'network=ff-reload');
    reportOnFailure(() => [
      ['firefox', fx],
      ['chromium', cr],
    ]);
    const [idFx, idCr] = await Promise.all([idOf(fx), idOf(cr)]);
    await Promise.all([waitForPeer(fx, idCr), waitForPeer(cr, idFx)]);
    // Here Firefox came second: its offer (its first, made as the page started), Chromium's answer.
    expect(await initiated(fx)).toBe(true);
    await waitForFirefoxStoredIdentity(fx);
    // Chromium's next connection to that ID: the reloaded tab's, not the one it has now.
    const back = waitForNode(cr, 'peer:connect', (detail, _, peer) => detail?.peer === peer, {
      arg: idFx,
      what: `the reloaded Firefox tab ${idFx} connecting again`,
    });
    await reloadTab(fx);
    expect(await idOf(fx)).toBe(idFx);
    await Promise.all([back, waitForPeer(fx, idCr)]);
    expect(await cr.evaluate(() => window.tabmesh?.connections())).toEqual([idFx]);
  });

  it('two Firefox tabs opened together get distinct IDs, each stored identity goes to one of them, and they connect', async () => {
    const server = await firefox.pageServer();
    const profile = await firefox.context();
    const open = (): Promise<Page[]> => Promise.all([0, 1].map(() => firefox.tab(server, 'network=ff-slots', profile)));
    // First visits: two fresh keys, stored in two slots; a Web Lock decides who gets which.
    const first = await open();
    reportOnFailure(() => first.map((tab, i) => [`firefox ${i}`, tab] as const));
    const [a, b] = first;
    if (a === undefined || b === undefined) throw new Error('no tabs');
    const [idA, idB] = await Promise.all([idOf(a), idOf(b)]);
    expect(idA).not.toBe(idB);
    expect((await Promise.all(first.map(slotOf))).sort()).toEqual(['0', '1']);
    await Promise.all([waitForPeer(a, idB), waitForPeer(b, idA)]);
    await Promise.all(first.map((tab) => tab.close({ runBeforeUnload: true })));

    // Returning: both stored identities are free again, and each goes to exactly one of two tabs opened together.
    const probe = await profile.newPage();
    await probe.goto(`${server.firefoxUrl}/lock-probe`);
    await slotsReleased(probe, [0, 1]);
    await probe.close();
    const again = await open();
    reportOnFailure(() => again.map((tab, i) => [`firefox again ${i}`, tab] as const));
    const [c, d] = again;
    if (c === undefined || d === undefined) throw new Error('no tabs');
    const [idC, idD] = await Promise.all([idOf(c), idOf(d)]);
    expect([idC, idD].sort()).toEqual([idA, idB].sort());
    await Promise.all([waitForPeer(c, idD), waitForPeer(d, idC)]);
  });
});
