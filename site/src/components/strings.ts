// Server-side helper for the components: the translated strings their client code needs, as the
// JSON that goes into `data-strings`.

import { type UiKey, uiStrings } from '../i18n/strings.ts';

export function stringsAttr(locals: App.Locals | Record<string, unknown>, keys: readonly UiKey[]): string {
  const t = (locals as { t?: (key: string) => string }).t;
  return JSON.stringify(uiStrings(t ? (k) => t(k) : undefined, keys));
}

export function translate(locals: App.Locals | Record<string, unknown>, key: UiKey): string {
  const t = (locals as { t?: (key: string) => string }).t;
  return uiStrings(t ? (k) => t(k) : undefined, [key])[key]!;
}
