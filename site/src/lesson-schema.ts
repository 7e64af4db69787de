// The `lesson` block of a lesson's frontmatter: its place in the course and the state it starts
// from. `images` is the short form of a start that only needs images; `reset` is the whole start
// (server/reset/target.ts: images, containers to create, container names that must be free). A
// reset restores the start; arriving at the page prepares what of it is missing (`prepare`).
// Strict, so a typo in a lesson fails the build.

import { z } from 'astro/zod';
import type { ResetTargetInput } from '../../server/reset/target.ts';
import { resetTargetSchema } from '../../server/reset/target.ts';

export const lessonSchema = z
  .strictObject({
    /** Position in the sidebar and in "next lesson" links (1, 2, …). */
    order: z.number().int().min(0),
    /** Images the lesson starts with (pulled when missing): the short form of `reset: { images }`. */
    images: z.array(z.string().min(1)).optional(),
    /** The state the lesson starts from: images, containers, and names it will create (`absent`). */
    reset: resetTargetSchema.optional(),
  })
  .refine((l) => l.images === undefined || l.reset === undefined, {
    message: 'give the images either as `images` or inside `reset`, not both',
  });

export type LessonFrontmatter = z.infer<typeof lessonSchema>;

/** The state a lesson starts from, as a reset target: `reset`, else its `images`, else undefined. */
export function lessonStart(lesson: Partial<LessonFrontmatter> | undefined): ResetTargetInput | undefined {
  if (lesson?.reset !== undefined) return lesson.reset;
  if (lesson?.images !== undefined) return { images: lesson.images };
  return undefined;
}
