/**
 * Issue 15, item 7: the eclipse of the peer cache, on the real PeerBook and
 * PeerCache (test/sim/cache-eclipse.ts). A victim that has held two-minute
 * connections with 64 honest peers and holds a server's 32-record sample;
 * then an attacker with unlimited keys makes 200 connections one after
 * another, each from a fresh key introducing 31 records of further fresh
 * keys. Run with connections of 5 s (the short connections) and of
 * MIN_TRIED_CONNECTION_MS + 5 s (long enough to be tried, so test-before-evict
 * is what holds), each with the defences off (every connection's peer tried
 * at once, incumbents evicted untested, no share for the server's sample) and
 * with the defaults. Figures: the share of honest tried entries and of the
 * server's sample still cached, and of the server's next sample kept.
 */
import { MIN_TRIED_CONNECTION_MS } from '../../../shared/limits.js';
import { simulateCacheEclipse, type EclipseOutcome, type EclipseScenario } from '../../sim/cache-eclipse.js';
import type { AdversaryAttack, AdversaryRow } from './report.js';

const BASE: Omit<EclipseScenario, 'connectionMs'> = {
  honestNeighbours: 64,
  introducedEach: 0,
  sample: 32,
  connections: 200,
  recordsPerConnection: 31,
  seed: 15,
};

function share(part: number, whole: number): string {
  return whole === 0 ? 'n/a' : `${((100 * part) / whole).toFixed(0)}% (${part}/${whole})`;
}

function rows(label: string, off: EclipseOutcome, on: EclipseOutcome): AdversaryRow[] {
  const attack = `unlimited keys, ${BASE.connections} ${label} connections, ${BASE.recordsPerConnection} records each`;
  const row = (measure: string, figure: (o: EclipseOutcome) => string): AdversaryRow => ({
    item: '7',
    attack,
    measure,
    without: figure(off),
    with: figure(on),
  });
  return [
    row('honest tried entries left', (o) => share(o.honestTriedLeft, o.honestTried)),
    row('server sample left', (o) => share(o.sampleLeft, o.sample)),
    row("server's next sample kept", (o) => share(o.nextSampleKept, BASE.sample)),
    row('attacker entries in the cache (of which tried)', (o) => `${o.attackerEntries} (${o.attackerTried})`),
  ];
}

export const cacheEclipse: AdversaryAttack = async (log) => {
  const result: AdversaryRow[] = [];
  for (const [label, connectionMs] of [
    ['5 s', 5_000],
    [`${(MIN_TRIED_CONNECTION_MS + 5_000) / 1000} s`, MIN_TRIED_CONNECTION_MS + 5_000],
  ] as const) {
    const off = await simulateCacheEclipse({ ...BASE, connectionMs, defenceOff: true });
    const on = await simulateCacheEclipse({ ...BASE, connectionMs });
    log(`cache eclipse, ${label} connections: defence off ${JSON.stringify(off)}`);
    log(`cache eclipse, ${label} connections: defaults ${JSON.stringify(on)}`);
    result.push(...rows(label, off, on));
  }
  return result;
};
