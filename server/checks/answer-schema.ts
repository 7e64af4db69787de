// What a lesson's <Answer> asks the learner for, as zod schemas: a value the engine knows (an image's
// id, the diff_id two images share, a size, a count, a figure of `system df`). Declared in
// content/lesson-checks.ts beside the checks; the page names one by lesson and id and never sends a
// definition, so a reader cannot choose what counts as right.

import { z } from 'zod';

const imageRef = z.string().min(1).max(256);
const hint = z.string().min(1).max(500).optional();
/** How far a typed size may be from the engine's, as a share of it (0.05 = 5 %). */
const tolerance = z.number().min(0).max(0.5).optional();

export const imageIdAnswerSchema = z.strictObject({
  kind: z.literal('image-id'),
  /** The image whose id (the config's digest, as `docker images` shortens it) is the answer. */
  image: imageRef,
  hint,
});

export const sharedDiffIdAnswerSchema = z.strictObject({
  kind: z.literal('shared-diff-id'),
  /** A diff_id that every one of these images lists in `.RootFS.Layers`. */
  images: z.array(imageRef).min(2).max(4),
  hint,
});

export const layerCountAnswerSchema = z.strictObject({
  kind: z.literal('layer-count'),
  /** How many layers (diff_ids) the image's config lists. */
  image: imageRef,
  hint,
});

export const imageSizeAnswerSchema = z.strictObject({
  kind: z.literal('image-size'),
  /** The image's size as `docker images` prints it (its layers, unpacked). */
  image: imageRef,
  tolerance,
  hint,
});

export const systemDfAnswerSchema = z.strictObject({
  kind: z.literal('system-df'),
  /** A figure of `docker system df`: its row (TYPE) and column. */
  row: z.enum(['Images', 'Containers', 'Build Cache']),
  column: z.enum(['total', 'active', 'size', 'reclaimable']),
  /** For the size columns. */
  tolerance,
  hint,
});

export const answerSchema = z.discriminatedUnion('kind', [
  imageIdAnswerSchema,
  sharedDiffIdAnswerSchema,
  layerCountAnswerSchema,
  imageSizeAnswerSchema,
  systemDfAnswerSchema,
]);

export type Answer = z.output<typeof answerSchema>;
export type AnswerInput = z.input<typeof answerSchema>;
export type AnswerKind = Answer['kind'];

export type ParsedAnswer = { ok: true; answer: Answer } | { ok: false; message: string };

/** Validates an answer's declaration; the message names the field, as the lesson author needs it. */
export function parseAnswer(value: unknown): ParsedAnswer {
  const parsed = answerSchema.safeParse(value);
  if (parsed.success) return { ok: true, answer: parsed.data };
  const issue = parsed.error.issues[0];
  return {
    ok: false,
    message: `answer: ${issue?.path.join('.') || '(answer)'}: ${issue?.message ?? 'invalid'}`,
  };
}
