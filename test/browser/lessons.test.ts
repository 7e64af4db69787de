// Every lesson page followed in a real browser against a live engine, each alone in a fresh session,
// as a reader arriving from a link would: no Reset is pressed, so the page's own arrival must prepare
// what the lesson starts from (test/browser/lesson-walk.ts presses every Run button and every Check
// in page order). One server for all; the walks run one after another. A screenshot of each page is
// saved; the sandbox is tried by typing.

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLessons } from '../../site/scripts/lesson-source.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { apiReset, LESSON_MS, passCheck, step, walkLesson } from './lesson-walk.ts';
import { focusTerminal, launchBrowser, openPage, screenshot, typeLine } from './support.ts';

const POLL = { timeout: 15_000, interval: 250 };

function graphLabels(page: Page, kind: 'image' | 'container' | 'layer'): Promise<string[]> {
  return page
    .locator(`layerlab-image-graph .ll-graph__node.is-${kind} .ll-graph__label`)
    .evaluateAll((labels) => labels.map((l) => l.textContent ?? ''));
}

let server: TestServer;
let browser: Browser;
let started = 0;

beforeAll(async () => {
  server = await startTestServer();
  browser = await launchBrowser();
  started = Date.now();
});

afterAll(async () => {
  console.log(`lessons, each in a fresh session: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  await browser?.close();
  await server?.close();
});

const only = process.env.LAYERLAB_LESSONS?.split(',');
const lessons = readLessons().filter((l) => !only || only.includes(l.id));

describe('every lesson alone, in a fresh session, followed in a browser on a live engine', () => {
  for (const lesson of lessons) {
    it(
      lesson.id,
      async () => {
        const report = await walkLesson(browser, server, lesson);
        console.log(`${report.id} (fresh): ${(report.ms / 1000).toFixed(1)} s; ${report.arrival || '-'}`);
      },
      LESSON_MS,
    );
  }

  it.runIf(!only || only.includes('sandbox'))(
    'sandbox',
    async () => {
      const { page, errors, close } = await openPage(browser, `${server.url}/sandbox/`);
      try {
        await step('sandbox', 'reset', async () => {
          await page
            .locator('layerlab-check [data-reset-button]:not([disabled])')
            .waitFor({ timeout: 20_000 });
          await page.locator('layerlab-check [data-reset-button]').click();
          await page.locator('layerlab-check [data-result]', { hasText: /reset done/i }).waitFor();
        });
        await focusTerminal(page, 'sandbox');
        await typeLine(page, 'docker run -it --name box busybox sh');
        await step('sandbox', 'entering the container', () =>
          page.waitForFunction(
            () => document.querySelector('.ll-terminal__mode')?.textContent?.includes('container'),
            undefined,
            {
              timeout: 30_000,
            },
          ),
        );
        await typeLine(page, 'echo hello > /hello.txt');
        await step('sandbox', 'the pictures', async () => {
          await page.locator('layerlab-layer-stack .ll-entry--A', { hasText: '/hello.txt' }).waitFor(POLL);
          await page.locator('layerlab-diff-panel .ll-entry--A', { hasText: '/hello.txt' }).waitFor(POLL);
          await expect.poll(() => graphLabels(page, 'container'), POLL).toContain('box');
          await page.locator('layerlab-size-bars .ll-sizes__name', { hasText: /^box$/ }).waitFor(POLL);
          await page.locator('layerlab-pull-inspector .ll-pull__ref', { hasText: 'busybox' }).waitFor(POLL);
        });
        const check = page.locator('layerlab-check');
        await step('sandbox', 'check "sandbox-hello"', () => passCheck(page, check));
        expect(errors, 'sandbox: console and page errors').toEqual([]);
      } finally {
        await page.evaluate(() => window.scrollTo(0, 0)).catch(() => {});
        await screenshot(page, 'lessons/sandbox').catch(() => {});
        await apiReset(page, {}).catch(() => {});
        await close();
      }
    },
    LESSON_MS,
  );
});
