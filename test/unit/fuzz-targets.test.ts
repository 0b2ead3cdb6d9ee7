/**
 * Every decoder of untrusted input against its fuzz target (test/fuzz/targets.ts),
 * 10,000 cases each: valid inputs, structure-aware mutations of them and random
 * ones. `npm run fuzz` runs the same targets for 1,000,000 cases or for minutes.
 */
import { describe, expect, it } from 'vitest';
import { failureText } from '../fuzz/report.js';
import { CODEC_TARGETS } from '../fuzz/targets.js';

const CASES = 10_000;

describe(`fuzz targets: the decoders (${CASES.toLocaleString('en')} cases each)`, () => {
  it.each(CODEC_TARGETS.map((target) => [target.name, target] as const))('%s', async (_name, target) => {
    const report = await target.run({ cases: CASES });
    expect(report.failure, failureText(report)).toBeUndefined();
    expect(report.cases).toBe(Math.ceil(CASES * target.share));
    // Both sides of the decoder were reached: what it takes and what it refuses.
    expect(report.accepted).toBeGreaterThan(report.cases / 50);
    expect(report.refused).toBeGreaterThan(report.cases / 50);
  });
});
