import { describe, expect, it } from 'vitest';
import { selectedPairRttMs } from '../../web/transport/stats.js';

const report = (...stats: Record<string, unknown>[]): ReadonlyMap<string, unknown> =>
  new Map(stats.map((s, i) => [typeof s['id'] === 'string' ? s['id'] : `s${i}`, s]));

describe('selectedPairRttMs', () => {
  it("reads the transport's selected pair (Chromium), not another pair", () => {
    const stats = report(
      { id: 'P1', type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime: 0.5 },
      { id: 'P2', type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime: 0.012 },
      { id: 'T', type: 'transport', selectedCandidatePairId: 'P2' },
    );
    expect(selectedPairRttMs(stats)).toBeCloseTo(12);
  });

  it('falls back to the nominated, succeeded pair when there are no transport stats (Firefox)', () => {
    const stats = report(
      { id: 'P1', type: 'candidate-pair', nominated: false, state: 'succeeded', currentRoundTripTime: 0.5 },
      { id: 'P2', type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime: 0 },
    );
    expect(selectedPairRttMs(stats)).toBe(0);
  });

  it('gives undefined before a measurement, and for nonsense', () => {
    expect(selectedPairRttMs(report())).toBeUndefined();
    expect(
      selectedPairRttMs(report({ id: 'T', type: 'transport', selectedCandidatePairId: 'missing' })),
    ).toBeUndefined();
    for (const currentRoundTripTime of [undefined, -1, Number.NaN, Infinity, '0.1']) {
      const stats = report(
        { id: 'P', type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime },
        { id: 'T', type: 'transport', selectedCandidatePairId: 'P' },
      );
      expect(selectedPairRttMs(stats)).toBeUndefined();
    }
  });
});
