/**
 * A small seeded PRNG for the simulator (mulberry32: 32-bit state, passes
 * the usual smoke tests, and is fast). Same seed, same run, bit for bit.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [0, n). */
export function randomInt(random: () => number, n: number): number {
  return Math.min(n - 1, Math.floor(random() * n));
}

/** Shuffle in place (Fisher-Yates). */
export function shuffleInPlace<T>(list: T[], random: () => number): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = randomInt(random, i + 1);
    [list[i], list[j]] = [list[j] as T, list[i] as T];
  }
  return list;
}
