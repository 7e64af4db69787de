// The JavaScript budget of a lesson page: everything it loads, xterm.js included, gzip.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUDGET_BYTES, DIST, pageJsGzipBytes, pageScripts } from '../../site/scripts/js-budget.ts';

describe('the JavaScript a page loads', () => {
  const pages = readdirSync(DIST, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !['_astro', 'pagefind', 'recordings'].includes(d.name))
    .map((d) => join(DIST, d.name, 'index.html'));

  it('stays within 250 kB gzip on every page with a terminal', () => {
    expect(pages.length).toBeGreaterThan(0);
    for (const page of pages) expect(pageJsGzipBytes(page), page).toBeLessThanOrEqual(BUDGET_BYTES);
  });

  it('loads xterm.js only on pages that have a terminal', () => {
    const withoutTerminal = join(DIST, '404.html');
    expect([...pageScripts(withoutTerminal).files].some((f) => f.includes('xterm'))).toBe(false);
  });
});
