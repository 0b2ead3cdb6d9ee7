/** How the page writes figures: bytes, durations, round-trip times, clock times. */

const BYTE_UNITS = ['B', 'KB', 'MB', 'GB'] as const;

/** 0 B, 512 B, 1.5 KB, 12 KB, 3.4 MB (powers of 1024). */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 10 ? 0 : 1;
  return `${value.toFixed(digits)} ${BYTE_UNITS[unit] ?? 'B'}`;
}

/** 4 s, 2 min 05 s, 1 h 07 min. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, '0')} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** < 1 ms, 2.5 ms, 12 ms; a dash before the first measurement. */
export function formatRtt(ms: number | undefined): string {
  if (ms === undefined) return '—';
  if (ms < 1) return '< 1 ms';
  return `${ms < 10 ? Number(ms.toFixed(1)).toString() : Math.round(ms).toString()} ms`;
}

export function formatClock(at: number): string {
  return new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}
