// How long each fuzz target runs: a short budget for `npm test`, scaled up by `npm run fuzz`
// (FUZZ_SCALE, set by scripts/fuzz.ts) and pinned to a seed with FUZZ_SEED to replay a failure.

import fc from 'fast-check';
import { LayerlabError } from '../../engine/errors.ts';

/** Multiplier on every target's short run count; 1 in `npm test`. */
export const FUZZ_SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? '1') || 1);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

/** Runs `property` `shortRuns × FUZZ_SCALE` times and prints what ran (target, runs, seed, time). */
export async function fuzz<Ts extends [unknown, ...unknown[]]>(
  target: string,
  shortRuns: number,
  property: fc.IProperty<Ts> | fc.IAsyncProperty<Ts>,
): Promise<void> {
  const numRuns = shortRuns * FUZZ_SCALE;
  const seed = SEED ?? Date.now() ^ (Math.random() * 0x100000000);
  const started = performance.now();
  // `interruptAfterTimeLimit` keeps a slow machine from turning the short budget into minutes; the
  // run count actually reached is printed, so a starved run is visible rather than silent.
  const details = await fc.check(property as fc.IAsyncProperty<Ts>, {
    numRuns,
    seed,
    interruptAfterTimeLimit: FUZZ_SCALE === 1 ? 15_000 : 30 * 60_000,
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `fuzz ${target}: ${details.numRuns}/${numRuns} runs in ${seconds}s (seed ${seed}${details.interrupted ? ', stopped by its time limit' : ''})\n`,
  );
  if (details.failed) {
    throw new Error(
      `fuzz ${target} failed after ${details.numRuns} runs (replay with FUZZ_SEED=${seed}):\n` +
        `counterexample: ${fc.stringify(details.counterexample).slice(0, 4000)}\n${String(details.errorInstance)}`,
      { cause: details.errorInstance },
    );
  }
}

/**
 * The contract every parser fuzzed here must keep: it returns, or throws `allowed` (the engine's
 * typed errors by default) — never a TypeError, RangeError, URIError or anything untyped.
 */
export function parsesOrRefuses<T>(
  run: () => T,
  allowed: (err: unknown) => boolean = (err) => err instanceof LayerlabError,
): T | undefined {
  try {
    return run();
  } catch (err) {
    if (allowed(err)) return undefined;
    throw err;
  }
}

/** The async form of `parsesOrRefuses`. */
export async function parsesOrRefusesAsync<T>(
  run: () => Promise<T>,
  allowed: (err: unknown) => boolean = (err) => err instanceof LayerlabError,
): Promise<T | undefined> {
  try {
    return await run();
  } catch (err) {
    if (allowed(err)) return undefined;
    throw err;
  }
}
