/**
 * Summarise V8 CPU profiles (`.cpuprofile`, as `BENCH_PROFILE_DIR` writes
 * them): self time summed by function and file, the top entries first.
 *
 *   node --import tsx test/bench/profile-top.ts FILE_OR_DIR... [--top N]
 *
 * A folder stands for every `.cpuprofile` in it (the benchmark writes one per
 * thread of each server process; tsx's loader thread is nearly idle).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Entries printed unless `--top N` says otherwise. */
const DEFAULT_TOP = 25;

/** Self time (µs) by `function (file:line)`, and the profile's total. */
export function selfTimes(profile: Profile): { byFunction: Map<string, number>; total: number } {
  const keyOf = new Map<number, string>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, '~/');
    keyOf.set(node.id, `${functionName || '(anonymous)'} ${file === '' ? '' : `${file}:${lineNumber + 1}`}`.trim());
  }
  const byFunction = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    const key = keyOf.get(id) ?? '?';
    byFunction.set(key, (byFunction.get(key) ?? 0) + delta);
    total += delta;
  });
  return { byFunction, total };
}

function files(paths: readonly string[]): string[] {
  return paths.flatMap((path) =>
    statSync(path).isDirectory()
      ? readdirSync(path)
          .filter((name) => name.endsWith('.cpuprofile'))
          .map((name) => join(path, name))
      : [path],
  );
}

function main(): void {
  const args = process.argv.slice(2);
  const topAt = args.indexOf('--top');
  const top = topAt < 0 ? DEFAULT_TOP : Number(args[topAt + 1]);
  const paths = topAt < 0 ? args : args.filter((_, i) => i !== topAt && i !== topAt + 1);
  for (const file of files(paths)) {
    const { byFunction, total } = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as Profile);
    const idle = byFunction.get('(idle)') ?? 0;
    const busy = total - idle;
    process.stdout.write(`\n${file}: ${(busy / 1000).toFixed(0)} ms busy of ${(total / 1000).toFixed(0)} ms\n`);
    if (busy < total * 0.01) continue;
    const rows = [...byFunction].filter(([key]) => key !== '(idle)').sort((a, b) => b[1] - a[1]);
    for (const [key, micros] of rows.slice(0, top))
      process.stdout.write(
        `${((100 * micros) / busy).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${key}\n`,
      );
  }
}

main();
