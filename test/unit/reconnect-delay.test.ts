/** The node's reconnection schedule, which the reconnect storm benchmark imports (web/signaling-client.ts). */
import { describe, expect, it } from 'vitest';
import { reconnectDelayMs, SIGNALING_BACKOFF_BASE_MS, SIGNALING_BACKOFF_MAX_MS } from '../../web/signaling-client.js';

describe('reconnectDelayMs', () => {
  it('is full jitter under a ceiling that doubles from the base to the cap', () => {
    const almostOne = (): number => 1 - Number.EPSILON;
    expect(reconnectDelayMs(0, () => 0)).toBe(0);
    expect(reconnectDelayMs(0, almostOne)).toBe(SIGNALING_BACKOFF_BASE_MS - 1);
    expect(reconnectDelayMs(3, almostOne)).toBe(8 * SIGNALING_BACKOFF_BASE_MS - 1);
    expect(reconnectDelayMs(3, () => 0.5)).toBe(4 * SIGNALING_BACKOFF_BASE_MS);
    expect(reconnectDelayMs(10, almostOne)).toBe(SIGNALING_BACKOFF_MAX_MS - 1);
    expect(reconnectDelayMs(1_000, almostOne)).toBe(SIGNALING_BACKOFF_MAX_MS - 1);
    expect(reconnectDelayMs(2, () => 0.5, 100, 250)).toBe(125);
  });
});
