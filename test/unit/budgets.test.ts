/**
 * The budgets behind issue 15's tab defences, each on its own: keyed token
 * buckets, a budget that can be asked before it is spent, a link's relay
 * intake (with its decaying allowance), the relay pacers, and a link's send
 * queue with its bound on forwarded copies.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { peerIdFromPublicKey, type PeerId } from '../../shared/identity/peer-id.js';
import {
  RELAY_BURST,
  RELAY_DROP_ALLOWANCE,
  RELAY_DROP_REFILL_RATE,
  RELAY_FLOOD_SEND_BURST,
  RELAY_PASS_BURST,
  RELAY_PASS_RATE,
  RELAY_PASS_SEND_BURST,
  RELAY_PASS_SEND_RATE,
  RELAY_PASS_SHARE_BURST,
  RELAY_RATE,
  RELAY_SEND_BURST,
  RELAY_SEND_RATE,
} from '../../shared/limits.js';
import { Budget, KeyedBuckets } from '../../web/node/budgets.js';
import { newLimitCounters } from '../../web/node/options.js';
import { RelayIntake, RelayPacers, type RelayVerdict } from '../../web/node/relay-budget.js';
import { SendQueue } from '../../web/node/send-queue.js';

const T0 = 1_000_000;
/** A copy the neighbour must pass on along a route, and one for the neighbour itself. */
const ROUTED = { pass: true, flood: false } as const;
const FOR_IT = { pass: false, flood: false } as const;
const peer = (n: number): PeerId => peerIdFromPublicKey(Uint8Array.from({ length: 32 }, (_, i) => (n * 29 + i) & 0x7f));

/** How many of `verdicts` were each verdict. */
function tally(verdicts: readonly RelayVerdict[]): Partial<Record<RelayVerdict, number>> {
  const counts: Partial<Record<RelayVerdict, number>> = {};
  for (const v of verdicts) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

describe('KeyedBuckets', () => {
  it('keeps a budget per key, and forgets the key used longest ago past its capacity', () => {
    const buckets = new KeyedBuckets<string>({ rate: 1, burst: 2 }, 2);
    expect([buckets.take('a', T0), buckets.take('a', T0), buckets.take('a', T0)]).toEqual([true, true, false]);
    expect(buckets.take('b', T0)).toBe(true);
    // 'a' is used again, so 'b' is the one forgotten when 'c' comes.
    expect(buckets.take('a', T0)).toBe(false);
    expect(buckets.take('c', T0)).toBe(true);
    expect(buckets.size).toBe(2);
    // 'a' kept its spent budget; it refills at its rate.
    expect(buckets.take('a', T0 + 999)).toBe(false);
    expect(buckets.take('a', T0 + 1000)).toBe(true);
    expect(buckets.take('b', T0, 2)).toBe(true);
  });

  it('takes no budget at all with Infinity (how the bench switches one off)', () => {
    const off = new KeyedBuckets<string>({ rate: Infinity, burst: Infinity }, 1);
    for (let i = 0; i < 1000; i++) expect(off.take(`k${i % 3}`, T0)).toBe(true);
  });
});

describe('Budget', () => {
  it('says whether it allows a cost without spending it, and spends it on take', () => {
    const budget = new Budget({ rate: 2, burst: 3 }, T0);
    expect(budget.allows(T0, 3)).toBe(true);
    expect(budget.allows(T0, 4)).toBe(false);
    expect(budget.take(T0, 3)).toBe(true);
    expect(budget.allows(T0)).toBe(false);
    expect(budget.take(T0)).toBe(false);
    expect(budget.allows(T0 + 500)).toBe(true);
    expect(() => new Budget({ rate: 0, burst: 1 }, T0)).toThrow(RangeError);
  });
});

describe('RelayIntake', () => {
  it(`takes RELAY_BURST at once, then drops over RELAY_RATE, charging RELAY_DROP_ALLOWANCE before it calls it flooding`, () => {
    const intake = new RelayIntake(T0);
    const verdicts = Array.from({ length: RELAY_BURST + RELAY_DROP_ALLOWANCE + 1 }, () => intake.admit(T0, false));
    expect(tally(verdicts)).toEqual({ accept: RELAY_BURST, 'over-rate': RELAY_DROP_ALLOWANCE, flooding: 1 });
  });

  it(`passes on at most RELAY_PASS_BURST frames not for us at once, at RELAY_PASS_RATE after`, () => {
    const intake = new RelayIntake(T0);
    const verdicts = Array.from({ length: RELAY_PASS_BURST + 5 }, () => intake.admit(T0, true));
    expect(tally(verdicts)).toEqual({ accept: RELAY_PASS_BURST, 'over-pass': 5 });
    // Frames for us are not held to the pass budget.
    expect(intake.admit(T0, false)).toBe('accept');
    expect(intake.admit(T0 + 1000 / RELAY_PASS_RATE, true)).toBe('accept');
  });

  it('forgives drops at RELAY_DROP_REFILL_RATE: a link that overruns a little now and then is never cut off', () => {
    const intake = new RelayIntake(T0);
    const verdicts: RelayVerdict[] = [];
    // For an hour, every ten seconds, a burst five frames over RELAY_BURST: 1,800 drops in all.
    for (let s = 0; s < 3_600; s += 10) {
      for (let i = 0; i < RELAY_BURST + 5; i++) verdicts.push(intake.admit(T0 + s * 1000, false));
    }
    expect(tally(verdicts)).toEqual({ accept: 360 * RELAY_BURST, 'over-rate': 360 * 5 });
  });

  it('cuts off a neighbour that keeps sending frames to pass on over its pass budget, while within RELAY_RATE', () => {
    const intake = new RelayIntake(T0);
    let at: number | undefined;
    for (let ms = 0; ms < 120_000 && at === undefined; ms += 1000 / RELAY_RATE) {
      if (intake.admit(T0 + ms, true) === 'flooding') at = ms;
    }
    // Over the pass rate by RELAY_RATE - RELAY_PASS_RATE a second, less what the allowance refills.
    const expected =
      (RELAY_PASS_BURST / (RELAY_RATE - RELAY_PASS_RATE) +
        RELAY_DROP_ALLOWANCE / (RELAY_RATE - RELAY_PASS_RATE - RELAY_DROP_REFILL_RATE)) *
      1000;
    expect(at).toBeGreaterThan(expected * 0.9);
    expect(at).toBeLessThan(expected * 1.1);
  });
});

describe('RelayPacers', () => {
  it(`send each neighbour at most RELAY_SEND_BURST at once, of which RELAY_PASS_SEND_BURST to pass on`, () => {
    const pacers = new RelayPacers();
    const [a, b] = [peer(1), peer(2)];
    const passing = Array.from({ length: RELAY_PASS_SEND_BURST + 3 }, () => pacers.take(a, ROUTED, T0));
    expect(passing.filter(Boolean)).toHaveLength(RELAY_PASS_SEND_BURST);
    const rest = Array.from({ length: RELAY_SEND_BURST }, () => pacers.take(a, FOR_IT, T0));
    expect(rest.filter(Boolean)).toHaveLength(RELAY_SEND_BURST - RELAY_PASS_SEND_BURST);
    // Another neighbour has budgets of its own.
    expect(pacers.take(b, ROUTED, T0)).toBe(true);
  });

  it(`send at most RELAY_FLOOD_SEND_BURST flood copies at once, leaving the rest for routed frames`, () => {
    const pacers = new RelayPacers();
    const a = peer(1);
    const floods = Array.from({ length: RELAY_FLOOD_SEND_BURST + 3 }, () =>
      pacers.take(a, { pass: true, flood: true }, T0),
    );
    expect(floods.filter(Boolean)).toHaveLength(RELAY_FLOOD_SEND_BURST);
    expect(pacers.take(a, ROUTED, T0)).toBe(true);
  });

  it(`give what came in from each other neighbour its share (RELAY_PASS_SHARE_BURST) of a neighbour's budget`, () => {
    const pacers = new RelayPacers();
    const [to, flooder, other] = [peer(1), peer(2), peer(3)];
    const fromFlooder = Array.from({ length: RELAY_PASS_SHARE_BURST + 3 }, () =>
      pacers.take(to, { ...ROUTED, from: flooder }, T0),
    );
    expect(fromFlooder.filter(Boolean)).toHaveLength(RELAY_PASS_SHARE_BURST);
    expect(pacers.take(to, { ...ROUTED, from: other }, T0)).toBe(true);
    // Our own frames take no neighbour's share.
    expect(pacers.take(to, ROUTED, T0)).toBe(true);
  });

  it('never send a neighbour more than its intake takes, whatever is asked of them', () => {
    const pacers = new RelayPacers();
    const intake = new RelayIntake(T0);
    const neighbour = peer(3);
    const verdicts: RelayVerdict[] = [];
    // Asked to send far over every rate for a minute, frames to pass on and frames for it alike.
    for (let ms = 0; ms < 60_000; ms += 5) {
      const pass = ms % 10 === 0;
      if (pacers.take(neighbour, { pass, flood: false }, T0 + ms)) verdicts.push(intake.admit(T0 + ms, pass));
    }
    expect(tally(verdicts)).toEqual({ accept: verdicts.length });
    expect(verdicts.length).toBeLessThanOrEqual(RELAY_SEND_BURST + 60 * RELAY_SEND_RATE);
    expect(RELAY_SEND_RATE).toBeLessThan(RELAY_RATE);
    expect(RELAY_PASS_SEND_RATE).toBeLessThan(RELAY_PASS_RATE);
  });
});

describe('SendQueue', () => {
  /** A port whose channel never drains: the first frame goes, the rest wait. */
  function stalledPort(): { port: ConstructorParameters<typeof SendQueue>[0]; frames: Uint8Array[] } {
    const frames: Uint8Array[] = [];
    return {
      frames,
      port: {
        connected: () => true,
        transmit: (frame) => {
          frames.push(frame);
          return new Promise<void>(() => undefined);
        },
      },
    };
  }

  it('queues forwarded copies up to its limit, counting the rest, and our own messages regardless', () => {
    const { port } = stalledPort();
    const counters = newLimitCounters();
    const queue = new SendQueue(port, 1000, counters);
    const header = { origin: peer(1), seq: 1, hops: 2, signature: new Uint8Array(64) };
    const queued = Array.from({ length: 5 }, () => queue.forward(true, new Uint8Array(300), header));
    expect(queued.map((q) => q !== undefined)).toEqual([true, true, true, false, false]);
    expect(counters.forwardOverQueue).toBe(2);
    expect(queue.queuedBytes).toBe(900);
    void queue.message(false, new Uint8Array(5_000));
    expect(queue.queuedBytes).toBe(5_900);
  });

  it('gives the bytes back once a message has gone, or failed', async () => {
    let connected = true;
    const queue = new SendQueue(
      { connected: () => connected, transmit: () => Promise.resolve() },
      1000,
      newLimitCounters(),
    );
    await queue.message(true, new Uint8Array(700));
    expect(queue.queuedBytes).toBe(0);
    connected = false;
    await expect(queue.message(true, new Uint8Array(700))).rejects.toMatchObject({ code: ErrorCode.NOT_CONNECTED });
    expect(queue.queuedBytes).toBe(0);
    await queue.drained();
  });
});
