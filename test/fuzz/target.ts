/**
 * A fuzz target: hostile inputs for one decoder (or the server's frame
 * handler) and the check each must pass. Written once, run two ways: 10,000
 * cases per target in `npm test` (test/unit/fuzz-targets.test.ts,
 * test/server/hub-fuzz.test.ts) and as many cases or minutes as asked in
 * `npm run fuzz` (test/fuzz/run.ts). fast-check generates the inputs and, on
 * a failure, shrinks it to a minimal one and gives the seed and path that
 * replay it.
 */
import fc from 'fast-check';
import { FuzzFailure, type Verdict } from './check.js';

export interface Fuzzer<I> {
  readonly input: fc.Arbitrary<I>;
  /**
   * One case. Throws when a property fails: a FuzzFailure for a check that
   * did not hold, anything else for what the code under test threw.
   */
  readonly check: (input: I) => Verdict | Promise<Verdict>;
  /** Whether `check` returns promises (run as an async property). */
  readonly async: boolean;
  /** After the run: give back what prepare made, throwing if what the target held did not come back. */
  readonly close?: () => Promise<void>;
}

export interface TargetSpec<I> {
  readonly name: string;
  /** What it feeds, to what, in a line. */
  readonly about: string;
  /**
   * Share of the requested case count this target runs: 1 for the codecs; a
   * socket round trip per case costs ~100x a parse, so the real-socket
   * target runs a smaller share.
   */
  readonly share?: number;
  readonly prepare: () => Promise<Fuzzer<I>>;
}

export interface RunOptions {
  /** Cases before the share is applied. */
  readonly cases: number;
  /** Stop after this long (checked between batches of cases; cases then only bound the run). */
  readonly timeLimitMs?: number;
  /** The first batch's seed: a failure's printed seed replays its batch. */
  readonly seed?: number;
  /** With `seed`: jumps straight to the minimised case a failure printed. */
  readonly path?: string;
  /** Called after each batch. */
  readonly onProgress?: (cases: number, total: number) => void;
}

export interface RunFailure {
  /** The error the minimised case raised. */
  readonly message: string;
  /** The minimised input (fast-check's printed form). */
  readonly input: string;
  readonly path: string | null;
  readonly shrinks: number;
}

export interface RunReport {
  readonly name: string;
  /** Cases run (up to and including the first failure). */
  readonly cases: number;
  readonly accepted: number;
  readonly refused: number;
  readonly ms: number;
  /** The last batch's seed (the failing one's, after a failure). */
  readonly seed: number;
  /** Stopped by the time limit (or a failure) before all cases ran. */
  readonly interrupted: boolean;
  readonly failure?: RunFailure;
}

export interface FuzzTarget {
  readonly name: string;
  readonly about: string;
  readonly share: number;
  run(options: RunOptions): Promise<RunReport>;
}

/**
 * Errors that escape a case without being thrown to it (a rejected promise
 * nobody awaited, an exception in a socket callback) are crashes too: they
 * are caught here for the length of a run and fail the case under way.
 */
class EscapeWatch {
  private readonly escaped: unknown[] = [];
  private readonly waiting = new Set<(error: unknown) => void>();
  private readonly onError = (error: unknown): void => {
    this.escaped.push(error);
    for (const wake of this.waiting) wake(error);
  };

  start(): void {
    process.on('unhandledRejection', this.onError);
    process.on('uncaughtException', this.onError);
  }

  stop(): void {
    process.off('unhandledRejection', this.onError);
    process.off('uncaughtException', this.onError);
  }

  throwIfAny(): void {
    const first = this.escaped.shift();
    if (first === undefined) return;
    this.escaped.length = 0;
    throw escapedFailure(first);
  }

  /** `work`, failed as soon as an error escapes while it runs (rather than when it times out waiting). */
  async during<T>(work: Promise<T>): Promise<T> {
    let wake: ((error: unknown) => void) | undefined;
    const escaped = new Promise<never>((_, reject) => {
      wake = (error) => {
        reject(escapedFailure(error));
      };
      this.waiting.add(wake);
    });
    try {
      return await Promise.race([work, escaped]);
    } finally {
      if (wake !== undefined) this.waiting.delete(wake);
      // A case given up for an escaped error may still fail on its own later: that is the same crash, already reported.
      work.catch(reportedAlready);
    }
  }
}

function reportedAlready(): void {}

function escapedFailure(error: unknown): FuzzFailure {
  return new FuzzFailure(`an error escaped the code under test: ${describe(error)}`);
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
}

const MAX_PRINTED_INPUT_CHARS = 20_000;

/**
 * Cases run in batches of this many, each with the next seed: a time limit
 * is checked between batches, progress is reported after each, and a
 * failure's seed replays its batch alone.
 */
const BATCH = 10_000;

export function defineTarget<I>(spec: TargetSpec<I>): FuzzTarget {
  const share = spec.share ?? 1;
  return {
    name: spec.name,
    about: spec.about,
    share,
    async run(options) {
      const fuzzer = await spec.prepare();
      const watch = new EscapeWatch();
      let accepted = 0;
      let refused = 0;
      const count = (verdict: Verdict): void => {
        if (verdict === 'accepted') accepted++;
        else refused++;
      };
      const property = fuzzer.async
        ? fc.asyncProperty(fuzzer.input, async (input) => {
            watch.throwIfAny();
            count(await watch.during(Promise.resolve(fuzzer.check(input))));
            watch.throwIfAny();
          })
        : fc.property(fuzzer.input, (input) => {
            const verdict = fuzzer.check(input);
            if (typeof verdict !== 'string') throw new FuzzFailure('a synchronous target returned a promise');
            count(verdict);
            watch.throwIfAny();
          });
      const total = Math.max(1, Math.ceil(options.cases * share));
      const deadline = options.timeLimitMs === undefined ? Infinity : Date.now() + options.timeLimitMs;
      const firstSeed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
      const started = performance.now();
      let cases = 0;
      let failure: RunFailure | undefined;
      let seed = firstSeed;
      watch.start();
      try {
        for (let batch = 0; cases < total && Date.now() < deadline && failure === undefined; batch++) {
          seed = (firstSeed + batch) | 0;
          const parameters = {
            numRuns: Math.min(BATCH, total - cases),
            seed,
            ...(options.path === undefined || batch > 0 ? {} : { path: options.path }),
          };
          const details: fc.RunDetails<[I]> = await fc.check(property, parameters);
          cases += details.numRuns;
          if (details.failed) failure = failureOf(details);
          options.onProgress?.(cases, total);
        }
      } finally {
        watch.stop();
      }
      const ms = performance.now() - started;
      try {
        await fuzzer.close?.();
      } catch (error) {
        failure ??= { message: `after the run: ${describe(error)}`, input: '', path: null, shrinks: 0 };
      }
      const report = { name: spec.name, cases, accepted, refused, ms, seed, interrupted: cases < total };
      return failure === undefined ? report : { ...report, failure };
    },
  };
}

function failureOf<I>(details: fc.RunDetails<[I]>): RunFailure {
  if (details.counterexample === null) {
    return { message: 'fast-check gave up (too many skipped cases)', input: '', path: null, shrinks: 0 };
  }
  const input = fc.stringify(details.counterexample[0]);
  return {
    message: describe(details.errorInstance),
    input:
      input.length > MAX_PRINTED_INPUT_CHARS
        ? `${input.slice(0, MAX_PRINTED_INPUT_CHARS)}… (${input.length} characters)`
        : input,
    path: details.counterexamplePath,
    shrinks: details.numShrinks,
  };
}
