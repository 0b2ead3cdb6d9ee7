/**
 * `npm run fuzz`: every fuzz target (test/fuzz/targets.ts), far past the
 * 10,000 cases `npm test` runs: each decoder of untrusted input and the
 * server's frame handler.
 *
 * Environment:
 *   FUZZ_CASES    cases per target (default 1,000,000; the socket target runs its share, a tenth)
 *   FUZZ_MINUTES  minutes per target instead (FUZZ_CASES then only caps the count)
 *   FUZZ_TARGETS  comma list of target names (default: all)
 *   FUZZ_SEED     first seed, to replay a run: a crash prints the seed of its batch
 *   FUZZ_PATH     with FUZZ_SEED: straight to the minimised case a crash printed
 *
 * Prints per target: cases, crashes, cases/s, heap growth; on a crash the
 * seed, path and minimised input. Exits 1 on any crash.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { TARGETS } from './targets.js';
import type { RunReport } from './target.js';

const env = process.env;
const minutes = env['FUZZ_MINUTES'] === undefined ? undefined : Number(env['FUZZ_MINUTES']);
const cases = Number(env['FUZZ_CASES'] ?? (minutes === undefined ? 1_000_000 : Number.MAX_SAFE_INTEGER));
const seed = env['FUZZ_SEED'] === undefined ? undefined : Number(env['FUZZ_SEED']);
const path = env['FUZZ_PATH'];
const names = env['FUZZ_TARGETS']?.split(',').filter((name) => name !== '');

if (
  !Number.isFinite(cases) ||
  cases < 1 ||
  (minutes !== undefined && !(minutes > 0)) ||
  (seed !== undefined && !Number.isInteger(seed))
) {
  console.error('FUZZ_CASES must be a positive number, FUZZ_MINUTES a positive number and FUZZ_SEED an integer');
  process.exit(2);
}
const unknown = names?.filter((name) => !TARGETS.some((target) => target.name === name)) ?? [];
if (unknown.length > 0) {
  console.error(`unknown target(s): ${unknown.join(', ')}; targets: ${TARGETS.map((t) => t.name).join(', ')}`);
  process.exit(2);
}
const chosen = TARGETS.filter((target) => names === undefined || names.includes(target.name));

// Heap figures after a full collection, so growth means something was kept.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapMiB = (): number => {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

const rows: string[] = [];
const failures: RunReport[] = [];
console.log(
  `fuzzing ${chosen.length} target(s): ${minutes === undefined ? `${cases.toLocaleString('en')} cases each` : `${minutes} min each`}`,
);
for (const target of chosen) {
  console.log(`\n${target.name}: ${target.about}`);
  const heapBefore = heapMiB();
  let lastPrint = Date.now();
  const report = await target.run({
    cases,
    ...(minutes === undefined ? {} : { timeLimitMs: minutes * 60_000 }),
    ...(seed === undefined ? {} : { seed }),
    ...(path === undefined ? {} : { path }),
    onProgress: (done, total) => {
      if (Date.now() - lastPrint < 30_000) return;
      lastPrint = Date.now();
      console.log(
        `  ${done.toLocaleString('en')} / ${total === Number.MAX_SAFE_INTEGER ? '…' : total.toLocaleString('en')}`,
      );
    },
  });
  const heapGrowth = heapMiB() - heapBefore;
  const perSecond = Math.round(report.cases / (report.ms / 1000));
  const crashes = report.failure === undefined ? 0 : 1;
  const line =
    `${report.name.padEnd(16)} ${report.cases.toLocaleString('en').padStart(11)} cases  ${String(crashes).padStart(2)} crashes  ` +
    `${perSecond.toLocaleString('en').padStart(8)} cases/s  accepted ${report.accepted.toLocaleString('en')}, refused ${report.refused.toLocaleString('en')}  ` +
    `heap ${heapGrowth >= 0 ? '+' : ''}${heapGrowth.toFixed(1)} MiB`;
  console.log(`  ${line}`);
  rows.push(line);
  if (report.failure !== undefined) {
    failures.push(report);
    console.log(
      `  CRASH (replay: FUZZ_TARGETS=${report.name} FUZZ_SEED=${report.seed}${report.failure.path === null ? '' : ` FUZZ_PATH=${report.failure.path}`})`,
    );
    console.log(`  after ${report.failure.shrinks} shrinks, the minimised input: ${report.failure.input}`);
    console.log(`  ${report.failure.message.split('\n').join('\n  ')}`);
  }
}

console.log(`\n${rows.join('\n')}`);
console.log(
  failures.length === 0
    ? '\nno crashes'
    : `\n${failures.length} target(s) crashed: ${failures.map((f) => f.name).join(', ')}`,
);
process.exitCode = failures.length === 0 ? 0 : 1;
