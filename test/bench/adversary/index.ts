/**
 * The adversary section of `npm run bench` (issue 15): each attack against
 * the real server or the real node code, with its defence off and with the
 * defaults, in one table (docs/SECURITY.md holds a copy). BENCH_ATTACKS picks
 * some by name (comma list); `npm run bench:adversary` runs this section alone.
 */
import { cacheEclipse } from './cache-eclipse.js';
import { adversaryTable, type AdversaryAttack, type AdversaryRow } from './report.js';
import { serverFlood } from './server-flood.js';
import { serverHalfOpen } from './server-halfopen.js';
import { serverReflection } from './server-reflection.js';
import { serverUnread } from './server-unread.js';
import { tabCpu } from './tab-cpu.js';
import { tabMemory } from './tab-memory.js';
import { tabReflection } from './tab-reflection.js';
import { tabRelayFlood } from './tab-relay-flood.js';

/** In issue 15's order. */
export const ATTACKS: ReadonlyMap<string, AdversaryAttack> = new Map([
  ['server-unread', serverUnread],
  ['server-reflection', serverReflection],
  ['tab-reflection', tabReflection],
  ['server-flood', serverFlood],
  ['server-halfopen', serverHalfOpen],
  ['tab-relay-flood', tabRelayFlood],
  ['cache-eclipse', cacheEclipse],
  ['tab-cpu', tabCpu],
  ['tab-memory', tabMemory],
]);

export async function adversaryBench(log: (line: string) => void, only?: readonly string[]): Promise<void> {
  log('\n## Adversary (each attack with its defence off, then with the defaults)');
  const rows: AdversaryRow[] = [];
  for (const [name, attack] of ATTACKS) {
    if (only !== undefined && !only.includes(name)) continue;
    const started = performance.now();
    rows.push(...(await attack(log)));
    log(`(${name}: ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  log('');
  log(adversaryTable(rows));
}
