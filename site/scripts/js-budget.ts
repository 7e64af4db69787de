// Measures the JavaScript a built page loads: its module scripts, their static imports and the
// chunks they import lazily (xterm.js on a page with a terminal), gzip-compressed, as a browser
// would fetch them. `npx node site/scripts/js-budget.ts [page.html …]` prints a table.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

export const DIST = join(import.meta.dirname, '..', 'dist');
/** The budget of a lesson page, gzip. */
export const BUDGET_BYTES = 250 * 1024;

function resolveSrc(from: string, src: string): string | undefined {
  if (/^(https?:)?\/\//.test(src)) return undefined;
  const file = src.startsWith('/') ? join(DIST, src) : resolve(dirname(from), src);
  return existsSync(file) ? file : undefined;
}

/** Every JS file the page at `htmlFile` loads, and the bytes of its inline scripts. */
export function pageScripts(htmlFile: string): { files: Set<string>; inlineBytes: number } {
  const html = readFileSync(htmlFile, 'utf8');
  const files = new Set<string>();
  let inlineBytes = 0;
  const queue: string[] = [];
  for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
    const src = /\ssrc="([^"]+)"/.exec(m[1] ?? '')?.[1];
    if (src) {
      const f = resolveSrc(htmlFile, src);
      if (f) queue.push(f);
    } else if (!/type="application\/(ld\+)?json"/.test(m[1] ?? '')) {
      inlineBytes += gzipSync(m[2] ?? '').length;
      for (const i of (m[2] ?? '').matchAll(/(?:import\s*\(|from)\s*["'`]([^"'`]+\.js)["'`]/g)) {
        const f = resolveSrc(htmlFile, i[1]!);
        if (f) queue.push(f);
      }
    }
  }
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    const code = readFileSync(file, 'utf8');
    for (const i of code.matchAll(/(?:import\s*\(\s*|from\s*|import\s*)["'`]([^"'`]+\.js)["'`]/g)) {
      const f = resolveSrc(file, i[1]!);
      if (f) queue.push(f);
    }
  }
  return { files, inlineBytes };
}

export function pageJsGzipBytes(htmlFile: string): number {
  const { files, inlineBytes } = pageScripts(htmlFile);
  let total = inlineBytes;
  for (const f of files) total += gzipSync(readFileSync(f)).length;
  return total;
}

function htmlPages(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const full = join(dir, n);
    if (statSync(full).isDirectory()) return n === '_astro' || n === 'pagefind' ? [] : htmlPages(full);
    return n.endsWith('.html') ? [full] : [];
  });
}

if (import.meta.main) {
  const pages = process.argv.slice(2).length ? process.argv.slice(2) : htmlPages(DIST);
  for (const p of pages) {
    const kb = pageJsGzipBytes(p) / 1024;
    console.log(
      `${kb.toFixed(1).padStart(7)} kB gzip  ${relative(DIST, p)}${kb * 1024 > BUDGET_BYTES ? '  OVER BUDGET' : ''}`,
    );
  }
}
