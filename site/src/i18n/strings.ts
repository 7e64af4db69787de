// The UI strings of Layerlab's components, as an extension of Starlight's i18n schema. English lives
// in src/content/i18n/en.json; another language adds <lang>.json with any of the same keys.

import { z } from 'astro/zod';
import en from '../content/i18n/en.json' with { type: 'json' };

export const UI_STRINGS = en;
export type UiKey = keyof typeof en;

export const uiStringsSchema = z.object(
  Object.fromEntries(Object.keys(en).map((k) => [k, z.string().optional()])) as Record<
    UiKey,
    z.ZodOptional<z.ZodString>
  >,
);

/** Picks the strings a component's client code needs, translated for the page's locale. */
export function uiStrings(
  t: ((key: string) => string) | undefined,
  keys: readonly UiKey[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of keys) {
    const translated = t?.(key);
    out[key] = translated && translated !== key ? translated : en[key];
  }
  return out;
}
