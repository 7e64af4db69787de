// Arriving at a lesson in a real browser: the page prepares the lesson's start and says so in one
// line; a container the reader left under a name the lesson is about to use is named, kept, and
// removed only by its button; a reload says the session was kept and offers a fresh start. Saves a
// lesson page at desktop and phone width (test-results/screenshots/arrival/).

import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionSnapshot } from '../../server/pictures/snapshot.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { focusTerminal, launchBrowser, SCREENSHOTS, typeLine } from './support.ts';

let server: TestServer;
let browser: Browser;
let context: BrowserContext;

beforeAll(async () => {
  server = await startTestServer();
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, reducedMotion: 'reduce' });
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await server?.close();
});

const LESSON = '/04-writable-layer/';

/** Waits until the page's start line settles and returns its state. */
async function settled(page: Page): Promise<string> {
  await page.waitForFunction(
    () =>
      ['ready', 'conflict', 'error'].includes(
        document.querySelector('layerlab-lesson-start')?.getAttribute('data-state') ?? '',
      ),
    undefined,
    { timeout: 60_000 },
  );
  return (await page.locator('layerlab-lesson-start').getAttribute('data-state')) ?? '';
}

function snapshot(page: Page): Promise<SessionSnapshot> {
  return page.evaluate(async () => {
    const res = await fetch('/api/state', { credentials: 'same-origin' });
    return (await res.json()) as SessionSnapshot;
  });
}

describe('arriving at a lesson', () => {
  let page: Page;

  it('prepares what is missing on a first visit, without a word about a kept session', async () => {
    page = await context.newPage();
    await page.goto(`${server.url}${LESSON}`);
    expect(await settled(page)).toBe('ready');
    const start = page.locator('layerlab-lesson-start');
    expect(await start.locator('[data-prepare-line]').innerText()).toBe('Prepared for you: busybox.');
    expect(await start.locator('[data-kept-line]').isVisible()).toBe(false);
    expect((await snapshot(page)).images.flatMap((i) => i.repoTags)).toEqual(['busybox:latest']);
  });

  it('keeps a container the reader left in the lesson’s way, and removes it only when asked', async () => {
    await focusTerminal(page, 'main');
    await typeLine(page, 'docker run -d --name one busybox sleep 600');
    await expect
      .poll(async () => (await snapshot(page)).containers.map((c) => c.name), { timeout: 60_000 })
      .toEqual(['one']);

    await page.reload();
    expect(await settled(page)).toBe('conflict');
    const start = page.locator('layerlab-lesson-start');
    const line = start.locator('[data-prepare-line]');
    expect(await line.locator('span').innerText()).toBe(
      'Already here from before: one (running); this lesson creates a container of that name itself, so it has to go first.',
    );
    // A reload keeps the session, and the page says so.
    const kept = start.locator('[data-kept-line]');
    expect(await kept.locator('span').innerText()).toBe(
      'Your session was kept: the images and containers from before are still here.',
    );
    expect(await kept.locator('button').innerText()).toBe('Start fresh');
    expect((await snapshot(page)).containers.map((c) => c.name)).toEqual(['one']);

    const shots = `${SCREENSHOTS}/arrival`;
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: `${shots}/04-writable-layer-1280.png`, fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    await page.screenshot({ path: `${shots}/04-writable-layer-390.png`, fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });

    await line.locator('button', { hasText: 'Remove them: one' }).click();
    expect(await settled(page)).toBe('ready');
    expect(await line.innerText()).toBe('Removed: one.');
    expect((await snapshot(page)).containers).toEqual([]);
  });

  it('starts fresh from the kept-session line: back to the lesson’s start', async () => {
    await focusTerminal(page, 'main');
    await typeLine(page, 'docker tag busybox mine:v1');
    await expect
      .poll(async () => (await snapshot(page)).images.flatMap((i) => i.repoTags).sort(), { timeout: 60_000 })
      .toEqual(['busybox:latest', 'mine:v1']);
    await page.reload();
    expect(await settled(page)).toBe('ready');
    const kept = page.locator('layerlab-lesson-start [data-kept-line]');
    await kept.locator('button', { hasText: 'Start fresh' }).click();
    await kept.locator('span', { hasText: /^Fresh start/ }).waitFor({ timeout: 60_000 });
    expect((await snapshot(page)).images.flatMap((i) => i.repoTags)).toEqual(['busybox:latest']);
    await page.close();
  });

  it('in another browser (another session), says nothing was kept', async () => {
    const other = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const fresh = await other.newPage();
      await fresh.goto(`${server.url}${LESSON}`);
      expect(await settled(fresh)).toBe('ready');
      expect(await fresh.locator('layerlab-lesson-start [data-kept-line]').isVisible()).toBe(false);
    } finally {
      await other.close();
    }
  });
});
