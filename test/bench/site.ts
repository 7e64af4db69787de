// `npm run bench` (site part): each lesson page's JavaScript (gzip, as a browser fetches it; budget
// 250 kB) and its Lighthouse performance score (target 95), measured on the built site served by a
// real `layerlab serve` (temporary state root) and loaded in Debian's Chromium ($CHROME_PATH).
//   npx node test/bench/site.ts [--desktop] [--runs N] [page-id …]      e.g. 05-copy-on-write sandbox
// Lighthouse's simulated throttling scales what this machine's CPU did by 4, so a busy machine moves
// the score: `--runs 3` measures each page three times and reports the median run.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import lighthouse from 'lighthouse';
import desktopConfig from 'lighthouse/core/config/desktop-config.js';
import { chromium } from 'playwright-core';
import { engineConfigSchema } from '../../engine/config.ts';
import { ensureSiteBuilt } from '../../scripts/setup/site.ts';
import { createServer } from '../../server/app.ts';
import { BUDGET_BYTES, DIST, pageJsGzipBytes } from '../../site/scripts/js-budget.ts';
import { readLessons } from '../../site/scripts/lesson-source.ts';

const REPO = join(import.meta.dirname, '..', '..');
export const SCORE_TARGET = 95;

export interface PageFigures {
  id: string;
  path: string;
  jsGzipBytes: number;
  score: number;
  /** First and largest contentful paint, total blocking time (ms), cumulative layout shift. */
  fcp: number;
  lcp: number;
  tbt: number;
  cls: number;
  /** The audits that cost the most score, for a page under target. */
  losses: string[];
  /** The main thread's long tasks (simulated ms, after first paint) and what they were attributed to. */
  longTasks: string[];
  /** Every run's score, when the page was measured more than once (the figures are the median run's). */
  scores: number[];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Every page a reader reads: the lessons, start here, glossary, home, and the sandbox. */
function sitePages(): { id: string; path: string; html: string }[] {
  return [
    ...readLessons().map((l) => ({ id: l.id, path: l.path, html: join(DIST, l.path, 'index.html') })),
    { id: 'sandbox', path: '/sandbox/', html: join(DIST, 'sandbox', 'index.html') },
  ];
}

type Run = Omit<PageFigures, 'id' | 'path' | 'jsGzipBytes' | 'scores'>;

function summarise(lhr: {
  audits: Record<
    string,
    { numericValue?: number; score: number | null; displayValue?: string; details?: unknown }
  >;
  categories: Record<
    string,
    { score: number | null; auditRefs: { id: string; weight: number }[] } | undefined
  >;
}): Run {
  const audit = (id: string) => lhr.audits[id]?.numericValue ?? Number.NaN;
  const perf = lhr.categories.performance;
  const losses = (perf?.auditRefs ?? [])
    .filter((r) => r.weight > 0 && (lhr.audits[r.id]?.score ?? 1) < 0.9)
    .map((r) => `${r.id} ${lhr.audits[r.id]?.displayValue ?? ''}`.trim());
  const fcp = audit('first-contentful-paint');
  const tasks =
    (lhr.audits['long-tasks']?.details as { items?: { url: string; startTime: number; duration: number }[] })
      ?.items ?? [];
  const longTasks = tasks
    .filter((t) => t.startTime + t.duration > fcp)
    .map((t) => `${Math.round(t.duration)} ms ${t.url.replace(/^https?:\/\/[^/]+/, '') || t.url}`);
  return {
    score: Math.round((perf?.score ?? 0) * 100),
    fcp,
    lcp: audit('largest-contentful-paint'),
    tbt: audit('total-blocking-time'),
    cls: audit('cumulative-layout-shift'),
    losses,
    longTasks,
  };
}

export async function measureSite(
  options: { only?: string[]; desktop?: boolean; runs?: number } = {},
): Promise<PageFigures[]> {
  const runs = Math.max(1, options.runs ?? 1);
  ensureSiteBuilt(REPO, { quiet: true });
  const root = mkdtempSync(join(tmpdir(), 'layerlab-bench-site-'));
  // A real server on the built site: lesson pages open their session and WebSocket as for a reader.
  const server = createServer({ root, config: engineConfigSchema.parse({}), log: () => {} });
  await server.listen(0, '127.0.0.1');
  const port = await freePort();
  const browser = await chromium.launch({
    executablePath: process.env.CHROME_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      `--remote-debugging-port=${port}`,
    ],
  });
  const figures: PageFigures[] = [];
  try {
    for (const page of sitePages()) {
      if (options.only?.length && !options.only.includes(page.id)) continue;
      const results: Run[] = [];
      for (let i = 0; i < runs; i++) {
        const result = await lighthouse(
          `${server.url}${page.path}`,
          { port, output: 'json', logLevel: 'error', onlyCategories: ['performance'] },
          options.desktop ? desktopConfig : undefined,
        );
        if (!result?.lhr) throw new Error(`lighthouse ${page.path}: no result`);
        results.push(summarise(result.lhr));
      }
      // The median run by score (ties: by blocking time), so one lucky or unlucky run decides nothing.
      const sorted = [...results].sort((a, b) => a.score - b.score || b.tbt - a.tbt);
      const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
      figures.push({
        id: page.id,
        path: page.path,
        jsGzipBytes: pageJsGzipBytes(page.html),
        ...median,
        scores: results.length > 1 ? results.map((r) => r.score) : [],
      });
    }
  } finally {
    await browser.close();
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
  return figures;
}

export function formatFigures(figures: PageFigures[], desktop = false): string {
  const head = `Site: JavaScript per page (gzip, budget ${BUDGET_BYTES / 1024} kB) and Lighthouse performance (${desktop ? 'desktop' : 'mobile, simulated slow 4G'}, target ${SCORE_TARGET})`;
  const median = figures.some((f) => f.scores.length > 1) ? ' (median of the runs)' : '';
  const lines = [
    `${head}${median}`,
    `${'page'.padEnd(30)} ${'JS gzip'.padStart(9)} ${'score'.padStart(5)} ${'FCP'.padStart(7)} ${'LCP'.padStart(7)} ${'TBT'.padStart(6)} ${'CLS'.padStart(5)}`,
  ];
  for (const f of figures) {
    const over = f.jsGzipBytes > BUDGET_BYTES ? ' OVER BUDGET' : '';
    const under =
      f.score < SCORE_TARGET
        ? ` UNDER TARGET: ${f.losses.join('; ')}; long tasks: ${f.longTasks.join(', ') || 'none'}`
        : '';
    const runs = f.scores.length > 1 ? ` (runs ${f.scores.join(' ')})` : '';
    lines.push(
      `${f.path.padEnd(30)} ${`${(f.jsGzipBytes / 1024).toFixed(1)} kB`.padStart(9)} ${String(f.score).padStart(5)} ${`${Math.round(f.fcp)} ms`.padStart(7)} ${`${Math.round(f.lcp)} ms`.padStart(7)} ${`${Math.round(f.tbt)} ms`.padStart(6)} ${f.cls.toFixed(3).padStart(5)}${runs}${over}${under}`,
    );
  }
  const worst = Math.min(...figures.map((f) => f.score));
  const heaviest = Math.max(...figures.map((f) => f.jsGzipBytes));
  lines.push(
    `${figures.length} pages: lowest score ${worst}, heaviest JS ${(heaviest / 1024).toFixed(1)} kB gzip`,
  );
  return lines.join('\n');
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { desktop: { type: 'boolean', default: false }, runs: { type: 'string', default: '1' } },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error(`--runs ${values.runs}: a whole number of runs, 1 or more`);
  const figures = await measureSite({ only: positionals, desktop: values.desktop, runs });
  console.log(formatFigures(figures, values.desktop));
}
