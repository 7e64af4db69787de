// The in-page editor in a real browser against a real server, on the lesson that uses it
// (/16-write-a-dockerfile/, an <Editor dir="~/cache-demo" seed="cache-demo"> beside the `main`
// terminal): the lesson's files are seeded and listed, an edit is marked unsaved and saved with
// Ctrl-S, Build types `docker build` into the terminal and the image it builds holds the edit (the
// image graph shows it), a new file is created, the server's refusals are shown in words, a reload
// keeps the reader's edits, and the editor passes axe and fits a phone and a desktop.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  focusTerminal,
  launchBrowser,
  type OpenedPage,
  openPage,
  SCREENSHOTS,
  startStaticSite,
  typeLine,
  waitForTerminalText,
} from './support.ts';

const LESSON = '/16-write-a-dockerfile/';
const EDITOR = 'layerlab-editor[dir="~/cache-demo"]';

let server: TestServer;
let browser: Browser;
const opened: OpenedPage[] = [];

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  server = await startTestServer();
  browser = await launchBrowser();
});

afterAll(async () => {
  for (const p of opened) await p.close().catch(() => {});
  await browser?.close();
  await server?.close();
});

async function open(width = 1280): Promise<OpenedPage> {
  const p = await openPage(browser, `${server.url}${LESSON}`, { width, height: 900 });
  opened.push(p);
  return p;
}

/** Waits for the editor to be ready with a file shown, and returns the editor's text. */
async function ready(page: Page): Promise<void> {
  await page.locator(EDITOR).scrollIntoViewIfNeeded();
  await page.waitForSelector(`${EDITOR}[data-state="ready"] .cm-content`, { timeout: 60_000 });
}

function editorText(page: Page): Promise<string> {
  return page.locator(`${EDITOR} .cm-content`).innerText();
}

function status(page: Page): Promise<string> {
  return page.locator(`${EDITOR} [data-status]`).innerText();
}

async function pick(page: Page, path: string): Promise<void> {
  await page.locator(`${EDITOR} button[data-path="${path}"]`).click();
  await expect.poll(() => page.locator(`${EDITOR} [data-name]`).innerText()).toBe(`~/cache-demo/${path}`);
}

/** Replaces the open file's text by typing, as a reader would. */
async function replaceText(page: Page, text: string): Promise<void> {
  await page.locator(`${EDITOR} .cm-content`).click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.type(text, { delay: 2 });
}

describe('the editor on the lesson page', () => {
  let page: Page;
  let errors: string[];
  const marker = `edited-in-the-page-${Date.now().toString(36)}`;

  it('seeds the lesson’s files and opens the Dockerfile', async () => {
    ({ page, errors } = await open());
    await ready(page);
    expect(await editorText(page)).toContain('FROM busybox');
    expect(await page.locator(`${EDITOR} [data-name]`).innerText()).toBe('~/cache-demo/Dockerfile');
    const files = await page
      .locator(`${EDITOR} button[data-path]`)
      .evaluateAll((bs) => bs.map((b) => (b as HTMLElement).dataset.path));
    expect(files).toEqual(expect.arrayContaining(['Dockerfile', 'message.txt', 'install.sh']));
    // The Dockerfile mode highlights its instructions.
    expect(await page.locator(`${EDITOR} .cm-content .tok-keyword`).first().innerText()).toBe('FROM');
  }, 120_000);

  it('marks an edit unsaved and saves it with Ctrl-S', async () => {
    await pick(page, 'message.txt');
    await replaceText(page, `${marker}\n`);
    await expect.poll(() => page.locator(`${EDITOR} [data-dirty]`).innerText()).toBe('Unsaved changes');
    expect(await page.locator(EDITOR).getAttribute('data-dirty')).not.toBeNull();
    expect(await page.locator(`${EDITOR} button[data-path="message.txt"] .ll-editor__mark`).count()).toBe(1);
    await page.keyboard.press('ControlOrMeta+S');
    await expect.poll(() => status(page), { timeout: 20_000 }).toMatch(/Saved ~\/cache-demo\/message\.txt/);
    expect(await page.locator(`${EDITOR} [data-dirty]`).innerText()).toBe('Saved');
    expect(await page.locator(EDITOR).getAttribute('data-dirty')).toBeNull();
  });

  it('builds in the paired terminal, and the image holds the edit', async () => {
    const build = page.locator(`${EDITOR} button[data-build]`);
    await build.click();
    // Busy until the terminal is idle again, as a Run block's button is.
    await page.waitForFunction(
      (sel) => {
        const b = document.querySelector(`${sel} button[data-build]`);
        return (
          b?.getAttribute('aria-disabled') !== 'true' && /Done/.test(b?.parentElement?.textContent ?? '')
        );
      },
      EDITOR,
      { timeout: 180_000 },
    );
    // The image graph follows the build.
    await expect
      .poll(() => page.locator('layerlab-image-graph').innerText(), { timeout: 30_000 })
      .toContain('cache-demo');
    await focusTerminal(page, 'main');
    // The line Build typed, read from the shell's history: the build's own output scrolls it off the
    // screen, which is all of the terminal the page renders.
    await typeLine(page, 'history');
    await waitForTerminalText(page, 'main', /\d+ {2}docker build -t cache-demo ~\/cache-demo\n/, 30_000);
    await typeLine(page, 'docker run --rm cache-demo cat /app/message.txt');
    await waitForTerminalText(page, 'main', new RegExp(`\\n${marker}`), 90_000);
  }, 300_000);

  it('creates a new file, and shows the server’s refusals in words', async () => {
    const name = page.locator(`${EDITOR} [data-new-name]`);
    await name.fill('notes/extra.txt');
    await name.press('Enter');
    await expect
      .poll(() => page.locator(`${EDITOR} [data-name]`).innerText())
      .toBe('~/cache-demo/notes/extra.txt');
    await expect.poll(() => status(page)).toMatch(/Saved ~\/cache-demo\/notes\/extra\.txt/);
    expect(await page.locator(`${EDITOR} button[data-path="notes/extra.txt"]`).count()).toBe(1);
    await replaceText(page, 'another file\n');
    await page.locator(`${EDITOR} button[data-save]`).click();
    await expect.poll(() => status(page)).toMatch(/Saved ~\/cache-demo\/notes\/extra\.txt \(13 ?B\)/);
    await focusTerminal(page, 'main');
    await typeLine(page, 'ls ~/cache-demo/notes');
    await waitForTerminalText(page, 'main', /extra\.txt/, 30_000);

    // The page's own check, then the server's.
    await name.fill('../escape.txt');
    await name.press('Enter');
    await expect.poll(() => status(page)).toMatch(/inside this directory/);
    expect(await page.locator(`${EDITOR} [data-status]`).getAttribute('role')).toBe('alert');
    await name.fill('.x.partial');
    await name.press('Enter');
    await expect
      .poll(() => status(page), { timeout: 20_000 })
      .toMatch(/names like \.\*\.partial are the workspace's own/);
    // Over the size cap: said before anything is sent (the socket stays up).
    await pick(page, 'notes/extra.txt');
    await page.locator(`${EDITOR} .cm-content`).click();
    await page.evaluate((sel) => {
      const content = document.querySelector(`${sel} .cm-content`) as HTMLElement;
      const data = new DataTransfer();
      data.setData('text/plain', 'x'.repeat(60 * 1024));
      content.dispatchEvent(
        new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }),
      );
    }, EDITOR);
    await page.keyboard.press('ControlOrMeta+S');
    await expect.poll(() => status(page)).toMatch(/is over 48KiB|is over 49\.15kB|the most the editor saves/);
    await page.keyboard.press('ControlOrMeta+Z');
    await page.keyboard.press('ControlOrMeta+S');
    await expect.poll(() => status(page)).toMatch(/Saved ~\/cache-demo\/notes\/extra\.txt/);
    expect(errors).toEqual([]);
  }, 120_000);

  it('keeps the reader’s edits when the page is loaded again', async () => {
    await page.reload();
    await ready(page);
    await pick(page, 'message.txt');
    expect(await editorText(page)).toContain(marker);
    expect(errors).toEqual([]);
  }, 120_000);

  it('puts the lesson’s files back on Restore, after asking, and keeps the reader’s own files', async () => {
    page.once('dialog', (dialog) => void dialog.accept());
    await page.locator(`${EDITOR} button[data-restore]`).click();
    await expect
      .poll(() => status(page), { timeout: 20_000 })
      .toMatch(/The lesson's files are back:.*message\.txt/);
    await pick(page, 'message.txt');
    expect(await editorText(page)).not.toContain(marker);
    expect(await page.locator(`${EDITOR} button[data-path="notes/extra.txt"]`).count()).toBe(1);
    // Declining the question changes nothing.
    page.once('dialog', (dialog) => void dialog.dismiss());
    await page.locator(`${EDITOR} button[data-restore]`).click();
    expect(await page.locator(`${EDITOR} [data-dirty]`).innerText()).not.toBe('Unsaved changes');
    expect(errors).toEqual([]);
  }, 120_000);

  it('passes axe', async () => {
    const results = await new AxeBuilder({ page }).include(EDITOR).analyze();
    expect(results.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
  }, 60_000);

  for (const width of [390, 1280]) {
    it(`fits a ${width} px window`, async () => {
      const p = width === 1280 ? { page, errors } : await open(width);
      await ready(p.page);
      const fit = await p.page.evaluate((sel) => {
        const el = document.querySelector(sel) as HTMLElement;
        const r = el.getBoundingClientRect();
        const buttons = Array.from(el.querySelectorAll('button[data-save], button[data-build]')).map((b) =>
          b.getBoundingClientRect(),
        );
        return {
          overflow: el.scrollWidth - el.clientWidth,
          inside: r.left >= 0 && r.right <= document.documentElement.clientWidth + 0.5,
          buttons: buttons.every((b) => b.width > 0 && b.right <= document.documentElement.clientWidth + 0.5),
          pageOverflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        };
      }, EDITOR);
      expect(fit).toEqual({ overflow: 0, inside: true, buttons: true, pageOverflow: 0 });
      await p.page.locator(EDITOR).screenshot({ path: join(SCREENSHOTS, `editor-${width}.png`) });
      expect(p.errors).toEqual([]);
    }, 120_000);
  }
});

describe('the editor without an engine', () => {
  it('says it needs a live engine, with its controls disabled and no error', async () => {
    const site = await startStaticSite();
    try {
      const p = await openPage(browser, `${site.url}${LESSON}`);
      opened.push(p);
      await p.page.locator(EDITOR).scrollIntoViewIfNeeded();
      await p.page.waitForSelector(`${EDITOR}[data-state="replay"]`, { timeout: 60_000 });
      expect(await status(p.page)).toMatch(/live engine/);
      expect(await p.page.locator(`${EDITOR} button[data-build]`).isDisabled()).toBe(true);
      // A static copy answers 404 to the session request: that is how the page knows it has no engine.
      expect(p.errors.filter((e) => !e.includes('/api/session'))).toEqual([]);
    } finally {
      await site.close();
    }
  }, 120_000);
});
