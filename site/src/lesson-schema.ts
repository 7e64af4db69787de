// The `lesson` block of a lesson's frontmatter: its place in the course, the images its reset pulls,
// and the starting state a reset restores. Strict, so a typo in a lesson fails the build.

import { z } from 'astro/zod';
import { resetTargetSchema } from '../../server/reset/target.ts';

export const lessonSchema = z.strictObject({
  /** Position in the sidebar and in "next lesson" links (1, 2, …). */
  order: z.number().int().min(0),
  /** Images the lesson's reset makes sure are present (pulled when missing). */
  images: z.array(z.string().min(1)).optional(),
  /** The starting state a reset restores (server/reset: images and containers). */
  reset: resetTargetSchema.optional(),
});

export type LessonFrontmatter = z.infer<typeof lessonSchema>;
