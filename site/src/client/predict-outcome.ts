// What a run turned out to be, for a <Predict>: its output as text (escape sequences removed) and
// its commands' exit statuses, matched against the lesson's choices in order. Pure, so the lesson
// lint and the unit tests use the same rules as the page.

import { parseSizeGuess, sizeMatches } from '../../../server/checks/answer-normalise.ts';
import type { PredictChoice } from './predict-schema.ts';

/** Flags of every `match`: `^` and `$` are line starts and ends in the output. */
export const MATCH_FLAGS = 'm';

// CSI (colours, cursor moves), OSC (titles), and two-byte escapes; then carriage returns.
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|\r/g;

/** Terminal output as plain text: escape sequences and carriage returns removed. */
export function plainText(output: string): string {
  return output.replace(ESCAPES, '');
}

/** Whether a choice's `exit` holds for the block's last exit status (undefined: none reported). */
function exitHolds(exit: PredictChoice['exit'], last: number | undefined): boolean {
  if (exit === undefined) return true;
  if (last === undefined) return false;
  return exit === 'nonzero' ? last !== 0 : last === exit;
}

/** The index of the first choice whose conditions hold for this run, or -1 when none does. */
export function decideChoice(
  choices: readonly PredictChoice[],
  output: string,
  lastExit: number | undefined,
): number {
  const text = plainText(output);
  return choices.findIndex(
    (c) =>
      (c.match === undefined || new RegExp(c.match, MATCH_FLAGS).test(text)) && exitHolds(c.exit, lastExit),
  );
}

/** A predicted size against the real one: right within `tolerance`; undefined when not a size. */
export function judgeSize(guess: string, truth: number, tolerance: number): boolean | undefined {
  const parsed = parseSizeGuess(guess);
  return parsed.ok ? sizeMatches(parsed.value, truth, tolerance) : undefined;
}
