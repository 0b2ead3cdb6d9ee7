/** `npm run bench:adversary`: the adversary section of the bench alone (see index.ts). */
import { adversaryBench } from './index.js';

const only = process.env['BENCH_ATTACKS']?.split(',').filter((name) => name !== '');
adversaryBench((line) => void process.stdout.write(`${line}\n`), only).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`adversary bench failed: ${String(error)}\n`);
    process.exit(1);
  },
);
