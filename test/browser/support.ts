// Helpers for the browser tests: headless Debian chromium through playwright-core, pages that fail
// on console errors, typing into an xterm terminal, and screenshots in light and dark.

import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { serveStatic } from '../../server/http/static.ts';

const repo = join(import.meta.dirname, '..', '..');
export const SCREENSHOTS = join(repo, 'test-results', 'screenshots');

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export interface OpenedPage {
  page: Page;
  context: BrowserContext;
  /** Console errors and uncaught exceptions seen so far. */
  errors: string[];
  close(): Promise<void>;
}

export async function openPage(
  browser: Browser,
  url: string,
  options: {
    width?: number;
    height?: number;
    theme?: 'light' | 'dark';
    /** Runs on the new page before it navigates (e.g. to listen to its WebSocket). */
    before?: (page: Page) => void;
  } = {},
): Promise<OpenedPage> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
    reducedMotion: 'reduce',
  });
  if (options.theme) {
    await context.addInitScript((theme) => localStorage.setItem('starlight-theme', theme), options.theme);
  }
  const page = await context.newPage();
  const errors = recordPageErrors(page);
  options.before?.(page);
  await page.goto(url);
  return { page, context, errors, close: () => context.close() };
}

/** Waits for the named terminal to be live and focuses it. */
export async function focusTerminal(page: Page, name: string): Promise<void> {
  const term = page.locator(`layerlab-terminal[name="${name}"]`);
  await page.waitForFunction(
    (n) => document.querySelector(`layerlab-terminal[name="${n}"]`)?.getAttribute('data-status') === 'live',
    name,
    { timeout: 20_000 },
  );
  await term.locator('.xterm').click();
}

/** The terminal's visible text (xterm's DOM rows). */
export function terminalText(page: Page, name: string): Promise<string> {
  return page.locator(`layerlab-terminal[name="${name}"] .xterm-rows`).innerText();
}

export async function waitForTerminalText(
  page: Page,
  name: string,
  pattern: RegExp,
  timeoutMs = 30_000,
): Promise<string> {
  const start = Date.now();
  for (;;) {
    const text = await terminalText(page, name).catch(() => '');
    if (pattern.test(text)) return text;
    if (Date.now() - start > timeoutMs)
      throw new Error(`terminal ${name} never showed ${pattern}; it shows:\n${text}`);
    await page.waitForTimeout(150);
  }
}

export async function typeLine(page: Page, text: string): Promise<void> {
  await page.keyboard.type(text, { delay: 5 });
  await page.keyboard.press('Enter');
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(SCREENSHOTS, `${name}.png`);
  mkdirSync(dirname(path), { recursive: true });
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The built site on a plain static server: no /api, no /ws — what a copy without an engine is. */
export async function startStaticSite(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    void serveStatic(join(repo, 'site', 'dist'), req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * What goes wrong in `page`, as it happens: console errors, uncaught exceptions and failed
 * responses (a replay's missing recording excepted: a site without an engine may lack one).
 */
export function recordPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().includes('/recordings/')) errors.push(`${r.status()} ${r.url()}`);
  });
  return errors;
}
