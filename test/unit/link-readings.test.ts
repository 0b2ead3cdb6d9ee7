import { afterEach, describe, expect, it, vi } from 'vitest';
import { LINK_STATS_INTERVAL_MS, LinkReadings } from '../../web/node/link-readings.js';
import type { Transport, TransportStats } from '../../web/transport/transport.js';

/** A transport whose stats() answers with the next of `answers` (an Error rejects). */
function transport(answers: (TransportStats | Error)[]): { transport: Transport; calls: () => number } {
  let calls = 0;
  return {
    transport: {
      signal: () => undefined,
      send: () => Promise.resolve(),
      close: () => undefined,
      stats: () => {
        const answer = answers[calls++] ?? {};
        return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
      },
    },
    calls: () => calls,
  };
}

describe('LinkReadings', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reads at start and every interval, keeping the last reading through a refusal', async () => {
    vi.useFakeTimers();
    const fake = transport([
      { rttMs: 12, path: { local: 'srflx', remote: 'host' } },
      new Error('closed under it'),
      { rttMs: 30 },
    ]);
    const readings = new LinkReadings(fake.transport, () => true);
    readings.start();
    await vi.advanceTimersByTimeAsync(0);
    expect([readings.rttMs, readings.path]).toEqual([12, { local: 'srflx', remote: 'host' }]);
    await vi.advanceTimersByTimeAsync(LINK_STATS_INTERVAL_MS);
    expect(readings.rttMs).toBe(12);
    await vi.advanceTimersByTimeAsync(LINK_STATS_INTERVAL_MS);
    expect([readings.rttMs, readings.path]).toEqual([30, { local: 'srflx', remote: 'host' }]);
    readings.stop();
    await vi.advanceTimersByTimeAsync(LINK_STATS_INTERVAL_MS * 3);
    expect(fake.calls()).toBe(3);
  });

  it('shares a reading under way, and drops one that lands after the link closed', async () => {
    let connected = true;
    const fake = transport([{ rttMs: 5 }]);
    const readings = new LinkReadings(fake.transport, () => connected);
    const [first, second] = [readings.read(), readings.read()];
    expect(first).toBe(second);
    connected = false;
    await first;
    expect(readings.rttMs).toBeUndefined();
    expect(fake.calls()).toBe(1);
  });
});
