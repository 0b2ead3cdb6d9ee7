/**
 * Issue 15, item 7: the eclipse of the peer cache, on the real PeerBook and
 * PeerCache (test/sim/cache-eclipse.ts), smaller than the bench's run but
 * with the 200 connections from fresh keys. The goal: at least 75% of
 * the honest tried entries and of the server's sample stay. Each scenario
 * is also run with the defences off, to show the run is an attack that
 * succeeds without them (on the cache before the fix, the same run left 0 of
 * 48 tried entries and 0 of 32 sample records).
 */
import { describe, expect, it } from 'vitest';
import { MIN_TRIED_CONNECTION_MS } from '../../shared/limits.js';
import { simulateCacheEclipse, type EclipseScenario } from '../sim/cache-eclipse.js';

const GOAL = 0.75;

const SCENARIO: EclipseScenario = {
  honestNeighbours: 40,
  introducedEach: 0,
  sample: 32,
  connections: 200,
  connectionMs: 5_000,
  recordsPerConnection: 3,
  seed: 15,
};

describe('the peer cache under an attacker with unlimited keys (issue 15, item 7)', () => {
  it('keeps ≥75% of the honest tried entries and of the server sample after 200 short connections from fresh keys', async () => {
    const outcome = await simulateCacheEclipse(SCENARIO);
    expect(outcome.honestTried).toBeGreaterThan(30);
    expect(outcome.sampleBefore).toBe(SCENARIO.sample);
    expect(outcome.honestTriedLeft / outcome.honestTried).toBeGreaterThanOrEqual(GOAL);
    expect(outcome.sampleLeft / outcome.sample).toBeGreaterThanOrEqual(GOAL);
    expect(outcome.nextSampleKept / SCENARIO.sample).toBeGreaterThanOrEqual(GOAL);
    expect(outcome.attackerTried).toBe(0);
    expect(outcome.stats.tooShort).toBe(SCENARIO.connections);

    const off = await simulateCacheEclipse({ ...SCENARIO, defenceOff: true });
    expect(off.honestTriedLeft / off.honestTried).toBeLessThan(GOAL);
    expect(off.sampleLeft / off.sample).toBeLessThan(GOAL);
  }, 60_000);

  it('keeps them too when the connections last long enough to be tried: incumbents that answer their test stay', async () => {
    const long = { ...SCENARIO, connections: 120, connectionMs: MIN_TRIED_CONNECTION_MS + 5_000 };
    const outcome = await simulateCacheEclipse(long);
    expect(outcome.honestTriedLeft / outcome.honestTried).toBeGreaterThanOrEqual(GOAL);
    expect(outcome.sampleLeft / outcome.sample).toBeGreaterThanOrEqual(GOAL);
    expect(outcome.stats.evicted).toBe(0);
    expect(outcome.stats.testsPassed).toBeGreaterThan(0);

    const off = await simulateCacheEclipse({ ...long, defenceOff: true });
    expect(off.honestTriedLeft / off.honestTried).toBeLessThan(GOAL);
  }, 60_000);
});
