// Checks a learner's typed answer against the session's real engine state: the server works out the
// value (an image's id, the diff_id images share, a size, a count, a figure of `system df`) and
// compares it with what was typed, read the way the engine spells it (answer-normalise.ts). A wrong
// answer is told so with the lesson's hint, never with the value; guesses are rate-limited per answer.

import type { EngineContext } from '../../engine/context.ts';
import { NotFoundError } from '../../engine/errors.ts';
import { systemDf } from '../../engine/image/views.ts';
import { getImageRecord, loadImage, resolveImageId } from '../../engine/store/images.ts';
import {
  digestMatches,
  type Parsed,
  parseCountGuess,
  parseDigestGuess,
  parseSizeGuess,
  sizeMatches,
} from './answer-normalise.ts';
import type { Answer } from './answer-schema.ts';

export interface AnswerResult {
  right: boolean;
  /** The lesson's hint, for a wrong answer. */
  hint?: string;
  /** Why the answer could not be compared ("type a size with its unit"); never the value itself. */
  detail?: string;
  /** Too many guesses at this answer for now: try again in a few minutes. */
  limited?: boolean;
}

const DEFAULT_SIZE_TOLERANCE = 0.05;

/** The engine's value for `answer`, or a sentence on why there is none yet (the image is missing). */
type Truth =
  | { kind: 'digests'; values: string[] }
  | { kind: 'size'; value: number; tolerance: number }
  | { kind: 'count'; value: number }
  | { kind: 'missing'; detail: string };

async function truthOf(ctx: EngineContext, answer: Answer): Promise<Truth> {
  try {
    switch (answer.kind) {
      case 'image-id':
        return { kind: 'digests', values: [await resolveImageId(ctx, answer.image)] };
      case 'shared-diff-id': {
        const lists = await Promise.all(
          answer.images.map(async (ref) => (await loadImage(ctx, ref)).config.rootfs.diff_ids),
        );
        const [first = [], ...rest] = lists;
        const shared = first.filter((id) => rest.every((list) => list.includes(id)));
        if (shared.length === 0) {
          return { kind: 'missing', detail: `${answer.images.join(' and ')} share no layer in your session` };
        }
        return { kind: 'digests', values: shared };
      }
      case 'layer-count':
        return { kind: 'count', value: (await loadImage(ctx, answer.image)).config.rootfs.diff_ids.length };
      case 'image-size': {
        const record = await getImageRecord(ctx, await resolveImageId(ctx, answer.image));
        return { kind: 'size', value: record.size, tolerance: answer.tolerance ?? DEFAULT_SIZE_TOLERANCE };
      }
      case 'system-df': {
        const row = (await systemDf(ctx)).find((r) => r.type === answer.row);
        const value = row?.[answer.column] ?? 0;
        if (answer.column === 'size' || answer.column === 'reclaimable') {
          return { kind: 'size', value, tolerance: answer.tolerance ?? DEFAULT_SIZE_TOLERANCE };
        }
        return { kind: 'count', value };
      }
    }
  } catch (err) {
    // The image the question is about is not in the session (yet): say so, it reveals nothing.
    if (err instanceof NotFoundError)
      return { kind: 'missing', detail: `${err.message} in your session yet` };
    throw err;
  }
}

function compare(truth: Exclude<Truth, { kind: 'missing' }>, typed: string): Parsed<boolean> {
  switch (truth.kind) {
    case 'digests': {
      const guess = parseDigestGuess(typed);
      return guess.ok ? { ok: true, value: truth.values.some((d) => digestMatches(guess.value, d)) } : guess;
    }
    case 'size': {
      const guess = parseSizeGuess(typed);
      return guess.ok ? { ok: true, value: sizeMatches(guess.value, truth.value, truth.tolerance) } : guess;
    }
    case 'count': {
      const guess = parseCountGuess(typed);
      return guess.ok ? { ok: true, value: guess.value === truth.value } : guess;
    }
  }
}

/** The shape of what a learner types for `answer`, checked before the engine is asked anything. */
export function parseTyped(answer: Answer, typed: string): Parsed<unknown> {
  switch (answer.kind) {
    case 'image-id':
    case 'shared-diff-id':
      return parseDigestGuess(typed);
    case 'layer-count':
      return parseCountGuess(typed);
    case 'image-size':
      return parseSizeGuess(typed);
    case 'system-df':
      return answer.column === 'size' || answer.column === 'reclaimable'
        ? parseSizeGuess(typed)
        : parseCountGuess(typed);
  }
}

/** Compares `typed` with the engine's value for `answer` in `ctx`'s session. */
export async function evaluateAnswer(
  ctx: EngineContext,
  answer: Answer,
  typed: string,
): Promise<AnswerResult> {
  const shape = parseTyped(answer, typed);
  if (!shape.ok) return { right: false, detail: shape.message };
  const truth = await truthOf(ctx, answer);
  if (truth.kind === 'missing') return withHint({ right: false, detail: truth.detail }, answer.hint);
  const compared = compare(truth, typed);
  if (!compared.ok) return { right: false, detail: compared.message };
  return compared.value ? { right: true } : withHint({ right: false }, answer.hint);
}

function withHint(result: AnswerResult, hint: string | undefined): AnswerResult {
  return hint === undefined ? result : { ...result, hint };
}

/**
 * Guesses allowed per answer in a window, so the value cannot be found by trying: a digest prefix
 * or a size's digits one at a time would otherwise take a script a few hundred requests.
 */
export class GuessLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #guesses = new Map<string, number[]>();

  constructor(options: { max?: number; windowMs?: number; now?: () => number } = {}) {
    this.#max = options.max ?? 12;
    this.#windowMs = options.windowMs ?? 10 * 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** Counts a guess at `key`; false when the window's allowance is used up (the guess is not made). */
  take(key: string): boolean {
    const now = this.#now();
    const recent = (this.#guesses.get(key) ?? []).filter((t) => now - t < this.#windowMs);
    if (recent.length >= this.#max) {
      this.#guesses.set(key, recent);
      return false;
    }
    recent.push(now);
    this.#guesses.set(key, recent);
    return true;
  }
}
