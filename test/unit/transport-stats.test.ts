import { describe, expect, it } from 'vitest';
import { selectedPairPath, selectedPairRttMs, selectedPairStats } from '../../web/transport/stats.js';

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

describe('selectedPairPath', () => {
  const candidates = [
    { id: 'L1', type: 'local-candidate', candidateType: 'host' },
    { id: 'L2', type: 'local-candidate', candidateType: 'relay' },
    { id: 'R1', type: 'remote-candidate', candidateType: 'srflx' },
    { id: 'R2', type: 'remote-candidate', candidateType: 'prflx' },
  ];

  it("names the selected pair's local and remote candidate types", () => {
    const stats = report(
      ...candidates,
      { id: 'P1', type: 'candidate-pair', localCandidateId: 'L1', remoteCandidateId: 'R1' },
      { id: 'P2', type: 'candidate-pair', localCandidateId: 'L2', remoteCandidateId: 'R2' },
      { id: 'T', type: 'transport', selectedCandidatePairId: 'P2' },
    );
    expect(selectedPairPath(stats)).toEqual({ local: 'relay', remote: 'prflx' });
  });

  it('takes the nominated, succeeded pair without transport stats (Firefox)', () => {
    const stats = report(...candidates, {
      id: 'P1',
      type: 'candidate-pair',
      nominated: true,
      state: 'succeeded',
      localCandidateId: 'L1',
      remoteCandidateId: 'R1',
    });
    expect(selectedPairPath(stats)).toEqual({ local: 'host', remote: 'srflx' });
  });

  it('gives undefined without a pair, with a candidate missing, or with a type it does not know', () => {
    expect(selectedPairPath(report(...candidates))).toBeUndefined();
    const pair = (localCandidateId: string): Record<string, unknown> => ({
      id: 'P',
      type: 'candidate-pair',
      localCandidateId,
      remoteCandidateId: 'R1',
    });
    const transport = { id: 'T', type: 'transport', selectedCandidatePairId: 'P' };
    expect(selectedPairPath(report(...candidates, pair('missing'), transport))).toBeUndefined();
    const odd = { id: 'L3', type: 'local-candidate', candidateType: 'carrier-pigeon' };
    expect(selectedPairPath(report(...candidates, odd, pair('L3'), transport))).toBeUndefined();
  });
});

describe('selectedPairStats', () => {
  it('gives the round-trip time and the path of the one selected pair, and nothing without a pair', () => {
    const stats = report(
      { id: 'L', type: 'local-candidate', candidateType: 'srflx' },
      { id: 'R', type: 'remote-candidate', candidateType: 'relay' },
      { id: 'P1', type: 'candidate-pair', localCandidateId: 'R', remoteCandidateId: 'L', currentRoundTripTime: 0.5 },
      { id: 'P2', type: 'candidate-pair', localCandidateId: 'L', remoteCandidateId: 'R', currentRoundTripTime: 0.02 },
      { id: 'T', type: 'transport', selectedCandidatePairId: 'P2' },
    );
    expect(selectedPairStats(stats)).toEqual({ rttMs: 20, path: { local: 'srflx', remote: 'relay' } });
    expect(selectedPairStats(report())).toEqual({});
  });
});
