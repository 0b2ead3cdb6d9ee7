/** How a target's run reads in a failed test: what broke, on which input, and how to replay it. */
import type { RunReport } from './target.js';

export function failureText(report: RunReport): string {
  if (report.failure === undefined) return `${report.name}: no failure`;
  const { failure } = report;
  const replay = `FUZZ_TARGETS=${report.name} FUZZ_SEED=${report.seed}${failure.path === null ? '' : ` FUZZ_PATH=${failure.path}`} npm run fuzz`;
  return `${report.name} failed after ${report.cases} cases (replay: ${replay})\ninput: ${failure.input}\n${failure.message}`;
}
