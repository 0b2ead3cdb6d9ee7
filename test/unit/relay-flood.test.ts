/**
 * Issue 15, item 6, in small: attackers flood one tab with relayed frames,
 * each at the full RELAY_RATE on its own link. Real PeerLinks joined in
 * memory, the target's real MeshRouting forwarding, a virtual clock. Before
 * the fix the target passed on all it got, so its honest neighbours saw
 * three times RELAY_RATE from it and cut it off within seconds, and the
 * attackers were never cut; now the target passes on only its budgets and
 * the attackers' own links run out of allowance. The 300-node version is
 * test/sim/relay-flood.ts; the last test here runs it with 60 peers.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import type { Identity } from '../../shared/identity/signing.js';
import { MESH_FLOOD_TTL, RELAY_BURST, RELAY_ID_BYTES, RELAY_RATE } from '../../shared/limits.js';
import { encodeRelay } from '../../shared/protocol/mesh.js';
import { SEAL_OVERHEAD_BYTES } from '../../shared/seal.js';
import type { NodeCore } from '../../web/node/core.js';
import type { LinkEvents, PeerLink } from '../../web/node/link.js';
import { MeshRouting } from '../../web/node/mesh-routing.js';
import { memoryStore } from '../../web/storage/store.js';
import { ed25519, newIdentity } from '../helpers/client.js';
import { runRelayFlood } from '../sim/relay-flood.js';
import { linkPair, type MemoryEnd } from './link-pairs.js';

const START = 1_800_000_000_000;
const HONEST = 5;
const ATTACKERS = 3;
/** Long enough for the attackers' allowance to run out (about 20 s at the defaults). */
const ATTACK_MS = 30_000;

const ignore = (): void => undefined;

interface Closed {
  readonly by: PeerId;
  readonly peer: PeerId;
  readonly code: ErrorCode | undefined;
}

/** The target, its honest neighbours and the attackers, linked; everything each side closed is recorded. */
async function network(clock: { now: number }) {
  const target = await newIdentity();
  const honest = await Promise.all(Array.from({ length: HONEST }, () => newIdentity()));
  const attackers = await Promise.all(Array.from({ length: ATTACKERS }, () => newIdentity()));
  const closed: Closed[] = [];
  const targetLinks = new Map<PeerId, PeerLink>();
  const sends: Promise<void>[] = [];
  let started: () => void = ignore;
  const ready = new Promise<void>((resolve) => (started = resolve));
  const core: NodeCore = {
    identity: target,
    ed25519,
    network: 'n',
    logger: { debug: ignore, info: ignore, warn: ignore, error: ignore },
    now: () => clock.now,
    random: () => 0.5,
    closed: () => false,
    connected: () => [...targetLinks.values()].filter((l) => l.state === 'connected').map((l) => l.peer),
    problem: ignore,
  };
  const routing = new MeshRouting(core, {
    store: memoryStore(),
    slot: undefined,
    sendFrame: (peer, frame) => {
      const link = targetLinks.get(peer);
      if (link !== undefined) sends.push(link.sendFrame(frame).catch(ignore));
    },
    sealKeyOf: () => undefined,
    started: () => {
      started();
      return Promise.resolve();
    },
    signal: () => Promise.resolve(),
    message: ignore,
  });
  const eventsOf = (self: Identity): LinkEvents => ({
    onConnected: ignore,
    onClosed: (link, code) => closed.push({ by: self.id, peer: link.peer, code }),
    onMessage: ignore,
    onRecords: ignore,
    onRelay: (link, frame) => {
      if (self === target) routing.receive(link.peer, frame);
    },
    onMembership: ignore,
    onProblem: ignore,
  });
  const link = async (other: Identity): Promise<MemoryEnd> => {
    const pair = await linkPair(other, target, () => clock.now, eventsOf);
    targetLinks.set(other.id, pair.b);
    return pair.aEnd;
  };
  for (const peer of honest) await link(peer);
  const attackerEnds = new Map<PeerId, MemoryEnd>();
  for (const attacker of attackers) {
    const end = await link(attacker);
    // The attacker writes raw frames and reads nothing (so its own link code never polices the target).
    end.takeOver();
    attackerEnds.set(attacker.id, end);
  }
  routing.start();
  await ready;
  return { target, honest, attackers, attackerEnds, closed, sends };
}

/** A relayed frame for a peer nobody holds, so every hop floods it on. */
function floodFrame(from: PeerId, nowhere: PeerId): Uint8Array {
  return encodeRelay({
    id: crypto.getRandomValues(new Uint8Array(RELAY_ID_BYTES)),
    ttl: MESH_FLOOD_TTL,
    from,
    to: nowhere,
    route: [],
    trail: [],
    sealed: crypto.getRandomValues(new Uint8Array(SEAL_OVERHEAD_BYTES + 32)),
  });
}

let nowhere: PeerId;

beforeAll(async () => {
  nowhere = (await newIdentity()).id;
});

afterEach(() => {
  vi.useRealTimers();
});

describe('a relay flood through one tab', () => {
  it(`cuts off the ${ATTACKERS} attackers at RELAY_RATE each, and none of the target's honest links`, async () => {
    // The links' keepalive and statistics timers would read the virtual clock at real intervals: never run them.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const clock = { now: START };
    const net = await network(clock);
    const step = 1000 / RELAY_RATE;
    for (let t = 0; t < ATTACK_MS; t += step) {
      clock.now = START + t;
      for (const [attacker, end] of net.attackerEnds) void end.send(floodFrame(attacker, nowhere));
      // What the target forwards reaches its neighbours at this moment of the clock.
      await Promise.all(net.sends.splice(0));
    }
    const honestIds = new Set(net.honest.map((h) => h.id));
    // An honest neighbour's link to the target, closed from either side, is an honest link lost.
    const honestLost = net.closed.filter((c) => honestIds.has(c.by) || honestIds.has(c.peer));
    expect(honestLost).toEqual([]);
    const attackersCut = net.closed
      .filter((c) => c.by === net.target.id && !honestIds.has(c.peer))
      .map((c) => ({ peer: c.peer, code: c.code }));
    expect(new Set(attackersCut.map((c) => c.peer))).toEqual(new Set(net.attackers.map((a) => a.id)));
    expect(attackersCut.every((c) => c.code === ErrorCode.FLOODING)).toBe(true);
  });

  it('forgives a neighbour the odd burst over RELAY_RATE: its drop allowance refills', async () => {
    const [neighbour, self] = [await newIdentity(), await newIdentity()];
    const clock = { now: START };
    const closed: (ErrorCode | undefined)[] = [];
    const pair = await linkPair(
      neighbour,
      self,
      () => clock.now,
      (who) => ({
        onConnected: ignore,
        onClosed: (_link, code) => {
          if (who === self) closed.push(code);
        },
        onMessage: ignore,
        onRecords: ignore,
        onRelay: ignore,
        onMembership: ignore,
        onProblem: ignore,
      }),
    );
    pair.aEnd.takeOver();
    // For an hour, every ten seconds, five frames for us over RELAY_BURST at once: 1,800 dropped in all.
    for (let s = 0; s < 3_600; s += 10) {
      clock.now = START + s * 1000;
      for (let i = 0; i < RELAY_BURST + 5; i++) void pair.aEnd.send(floodFrame(neighbour.id, self.id));
    }
    expect(closed).toEqual([]);
    expect(pair.b.state).toBe('connected');
  });

  it('in a mesh of 60 built by the real membership, cuts only the attackers, and every routed message arrives', async () => {
    const result = await runRelayFlood({ peers: 60, attackMs: 30_000 });
    expect(result).toMatchObject({ targetLinksCut: 0, honestLinksCut: 0, attackerLinksCut: ATTACKERS });
    expect(result.honestDelivered).toBe(result.honestSent);
    expect(result.honestSent).toBeGreaterThan(100);
  });
});
