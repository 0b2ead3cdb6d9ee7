/**
 * Wait until the machine is quiet before a timed run: the previous run's
 * leftovers (a closed profile's storage being removed, a renderer shutting
 * down, the listener replacing the neighbour that left) otherwise land on
 * whichever run comes next, and the benchmark's 2 cores are all it has.
 * Reads Linux's /proc/stat; elsewhere it returns at once.
 */
import { readFile } from 'node:fs/promises';

/** A window counts as quiet below this share of all cores busy. */
export const QUIET_BUSY_SHARE = 0.15;
/** Each measurement window. */
export const QUIET_WINDOW_MS = 50;
/** The longest wait: a machine busy for other reasons does not stall the benchmark. */
export const QUIET_MAX_WAIT_MS = 3_000;

async function cpuTimes(): Promise<{ busy: number; total: number } | undefined> {
  try {
    const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/**
 * Resolves once one QUIET_WINDOW_MS window had the CPUs under QUIET_BUSY_SHARE
 * busy (or after `maxWaitMs`, default QUIET_MAX_WAIT_MS).
 */
export async function waitForQuiet(maxWaitMs = QUIET_MAX_WAIT_MS): Promise<void> {
  const deadline = Date.now() + maxWaitMs;
  let before = await cpuTimes();
  if (before === undefined) return;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, QUIET_WINDOW_MS));
    const after = await cpuTimes();
    if (after === undefined) return;
    const total = after.total - before.total;
    if (total > 0 && (after.busy - before.busy) / total < QUIET_BUSY_SHARE) return;
    before = after;
  }
}
