// Content collections: Starlight's docs collection reads the lessons from ../content/lessons (MDX
// and Markdown) and checks their frontmatter; the i18n collection holds the components' UI strings.

import { docsSchema, i18nSchema } from '@astrojs/starlight/schema';
import { defineCollection } from 'astro:content';
import { glob } from 'astro/loaders';
import { z } from 'astro/zod';
import { lessonSchema } from './lesson-schema.ts';
import { uiStringsSchema } from './i18n/strings.ts';

export const collections = {
  docs: defineCollection({
    loader: glob({ pattern: '**/*.{md,mdx}', base: '../content/lessons' }),
    schema: docsSchema({ extend: z.object({ lesson: lessonSchema.optional() }) }),
  }),
  i18n: defineCollection({
    loader: glob({ pattern: '**/*.json', base: './src/content/i18n' }),
    schema: i18nSchema({ extend: uiStringsSchema }),
  }),
};
