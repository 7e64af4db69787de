// Small formatting helpers shared by the pictures: sizes as Docker prints them, short digests, and
// HTML escaping for text that comes from the engine (file names, commands).

import { humanSize } from '../../../engine/format/text.ts';

/**
 * `1.98MB`, `20B`: the CLI's own formatter (Docker's three significant digits, decimal units), so a
 * picture prints a size exactly as `docker images`, `history` and `ps -s` print it.
 */
export function formatSize(bytes: number): string {
  return humanSize(bytes, 3);
}

/** `sha256:dadfa5879ac1…` → `dadfa5879ac1`, as Docker shortens ids. */
export function shortDigest(digest: string | undefined): string {
  if (!digest) return '';
  const hex = digest.includes(':') ? digest.slice(digest.indexOf(':') + 1) : digest;
  return hex.slice(0, 12);
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function esc(text: unknown): string {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A Dockerfile history line made readable: drops the `/bin/sh -c #(nop) ` noise. */
export function instruction(createdBy: string | undefined): string {
  if (!createdBy) return '';
  return createdBy
    .replace(/^\/bin\/sh -c #\(nop\)\s*/, '')
    .replace(/^\/bin\/sh -c /, 'RUN ')
    .replace(/\s+# buildkit$/, '')
    .trim();
}

/** Reads the translated UI strings a component's server side put in `data-strings`. */
export function strings(el: HTMLElement): (key: string) => string {
  let table: Record<string, string> = {};
  try {
    table = JSON.parse(el.dataset.strings ?? '{}') as Record<string, string>;
  } catch {
    // keys are shown as they are
  }
  return (key) => table[key] ?? key;
}

/** Escapes `text` and sets its `backticked` parts as code: UI strings may name commands. */
export function rich(text: string): string {
  return esc(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}
