// The props of a lesson's <Predict>, as zod schemas: the build (Predict.astro) and the lesson lint
// (test/unit/lessons.test.ts) parse them, so a typo or a matcher that does not compile fails before a
// reader sees the page. What actually happened is always read from the run: its output (a `match`
// regular expression per choice), its exit status, or the engine's state (an image's size).

import { z } from 'zod';
import { MATCH_FLAGS } from './predict-outcome.ts';

export { MATCH_FLAGS };

/** Does `source` compile as a regular expression with the flags the page uses? */
function compiles(source: string): boolean {
  try {
    new RegExp(source, MATCH_FLAGS);
    return true;
  } catch {
    return false;
  }
}

export const predictChoiceSchema = z
  .strictObject({
    /** What the reader picks: "Already exists: it is not downloaded again". */
    label: z.string().min(1).max(200),
    /**
     * A regular expression over the run's output (escape sequences removed; flag `m`). The echoed
     * command line is part of the output, so a matcher must not match the command itself.
     */
    match: z.string().min(1).max(500).refine(compiles, 'does not compile as a regular expression').optional(),
    /** The exit status of the block's last command: a number, or `nonzero` for any failure. */
    exit: z.union([z.number().int().min(0).max(255), z.literal('nonzero')]).optional(),
    /** One line on why this is what happens, shown once the run has decided. */
    why: z.string().min(1).max(500),
  })
  .refine((c) => c.match !== undefined || c.exit !== undefined, {
    message: 'a choice needs a `match` (over the output) or an `exit` status to be recognised by',
  });

export const predictValueSchema = z.strictObject({
  /** The image whose size (as `docker images` prints it) the reader guesses, read after the run. */
  image: z.string().min(1).max(256),
  /** How far off a guess may be and still count, as a share of the real size (0.15 = 15 %). */
  tolerance: z.number().min(0).max(1).optional(),
  /** One line on why the size is what it is. */
  why: z.string().min(1).max(500),
});

export const predictPropsSchema = z
  .strictObject({
    /** Unique on the page: names the prediction in sessionStorage. */
    id: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'an id of letters, digits, ".", "_" and "-"'),
    question: z.string().min(1).max(300),
    /** Tried in order after the run: the first whose `match` and `exit` both hold is what happened. */
    choices: z.array(predictChoiceSchema).min(2).max(6).optional(),
    value: predictValueSchema.optional(),
    /** The Run block it is bound to, by its command's first line; default the next Run block. */
    run: z.string().min(1).max(500).optional(),
  })
  .refine((p) => (p.choices === undefined) !== (p.value === undefined), {
    message: 'give either `choices` or a `value`, not both',
  });

export type PredictChoice = z.output<typeof predictChoiceSchema>;
export type PredictValue = z.output<typeof predictValueSchema>;
export type PredictProps = z.output<typeof predictPropsSchema>;

/** What the page's script needs: the props without the question (which is in the page's text). */
export type PredictSpec = Pick<PredictProps, 'choices' | 'value' | 'run'>;
