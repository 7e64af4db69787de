// Content collections: Starlight's docs collection reads the lessons from ../content/lessons (MDX
// and Markdown) and checks their frontmatter; the i18n collection holds the components' UI strings.

import { defineCollection } from 'astro:content';
import { docsSchema, i18nSchema } from '@astrojs/starlight/schema';
import { glob } from 'astro/loaders';
import { z } from 'astro/zod';
import { uiStringsSchema } from './i18n/strings.ts';
import { lessonSchema } from './lesson-schema.ts';

export const collections = {
  docs: defineCollection({
    // LAYERLAB_LESSONS_DIR points the build at another lessons tree (fixtures, drafts).
    loader: glob({
      pattern: '**/*.{md,mdx}',
      base: process.env.LAYERLAB_LESSONS_DIR ?? '../content/lessons',
    }),
    schema: docsSchema({ extend: z.object({ lesson: lessonSchema.optional() }) }),
  }),
  i18n: defineCollection({
    loader: glob({ pattern: '**/*.json', base: './src/content/i18n' }),
    schema: i18nSchema({ extend: uiStringsSchema }),
  }),
};
