/**
 * A connected link's readings from its transport: the selected candidate
 * pair's round-trip time and candidate types, re-read every
 * LINK_STATS_INTERVAL_MS while the link is connected, one reading at a time.
 */
import type { PathTypes } from '../transport/stats.js';
import type { Transport } from '../transport/transport.js';

/**
 * How often a connected link re-reads its round-trip time from the transport
 * (getStats() walks every stats object, so not on every render of a page).
 */
export const LINK_STATS_INTERVAL_MS = 2_000;

/** A transport refuses a reading only when the connection closes under it (which ends the link). */
function lastReadingStands(): void {
  // The fields keep the last reading.
}

export class LinkReadings {
  /** Round-trip time (ms) last read; undefined before. */
  rttMs: number | undefined;
  /** The selected pair's candidate types, last read; undefined before. */
  path: PathTypes | undefined;
  private reading: Promise<void> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;

  /** @param connected whether the link is connected now: a reading that lands after it closed is dropped. */
  constructor(
    private readonly transport: Transport,
    private readonly connected: () => boolean,
  ) {}

  /** Read now, then every LINK_STATS_INTERVAL_MS until {@link stop}. */
  start(): void {
    void this.read();
    this.timer ??= setInterval(() => void this.read(), LINK_STATS_INTERVAL_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Read the figures; resolves when the reading under way (or this one) is done. */
  read(): Promise<void> {
    if (this.reading !== undefined) return this.reading;
    if (!this.connected() || this.transport.stats === undefined) return Promise.resolve();
    this.reading = this.transport
      .stats()
      .then((stats) => {
        if (!this.connected()) return;
        if (stats.rttMs !== undefined) this.rttMs = stats.rttMs;
        if (stats.path !== undefined) this.path = stats.path;
      }, lastReadingStands)
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }
}
