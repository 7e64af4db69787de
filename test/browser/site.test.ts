// The lesson site in a real browser against a real server: terminals, click-to-run, the live
// pictures, checks, accessibility and the replay mode of a copy without an engine.

import { AxeBuilder } from '@axe-core/playwright';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  focusTerminal,
  launchBrowser,
  type OpenedPage,
  openPage,
  screenshot,
  startStaticSite,
  terminalText,
  typeLine,
  waitForTerminalText,
} from './support.ts';

let server: TestServer;
let browser: Browser;
const opened: OpenedPage[] = [];

async function open(path: string, options: Parameters<typeof openPage>[2] = {}): Promise<OpenedPage> {
  const p = await openPage(browser, `${server.url}${path}`, options);
  opened.push(p);
  return p;
}

beforeAll(async () => {
  server = await startTestServer();
  browser = await launchBrowser();
});

afterAll(async () => {
  for (const p of opened) await p.close().catch(() => {});
  await browser?.close();
  await server?.close();
});

/** The page with a terminal and a Run button that has the most live components (found from the sidebar). */
async function pageWithRunButton(): Promise<string> {
  const { page, close } = await open('/sandbox/');
  const hrefs = await page
    .locator('nav.sidebar a[href]')
    .evaluateAll((as) => as.map((a) => a.getAttribute('href')!));
  await close();
  let best: { href: string; score: number } | undefined;
  for (const href of [...hrefs, '/']) {
    const html = await (await fetch(`${server.url}${href}`)).text();
    if (!html.includes('class="ll-run"') || !html.includes('<layerlab-terminal')) continue;
    const score = html.split('<layerlab-').length;
    if (!best || score > best.score) best = { href, score };
  }
  if (!best) throw new Error('no page has both a terminal and a Run button');
  return best.href;
}

describe('the lesson site on a live engine', () => {
  it('connects a terminal and runs `docker images` typed on the keyboard', async () => {
    const { page, errors } = await open('/sandbox/');
    await focusTerminal(page, 'sandbox');
    await typeLine(page, 'docker images');
    await waitForTerminalText(page, 'sandbox', /REPOSITORY\s+TAG\s+IMAGE ID/);
    expect(await page.locator('layerlab-terminal[name="sandbox"] [data-status]').first().innerText()).toMatch(
      /live/i,
    );
    expect(errors).toEqual([]);
  });

  it('runs a code block’s command in its terminal with the Run button', async () => {
    const path = await pageWithRunButton();
    const { page, errors } = await open(path);
    const button = page.locator('button.ll-run').first();
    const name = (await button.getAttribute('data-terminal'))!;
    const command = (await button.getAttribute('data-command'))!;
    await page.waitForFunction(
      (n) => document.querySelector(`layerlab-terminal[name="${n}"]`)?.getAttribute('data-status') === 'live',
      name,
      { timeout: 20_000 },
    );
    await button.click();
    const firstWord = command.split(/\s+/).slice(0, 2).join(' ');
    await waitForTerminalText(page, name, new RegExp(firstWord.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    expect(errors).toEqual([]);
  });

  it('draws the copy-up, the new file and the whiteout in the layer stack', async () => {
    const { page, errors } = await open('/sandbox/');
    await focusTerminal(page, 'sandbox');
    await typeLine(page, 'docker run -it --name box busybox sh');
    await page.waitForFunction(
      () => document.querySelector('.ll-terminal__mode')?.textContent?.includes('container'),
      undefined,
      {
        timeout: 30_000,
      },
    );
    await typeLine(page, 'echo hi > /etc/motd');
    const stack = page.locator('layerlab-layer-stack');
    // overlayfs copies /etc up from the image's layer before the new file can be written in it.
    await stack.locator('.ll-entry--C', { hasText: '/etc' }).first().waitFor({ timeout: 15_000 });
    await stack.locator('.ll-entry--A', { hasText: '/etc/motd' }).waitFor();
    await typeLine(page, 'echo guest:x:1000:1000::/tmp:/bin/sh >> /etc/passwd');
    const passwd = stack.locator('.ll-entry--C', { hasText: '/etc/passwd' });
    await passwd.waitFor({ timeout: 15_000 });
    const lowerDigest = await stack.locator('.ll-stack__lower .ll-stack__digest').first().innerText();
    expect(await passwd.innerText()).toContain(lowerDigest);
    await typeLine(page, 'rm /bin/vi');
    await stack.locator('.ll-entry--D', { hasText: '/bin/vi' }).waitFor({ timeout: 15_000 });
    // The diff panel lists the same changes, and shows a file's two versions.
    const diff = page.locator('layerlab-diff-panel');
    await diff.locator('button[data-path="/etc/passwd"]').click();
    await diff.locator('.ll-diff__versions', { hasText: 'guest:x:1000' }).waitFor({ timeout: 10_000 });
    await screenshot(page, 'sandbox-live-light-1280');
    expect(errors).toEqual([]);
  });

  it('passes a check once its step is done', async () => {
    const { page, errors } = await open('/sandbox/');
    const check = page.locator('layerlab-check[data-id="sandbox-hello"]');
    await check.locator('[data-check-button]:not([disabled])').waitFor({ timeout: 20_000 });
    await check.locator('[data-check-button]').click();
    await page.waitForFunction(
      () => document.querySelector('layerlab-check')?.getAttribute('data-state') === 'fail',
    );
    expect(await check.locator('[data-result]').innerText()).toMatch(/not yet/i);
    await focusTerminal(page, 'sandbox');
    await typeLine(page, "docker run --name hello busybox sh -c 'echo hello > /hello.txt'");
    // The run prints nothing; ask until the engine has the container (a few hundred ms).
    let state = '';
    for (let i = 0; i < 30 && state !== 'pass'; i++) {
      await page.waitForTimeout(500);
      await check.locator('[data-check-button]').click();
      await page.waitForFunction(
        () => document.querySelector('layerlab-check')?.getAttribute('data-state') !== 'busy',
      );
      state = (await check.getAttribute('data-state')) ?? '';
    }
    expect(state).toBe('pass');
    expect(errors).toEqual([]);
  });

  it('can be used from the keyboard alone: into the terminal, type, and out again', async () => {
    const { page } = await open('/sandbox/');
    await page.waitForFunction(
      () => document.querySelector('layerlab-terminal')?.getAttribute('data-status') === 'live',
    );
    let inTerminal = false;
    for (let i = 0; i < 60 && !inTerminal; i++) {
      await page.keyboard.press('Tab');
      inTerminal = await page.evaluate(() => Boolean(document.activeElement?.closest('.xterm')));
    }
    expect(inTerminal).toBe(true);
    await typeLine(page, 'docker ps -a');
    await waitForTerminalText(page, 'sandbox', /CONTAINER ID\s+IMAGE/);
    await page.keyboard.press('Escape');
    await page.keyboard.press('Tab');
    const outside = await page.evaluate(() => !document.activeElement?.closest('layerlab-terminal .xterm'));
    expect(outside).toBe(true);
  });

  // Eight pages, each waiting for its terminals and an axe run: minutes on a busy 2-core machine.
  it('has no serious or critical accessibility issues, in light and dark, wide and narrow', async () => {
    const lesson = await pageWithRunButton();
    for (const theme of ['light', 'dark'] as const) {
      for (const width of [1280, 390]) {
        for (const [label, path] of [
          ['sandbox', '/sandbox/'],
          ['lesson', lesson],
        ] as const) {
          const { page, errors, close } = await open(path, { theme, width, height: width < 500 ? 844 : 900 });
          await page.waitForFunction(() =>
            Array.from(document.querySelectorAll('layerlab-terminal')).every(
              (t) => t.getAttribute('data-status') === 'live',
            ),
          );
          await page.waitForTimeout(400);
          const results = await new AxeBuilder({ page }).exclude('.xterm-helper-textarea').analyze();
          const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
          expect(
            bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
            `${label} ${theme} ${width}`,
          ).toEqual([]);
          await screenshot(page, `${label}-${theme}-${width}`);
          expect(errors).toEqual([]);
          await close();
        }
      }
    }
  }, 360_000);
});

describe('the lesson site without an engine', () => {
  it('says the terminal is a replay and keeps the page usable', async () => {
    const site = await startStaticSite();
    try {
      const p = await openPage(browser, `${site.url}/sandbox/`);
      opened.push(p);
      await p.page.waitForFunction(
        () => document.querySelector('layerlab-terminal')?.getAttribute('data-status') === 'replay',
        undefined,
        {
          timeout: 15_000,
        },
      );
      const note = p.page.locator('layerlab-terminal [data-note]');
      await note.waitFor({ state: 'visible' });
      expect(await note.innerText()).toMatch(/replay|recording/i);
      expect(await p.page.locator('layerlab-check [data-check-button]').isDisabled()).toBe(true);
      expect(p.errors.filter((e) => !e.includes('/api/session'))).toEqual([]);
      expect(await terminalText(p.page, 'sandbox')).toBeDefined();
      await screenshot(p.page, 'sandbox-replay-light-1280');
    } finally {
      await site.close();
    }
  });

  it('replays a lesson’s recorded steps, pictures included, when its Run buttons are pressed', async () => {
    const site = await startStaticSite();
    try {
      const p = await openPage(browser, `${site.url}/05-copy-on-write/`);
      opened.push(p);
      const { page } = p;
      await page.waitForFunction(
        () => document.querySelector('layerlab-terminal')?.getAttribute('data-status') === 'replay',
        undefined,
        { timeout: 15_000 },
      );
      // The first two blocks: start `cow` and read /etc/motd, then append to it (the copy-up).
      await page.locator('button.ll-run').nth(0).click();
      await waitForTerminalText(page, 'main', /Welcome to Layerlab/, 15_000);
      await page.locator('button.ll-run').nth(1).click();
      await waitForTerminalText(page, 'main', /Edited inside the container\./, 15_000);
      const stack = page.locator('layerlab-layer-stack');
      await stack.locator('.ll-entry--C', { hasText: '/etc/motd' }).waitFor({ timeout: 15_000 });
      expect(p.errors.filter((e) => !e.includes('/api/session'))).toEqual([]);
      await screenshot(page, 'copy-on-write-replay-light-1280');
    } finally {
      await site.close();
    }
  });
});
