/**
 * A hostile neighbour in the mesh, in real Chromium. A page running
 * fixtures/hostile-mesh.ts holds confirmed channels to a victim tab, which
 * also has an honest neighbour (so forwarding can be seen there), and writes
 * crafted RELAY and MEMBERSHIP frames to the victim. Each refusal is checked
 * on the victim's counters and on what the honest tab receives.
 *
 * "Nothing happened" is shown with a valid frame written after the hostile
 * ones on the same channel: a channel delivers in order and the victim
 * routes relay frames (and drops the ones it drops) as they come, so once the
 * valid one has had its effect, the hostile ones have had theirs. Refusals
 * that end in an asynchronous check (a signature) are awaited on their
 * counter first.
 *
 * The first tests share one hostile peer; the later ones get cut off, so
 * each brings a hostile peer of its own.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import {
  MAX_MEMBERSHIP_WALK_TTL,
  MAX_RECORDS_PER_MESSAGE,
  MAX_RELAY_PATH,
  MAX_RELAY_TTL,
  MEMBERSHIP_BURST,
  RELAY_BURST,
  RELAY_DROP_ALLOWANCE,
} from '../../shared/limits.js';
import type { MeshCounters } from '../../web/node/mesh.js';
import { useBrowser } from '../helpers/fixture.js';
import type { TestServer } from '../helpers/server.js';
import { collectMessages, idOf, reportOnFailure, waitForMessages, waitForNode, waitForPeer } from '../helpers/tabs.js';
import type { HostileMesh, RoutedFault } from './fixtures/hostile-mesh.js';

const NETWORK = 'mesh-adversity';
/** Bound on each wait for something that should happen. */
const WAIT_MS = 15_000;

const browser = useBrowser();
let server: TestServer;
let attackers: BrowserContext;
let victim: Page;
let honest: Page;
let victimId: PeerId;
let honestId: PeerId;
/** The hostile peer the first tests share, linked to both tabs. */
let first: Page;
/** Who the routed messages claim to come from. */
let sender: PeerId;

type Counts = Readonly<Record<string, number>>;
interface CutOff {
  readonly peer: string;
  readonly code: string | null;
  readonly reason: string;
}

/** Call a method of the hostile page's fixture. */
function call<K extends keyof HostileMesh>(
  page: Page,
  method: K,
  ...args: Parameters<HostileMesh[K]>
): Promise<Awaited<ReturnType<HostileMesh[K]>>> {
  return page.evaluate(
    ({ name, params }) => {
      const api = (window as unknown as { hostile: Record<string, (...a: unknown[]) => unknown> }).hostile;
      const method = api[name];
      if (method === undefined) throw new Error(`no fixture method ${name}`);
      return method(...params);
    },
    { name: method, params: args },
  ) as Promise<Awaited<ReturnType<HostileMesh[K]>>>;
}

/**
 * A hostile page of its own, linked (channel confirmed, seal key known) to
 * `peers`, in the victim's active view; closed after the test that opened it.
 */
async function openHostile(peers: readonly PeerId[]): Promise<{ page: Page; id: PeerId }> {
  const query = { network: NETWORK, signaling: server.wsUrl };
  const page = await browser.fixtureTab('hostile-mesh', query, 'hostile', attackers);
  browser.defer(() => page.close());
  reportOnFailure(() => [
    ['victim', victim],
    ['honest', honest],
    ['hostile', page],
  ]);
  for (const peer of peers) await call(page, 'link', peer, 45_000);
  const id = await call(page, 'id');
  await waitForActive(victim, id);
  return { page, id };
}

function problems(page: Page): Promise<Counts> {
  return page.evaluate(() => window.tabmesh?.problems() ?? {});
}

function meshStats(page: Page): Promise<MeshCounters> {
  return page.evaluate(() => {
    const node = window.tabmesh;
    if (node === undefined) throw new Error('no node');
    return node.meshStats();
  });
}

/** What changed between two tallies among `codes`, leaving out what did not. */
function changes(before: Counts, after: Counts, codes: readonly string[]): Counts {
  const changed: Record<string, number> = {};
  for (const code of codes) {
    const difference = (after[code] ?? 0) - (before[code] ?? 0);
    if (difference !== 0) changed[code] = difference;
  }
  return changed;
}

function statsChange(before: MeshCounters, after: MeshCounters): MeshCounters {
  return {
    sent: after.sent - before.sent,
    forwarded: after.forwarded - before.forwarded,
    delivered: after.delivered - before.delivered,
    dropped: after.dropped - before.dropped,
  };
}

/** Both tabs' refusal counts and mesh counters, to compare before and after. */
interface Tally {
  readonly victim: Counts;
  readonly honest: Counts;
  readonly victimStats: MeshCounters;
  readonly honestStats: MeshCounters;
}

async function tally(): Promise<Tally> {
  const [victimCounts, honestCounts, victimStats, honestStats] = await Promise.all([
    problems(victim),
    problems(honest),
    meshStats(victim),
    meshStats(honest),
  ]);
  return { victim: victimCounts, honest: honestCounts, victimStats, honestStats };
}

/**
 * Two hostile frames written for the honest tab were dropped at the victim,
 * and only the control went on: forwarded by the victim, delivered at the
 * honest tab, which refused nothing.
 */
async function expectOnlyControlForwarded(before: Tally): Promise<void> {
  expect(changes(before.honest, await problems(honest), RELAY_CODES)).toEqual({});
  expect(statsChange(before.victimStats, await meshStats(victim))).toEqual({
    sent: 0,
    forwarded: 1,
    delivered: 0,
    dropped: 2,
  });
  expect(statsChange(before.honestStats, await meshStats(honest))).toEqual({
    sent: 0,
    forwarded: 0,
    delivered: 1,
    dropped: 0,
  });
}

/** Resolves once each code has been counted `more[code]` times beyond `before`. */
async function waitForProblems(page: Page, before: Counts, more: Counts): Promise<void> {
  const want = Object.fromEntries(Object.entries(more).map(([code, n]) => [code, (before[code] ?? 0) + n]));
  await waitForNode(
    page,
    'warning',
    (_, node, wanted) => Object.entries(wanted).every(([code, n]) => (node.problems()[code] ?? 0) >= n),
    { arg: want, timeoutMs: WAIT_MS, what: `problems counted up to ${JSON.stringify(want)}` },
  );
}

/** Resolves once `peer` is in the tab's active view. */
async function waitForActive(page: Page, peer: PeerId): Promise<void> {
  await waitForNode(page, 'neighbours', (_, node, id) => node.neighbourhood().active.includes(id), {
    arg: peer,
    timeoutMs: WAIT_MS,
    what: `${peer} in the active view`,
  });
}

/** Keep every disconnection the tab reports, from now on. */
async function recordCutOffs(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { cutOffs?: CutOff[] };
    w.cutOffs = [];
    window.tabmesh?.addEventListener('peer:disconnect', ({ detail }) =>
      w.cutOffs?.push({ peer: detail.peer, code: detail.code ?? null, reason: detail.reason }),
    );
  });
}

/** The tab's first disconnection from `peer`, recorded or to come (recordCutOffs first: its listener runs first). */
function waitForCutOff(page: Page, peer: PeerId): Promise<CutOff> {
  return waitForNode(
    page,
    'peer:disconnect',
    (_, __, id) => (window as unknown as { cutOffs: CutOff[] }).cutOffs.find((c) => c.peer === id),
    { arg: peer, timeoutMs: WAIT_MS, what: `${peer} cut off` },
  );
}

/** Route a valid message from `hostile` through its channel to the victim, and wait until `to` has it. */
async function control(hostile: Page, to: Page, toId: PeerId, text: string): Promise<void> {
  const frame = await call(hostile, 'routed', { to: toId, text });
  await call(hostile, 'write', victimId, [frame]);
  await waitForMessages(to, text, 1, WAIT_MS);
}

/** The message a tab's collected list holds for a routed message from `sender`. */
function routed(data: string): { from: string; data: string; broadcast: boolean } {
  return { from: sender, data, broadcast: false };
}

beforeAll(async () => {
  server = await browser.pageServer();
  const tabs = await browser.newContext({ trace: true });
  attackers = await browser.newContext({ trace: true });
  const [a, b] = await browser.tabs(server, 2, `network=${NETWORK}`, tabs);
  if (a === undefined || b === undefined) throw new Error('no tabs');
  [victim, honest] = [a, b];
  [victimId, honestId] = await Promise.all([idOf(victim), idOf(honest)]);
  await waitForPeer(victim, honestId);
  await recordCutOffs(victim);
  first = (await openHostile([victimId, honestId])).page;
  sender = await call(first, 'sender');
}, 60_000);

const RELAY_CODES = [
  ErrorCode.BAD_SEAL,
  ErrorCode.BAD_SIGNATURE,
  ErrorCode.SIGNAL_STALE,
  ErrorCode.RELAY_UNROUTABLE,
  ErrorCode.RATE_LIMITED,
  ErrorCode.FLOODING,
];

describe('a hostile neighbour that stays linked', () => {
  it('counts a seal that does not open, a bad signature and a stale or future date, and delivers none', async () => {
    const read = await collectMessages(victim);
    const before = await tally();
    const faults: RoutedFault[] = ['random-seal', 'wrong-key', 'bad-signature', 'stale', 'ahead'];
    const frames = await Promise.all(
      faults.map((fault) => call(first, 'routed', { to: victimId, text: `hostile: ${fault}`, fault })),
    );
    await call(first, 'write', victimId, frames);
    const expected = { BAD_SEAL: 2, BAD_SIGNATURE: 1, SIGNAL_STALE: 2 };
    await waitForProblems(victim, before.victim, expected);
    await control(first, victim, victimId, 'control: seals and signatures');

    expect(await read()).toEqual([routed('control: seals and signatures')]);
    expect(changes(before.victim, await problems(victim), RELAY_CODES)).toEqual(expected);
    // Three seals opened (their contents then refused) and the control; two did not open.
    expect(statsChange(before.victimStats, await meshStats(victim))).toEqual({
      sent: 0,
      forwarded: 0,
      delivered: 4,
      dropped: 2,
    });
    expect(await meshStats(honest)).toEqual(before.honestStats);
  });

  it('delivers a replayed message once, and refuses its signed ID under a new relay ID', async () => {
    const read = await collectMessages(victim);
    const before = await tally();
    const once = await call(first, 'routed', { to: victimId, text: 'only once' });
    const renamed = await call(first, 'freshId', once);
    await call(first, 'write', victimId, [once, once, once, renamed]);
    await waitForProblems(victim, before.victim, { BAD_SIGNATURE: 1 });
    await control(first, victim, victimId, 'control: replays');

    // The replays go no further than the relay-ID check, so they are gone by the time the control arrives.
    const messages = await read();
    expect(messages).toHaveLength(2);
    expect(messages).toEqual(expect.arrayContaining([routed('only once'), routed('control: replays')]));
    expect(changes(before.victim, await problems(victim), RELAY_CODES)).toEqual({ BAD_SIGNATURE: 1 });
    expect(statsChange(before.victimStats, await meshStats(victim))).toEqual({
      sent: 0,
      forwarded: 0,
      delivered: 3,
      dropped: 0,
    });
  });

  it('drops and counts frames that come round in a loop, and never forwards them', async () => {
    const read = await collectMessages(honest);
    const before = await tally();
    // Each sealed validly to the honest tab: forwarded, it would be delivered there.
    const frames = await Promise.all([
      call(first, 'routed', { to: honestId, text: 'loop: the victim on the trail', trail: [victimId] }),
      call(first, 'routed', { to: honestId, text: 'loop: from the victim', from: victimId }),
    ]);
    await call(first, 'write', victimId, frames);
    await control(first, honest, honestId, 'control: loops');

    expect(await read()).toEqual([routed('control: loops')]);
    expect(changes(before.victim, await problems(victim), RELAY_CODES)).toEqual({ RELAY_UNROUTABLE: 2 });
    await expectOnlyControlForwarded(before);
  });

  it('drops frames whose hops are spent, and never forwards them', async () => {
    const strangers = await call(first, 'strangers', MAX_RELAY_PATH);
    const read = await collectMessages(honest);
    const before = await tally();
    const frames = await Promise.all([
      call(first, 'routed', { to: honestId, text: 'no hops left', ttl: 0 }),
      call(first, 'routed', { to: honestId, text: 'a full trail', ttl: MAX_RELAY_TTL, trail: strangers }),
    ]);
    await call(first, 'write', victimId, frames);
    await control(first, honest, honestId, 'control: spent hops');

    expect(await read()).toEqual([routed('control: spent hops')]);
    // Honest floods end this way too, so whether the victim also reports them as a problem is its choice.
    const others = RELAY_CODES.filter((code) => code !== ErrorCode.RELAY_UNROUTABLE);
    expect(changes(before.victim, await problems(victim), others)).toEqual({});
    await expectOnlyControlForwarded(before);
  });

  it('counts a forward-join carrying a forged record, and the joiner enters no view', async () => {
    const before = await problems(victim);
    const { frame, joiner } = await call(first, 'forgedForwardJoin');
    const request = await call(first, 'membership', { type: 'neighbour', priority: 'high' });
    // Membership messages from one neighbour are handled one after another: the reply comes after the forward-join.
    await call(first, 'exchange', victimId, [frame, request], 'neighbour-reply', WAIT_MS);

    expect(changes(before, await problems(victim), [ErrorCode.RECORD_BAD_SIGNATURE])).toEqual({
      RECORD_BAD_SIGNATURE: 1,
    });
    for (const tab of [victim, honest]) {
      const seen = await tab.evaluate(() => {
        const node = window.tabmesh;
        if (node === undefined) throw new Error('no node');
        const { active, passive } = node.neighbourhood();
        return [...active, ...passive, ...node.knownPeers().map((p) => p.id)];
      });
      expect(seen).not.toContain(joiner);
    }
    expect(await victim.evaluate(() => window.tabmesh?.connections())).toContain(await call(first, 'id'));
  });
});

describe('a hostile neighbour that gets cut off', () => {
  it('closes the link when a frame claims more hops than MAX_RELAY_TTL: the codec refuses it', async () => {
    const { page, id } = await openHostile([victimId]);
    const read = await collectMessages(victim);
    const valid = await call(page, 'routed', { to: victimId, text: 'over the hop budget' });
    await call(page, 'write', victimId, [await call(page, 'withTtl', valid, MAX_RELAY_TTL + 1)]);
    const cut = await waitForCutOff(victim, id);
    expect(cut.code).toBe(ErrorCode.PROTOCOL_VIOLATION);
    expect(cut.reason).toMatch(/hop budget/);
    expect(await read()).toEqual([]);
  });

  it('drops and counts frames over RELAY_RATE, then cuts the flooding neighbour off', async () => {
    const { page, id } = await openHostile([victimId]);
    const before = await problems(victim);
    // One frame over and over: the copies within the rate stop at the relay-ID check.
    const frame = await call(page, 'routed', { to: victimId, text: 'flood', fault: 'random-seal' });
    await call(page, 'write', victimId, [frame], 2 * (RELAY_BURST + RELAY_DROP_ALLOWANCE));
    const cut = await waitForCutOff(victim, id);
    expect(cut.code).toBe(ErrorCode.FLOODING);
    expect(changes(before, await problems(victim), RELAY_CODES)).toEqual({
      BAD_SEAL: 1,
      RATE_LIMITED: RELAY_DROP_ALLOWANCE,
      FLOODING: 1,
    });
  });

  it.each<[string, (page: Page) => Promise<{ frames: string[]; times: number; ids: PeerId[] }>, ErrorCode, RegExp]>([
    [
      'a shuffle sample over MAX_RECORDS_PER_MESSAGE',
      async (page) => {
        const { frame, ids } = await call(page, 'shuffle', MAX_RECORDS_PER_MESSAGE + 1, 0);
        return { frames: [frame], times: 1, ids };
      },
      ErrorCode.PROTOCOL_VIOLATION,
      new RegExp(`more than ${MAX_RECORDS_PER_MESSAGE} records`),
    ],
    [
      'a walk TTL over MAX_MEMBERSHIP_WALK_TTL',
      async (page) => {
        const { frame, ids } = await call(page, 'shuffle', 0, MAX_MEMBERSHIP_WALK_TTL + 1);
        return { frames: [frame], times: 1, ids };
      },
      ErrorCode.PROTOCOL_VIOLATION,
      /walk TTL/,
    ],
    [
      'membership messages over MEMBERSHIP_RATE',
      async (page) => {
        const reply = await call(page, 'membership', { type: 'neighbour-reply', accepted: true });
        return { frames: [reply], times: 3 * MEMBERSHIP_BURST, ids: [] };
      },
      ErrorCode.FLOODING,
      /membership messages over/,
    ],
  ])('closes the link for %s', async (_, craft, code, reason) => {
    const { page, id } = await openHostile([victimId]);
    const { frames, times, ids } = await craft(page);
    await call(page, 'write', victimId, frames, times);
    const cut = await waitForCutOff(victim, id);
    expect(cut.code).toBe(code);
    expect(cut.reason).toMatch(reason);
    const known = await victim.evaluate(() => window.tabmesh?.knownPeers().map((p) => p.id) ?? []);
    for (const sampled of ids) expect(known).not.toContain(sampled);
  });
});
