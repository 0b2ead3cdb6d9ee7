/**
 * The server's frame handler against its fuzz targets (test/fuzz/targets/hub.ts):
 * fuzzed frames into the real Hub, in process and through real ws sockets on
 * port 0. Every bad frame gets its error (or, before registration, an error
 * and a close), no error escapes, honest relays still go through, and the
 * server's connection counts come back.
 */
import { describe, expect, it } from 'vitest';
import { failureText } from '../fuzz/report.js';
import { SERVER_TARGETS } from '../fuzz/targets.js';

const CASES = 10_000;

describe(`fuzz targets: the server's frame handler (${CASES.toLocaleString('en')} cases, the socket target its share)`, () => {
  it.each(SERVER_TARGETS.map((target) => [target.name, target] as const))('%s', async (_name, target) => {
    const report = await target.run({ cases: CASES });
    expect(report.failure, failureText(report)).toBeUndefined();
    expect(report.cases).toBe(Math.ceil(CASES * target.share));
    expect(report.accepted).toBeGreaterThan(report.cases / 50);
    expect(report.refused).toBeGreaterThan(report.cases / 50);
  });
});
