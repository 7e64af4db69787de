// The terminal's width in a real browser against a real server: on a desktop a lesson's terminal
// breaks out of the text column and a container's terminal gets the columns it shows; on a phone it
// runs edge to edge in a smaller font. Neither makes the page scroll sideways. Screenshots of both
// go to test-results/screenshots/.

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  focusTerminal,
  launchBrowser,
  type OpenedPage,
  openPage,
  screenshot,
  typeLine,
  waitForTerminalText,
} from './support.ts';

let server: TestServer;
let browser: Browser;
const opened: OpenedPage[] = [];
/** A lesson whose key output (`docker ps -a` during a build) is a wide table. */
const LESSON = '/12-one-word-many-meanings/';
/** Commands are typed in the sandbox's terminal: a lesson prepares its images when it opens. */
const SANDBOX = '/sandbox/';

beforeAll(async () => {
  server = await startTestServer();
  browser = await launchBrowser();
});

afterAll(async () => {
  for (const p of opened) await p.close().catch(() => {});
  await browser?.close();
  await server?.close();
});

/** The first terminal's name, its box and the text column's, and whether the page scrolls sideways. */
async function layout(page: Page) {
  return page.evaluate(() => {
    const term = document.querySelector<HTMLElement>('.sl-markdown-content > layerlab-terminal')!;
    const text = document.querySelector('.sl-markdown-content > p')!.getBoundingClientRect();
    const box = term.getBoundingClientRect();
    return {
      name: term.getAttribute('name')!,
      terminal: { left: box.left, right: box.right, width: box.width },
      text: { left: text.left, width: text.width },
      viewport: document.documentElement.clientWidth,
      scrollWidth: document.documentElement.scrollWidth,
    };
  });
}

/** Starts a shell in a container (`docker run -it`) in the named terminal and waits for its prompt. */
async function containerShell(page: Page, name: string): Promise<void> {
  // xterm.js starts when its terminal comes on screen.
  await page.locator(`layerlab-terminal[name="${name}"]`).scrollIntoViewIfNeeded();
  await focusTerminal(page, name);
  await typeLine(page, 'docker run -it --rm busybox sh');
  await waitForTerminalText(page, name, /^\/ #\s*$/m, 120_000);
}

/**
 * The size the container's terminal has now: `stty size` typed into the container's shell, read as
 * the `nth` report on the screen (1 for the first).
 */
async function sttySize(page: Page, name: string, nth = 1): Promise<{ rows: number; cols: number }> {
  await typeLine(page, 'stty size');
  const report = /^(\d+) (\d+)\s*$/gm;
  const text = await waitForTerminalText(page, name, new RegExp(`(${report.source}[\\s\\S]*){${nth}}`, 'm'));
  const [, rows, cols] = [...text.matchAll(report)][nth - 1]!;
  return { rows: Number(rows), cols: Number(cols) };
}

/** Each test opens fresh sessions (a pull of busybox each) and runs containers: room for a busy machine. */
const SLOW = 300_000;

describe('the terminal takes the width the page has', () => {
  it(
    'on a desktop, breaks out of the text column and gives a container over 110 columns',
    async () => {
      const p = await openPage(browser, `${server.url}${LESSON}`, { width: 1440, height: 900 });
      opened.push(p);
      const box = await layout(p.page);
      expect(box.terminal.width).toBeGreaterThan(box.text.width + 200);
      expect(box.terminal.left).toBeLessThan(box.text.left);
      expect(box.terminal.right).toBeLessThanOrEqual(box.viewport);
      expect(box.scrollWidth).toBe(box.viewport);
      await p.page.locator('layerlab-terminal').first().scrollIntoViewIfNeeded();
      await screenshot(p.page, 'terminal-width-desktop');
      const sandbox = await openPage(browser, `${server.url}${SANDBOX}`, { width: 1440, height: 900 });
      opened.push(sandbox);
      const name = (await layout(sandbox.page)).name;
      await containerShell(sandbox.page, name);
      expect((await sttySize(sandbox.page, name)).cols).toBeGreaterThan(110);
      expect([...p.errors, ...sandbox.errors]).toEqual([]);
    },
    SLOW,
  );

  it(
    'on a phone, runs edge to edge with more columns than the 39 a padded 14px terminal had',
    async () => {
      const p = await openPage(browser, `${server.url}${LESSON}`, { width: 375, height: 740 });
      opened.push(p);
      const box = await layout(p.page);
      expect(box.terminal.left).toBe(0);
      expect(box.terminal.width).toBe(box.viewport);
      expect(box.scrollWidth).toBe(box.viewport);
      await p.page.locator('layerlab-terminal').first().scrollIntoViewIfNeeded();
      await screenshot(p.page, 'terminal-width-phone');
      const sandbox = await openPage(browser, `${server.url}${SANDBOX}`, { width: 375, height: 740 });
      opened.push(sandbox);
      const name = (await layout(sandbox.page)).name;
      await containerShell(sandbox.page, name);
      expect((await sttySize(sandbox.page, name)).cols).toBeGreaterThanOrEqual(45);
      expect([...p.errors, ...sandbox.errors]).toEqual([]);
    },
    SLOW,
  );

  it(
    'follows the window: a narrower window gives the container fewer columns',
    async () => {
      // The page's resize messages, as sent: the server reads the socket in order, so keys typed
      // after one is sent reach a container that has the new size.
      const resizes: number[] = [];
      let onResize: () => void = () => {};
      const p = await openPage(browser, `${server.url}${SANDBOX}`, {
        width: 1920,
        height: 1000,
        before: (page) =>
          page.on('websocket', (ws) =>
            ws.on('framesent', (frame) => {
              if (typeof frame.payload !== 'string' || !frame.payload.includes('"terminal.resize"')) return;
              resizes.push(Number(/"cols":(\d+)/.exec(frame.payload)?.[1]));
              onResize();
            }),
          ),
      });
      opened.push(p);
      const name = (await layout(p.page)).name;
      await containerShell(p.page, name);
      const wide = await sttySize(p.page, name);
      const narrower = new Promise<void>((resolve) => {
        onResize = () => {
          if (resizes.some((cols) => cols < wide.cols)) resolve();
        };
      });
      await p.page.setViewportSize({ width: 1280, height: 1000 });
      await narrower;
      const narrow = await sttySize(p.page, name, 2);
      expect(narrow.cols).toBeLessThan(wide.cols);
      expect(narrow.cols).toBeGreaterThan(90);
    },
    SLOW,
  );
});
