// <Predict> and <Answer> on real lesson pages against a real server: a prediction guards its Run
// block (nothing is sent before the reader commits or skips), works from the keyboard, is decided by
// the run's real output (or the engine's size of an image) and survives a reload; an answer is
// checked by the server against the session's state, refused when wrong without showing the value.

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionSnapshot } from '../../server/pictures/snapshot.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { launchBrowser, type OpenedPage, openPage, screenshot } from './support.ts';

let server: TestServer;
let browser: Browser;
const opened: OpenedPage[] = [];
const POLL = { timeout: 60_000, interval: 200 };

async function open(path: string): Promise<OpenedPage & { sent: Record<string, unknown>[] }> {
  const sent: Record<string, unknown>[] = [];
  const p = await openPage(browser, `${server.url}${path}`, {
    before: (page) =>
      page.on('websocket', (ws) =>
        ws.on('framesent', (f) => {
          if (typeof f.payload === 'string') sent.push(JSON.parse(f.payload) as Record<string, unknown>);
        }),
      ),
  });
  opened.push(p);
  await ready(p.page);
  return { ...p, sent };
}

/** The terminal is live and the lesson's start prepared (its images are there). */
async function ready(page: Page): Promise<void> {
  await page.waitForFunction(
    () =>
      document.querySelector('layerlab-terminal')?.getAttribute('data-status') === 'live' &&
      document.querySelector('layerlab-lesson-start')?.getAttribute('data-state') === 'ready',
    undefined,
    { timeout: 120_000 },
  );
}

const state = (page: Page, selector: string) => page.locator(selector).getAttribute('data-state');

beforeAll(async () => {
  server = await startTestServer();
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  for (const p of opened) await p.close().catch(() => {});
  await browser?.close();
  await server?.close();
});

describe('<Predict>', () => {
  it('keeps its Run block from running until the reader commits or skips, and remembers a skip', async () => {
    const { page, sent, errors } = await open('/03-layers/');
    const predict = page.locator('layerlab-predict[data-id="same-hash"]');
    const button = page.locator('button.ll-run[data-predict="same-hash"]');
    expect(await button.getAttribute('data-command')).toMatch(
      /^docker inspect -f '\{\{json \.RootFS\.Layers\}\}' busybox/,
    );
    await button.click();
    const note = button.locator('xpath=..').locator('.ll-run-note');
    expect(await note.innerText()).toMatch(/^Not sent: make your prediction above first/);
    expect(sent.filter((m) => m.type === 'terminal.run')).toEqual([]);
    // The reader is taken to the question.
    expect(
      await page.evaluate(() => document.activeElement?.closest('layerlab-predict')?.getAttribute('data-id')),
    ).toBe('same-hash');

    await predict.locator('[data-skip]').click();
    expect(await state(page, 'layerlab-predict[data-id="same-hash"]')).toBe('skipped');
    await page.reload();
    await ready(page);
    expect(await state(page, 'layerlab-predict[data-id="same-hash"]')).toBe('skipped');
    await button.click();
    await expect.poll(() => button.getAttribute('data-state'), POLL).toBe('done');
    expect(await predict.locator('[data-result]').innerText()).toMatch(/^Skipped/);
    expect(errors).toEqual([]);
  }, 240_000);

  it('is answered from the keyboard, decided by the real output, and kept over a reload', async () => {
    const { page, errors } = await open('/03-layers/');
    const predict = page.locator('layerlab-predict[data-id="same-hash"]');
    // A radio group: arrow keys move between answers, then Tab to the button and Enter.
    await predict.locator('input[type="radio"]').first().focus();
    await page.keyboard.press('Space');
    await page.keyboard.press('ArrowDown');
    expect(await predict.locator('input[type="radio"]').nth(1).isChecked()).toBe(true);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await expect.poll(() => predict.getAttribute('data-state'), POLL).toBe('committed');
    expect(await predict.locator('[data-result]').innerText()).toContain(
      'Locked in: No: each image has layers',
    );
    expect(await predict.locator('input[type="radio"]').first().isDisabled()).toBe(true);

    await page.locator('button.ll-run[data-predict="same-hash"]').click();
    // webapp is built FROM busybox: the output shows the shared hash, so "No" was wrong.
    await expect.poll(() => predict.getAttribute('data-state'), POLL).toBe('wrong');
    const verdict = await predict.locator('[data-result]').innerText();
    expect(verdict).toMatch(/^Not this time: Yes: the very same sha256\. webapp was built FROM busybox/);
    await screenshot(page, 'predict/verdict');

    await page.reload();
    await ready(page);
    expect(await predict.getAttribute('data-state')).toBe('wrong');
    expect(await predict.locator('[data-result]').innerText()).toBe(verdict);
    expect(await predict.locator('input[type="radio"]').nth(1).isChecked()).toBe(true);
    expect(errors).toEqual([]);
  }, 240_000);

  it('judges an exit status: a prediction on a command that fails', async () => {
    const { page, errors } = await open('/04-writable-layer/');
    for (const command of ['docker run -d --name one', 'docker exec one sh -c']) {
      const button = page.locator(`button.ll-run[data-command^="${command}"]`);
      await button.click();
      await expect.poll(() => button.getAttribute('data-state'), POLL).toBe('done');
    }
    const predict = page.locator('layerlab-predict[data-id="note-in-two"]');
    await predict.getByLabel('No: two has no /note.txt').check();
    await predict.locator('[data-commit]').click();
    await page.locator('button.ll-run[data-predict="note-in-two"]').click();
    await expect.poll(() => predict.getAttribute('data-state'), POLL).toBe('right');
    expect(await predict.locator('[data-result]').innerText()).toMatch(
      /^Right: No: two has no \/note\.txt\./,
    );
    expect(errors).toEqual([]);
  }, 240_000);

  it('judges a guessed size against the engine’s', async () => {
    const { page, errors } = await open('/05-copy-on-write/');
    const slim = page.locator('button.ll-run[data-command^="docker run --name slim"]');
    await slim.click();
    await expect.poll(() => slim.getAttribute('data-state'), POLL).toBe('done');
    const predict = page.locator('layerlab-predict[data-id="slim-size"]');
    await predict.locator('[data-value]').fill('a lot');
    await predict.locator('[data-commit]').click();
    expect(await predict.locator('[data-error]').innerText()).toContain('Type a size');
    expect(await predict.getAttribute('data-state')).toBe('open');
    await predict.locator('[data-value]').fill('2MB');
    await predict.locator('[data-commit]').click();
    await page.locator('button.ll-run[data-predict="slim-size"]').click();
    await expect.poll(() => predict.getAttribute('data-state'), POLL).toBe('wrong');
    const snapshot = await page.evaluate(
      async () => (await (await fetch('/api/state')).json()) as SessionSnapshot,
    );
    const image = snapshot.images.find((i) => i.repoTags.includes('big-layer:slim'));
    expect(image?.size).toBeGreaterThan(20_000_000);
    expect(await predict.locator('[data-result]').innerText()).toMatch(
      /^Not this time: big-layer:slim is 2\d(\.\d+)?MB, not 2MB\./,
    );
    expect(errors).toEqual([]);
  }, 300_000);
});

describe('<Answer>', () => {
  it('refuses a wrong value without showing the right one, accepts the engine’s, and remembers it', async () => {
    const { page, errors } = await open('/03-layers/');
    const answer = page.locator('layerlab-answer[data-id="shared-base"]');
    const snapshot = await page.evaluate(
      async () => (await (await fetch('/api/state')).json()) as SessionSnapshot,
    );
    const diffIds = (tag: string) =>
      snapshot.images.find((i) => i.repoTags.includes(tag))!.layers.map((l) => l.diffId);
    const shared = diffIds('busybox:latest').find((d) => diffIds('layerlab/webapp:latest').includes(d))!;
    await expect.poll(() => answer.locator('[data-submit]').isEnabled(), POLL).toBe(true);

    const webappOwn = diffIds('layerlab/webapp:latest').find((d) => d !== shared)!;
    await answer.getByLabel(/Which diff_id/).fill(webappOwn);
    await answer.getByLabel(/Which diff_id/).press('Enter');
    await expect.poll(() => answer.getAttribute('data-state'), POLL).toBe('wrong');
    const said = await answer.locator('[data-result]').innerText();
    expect(said).toContain('Compare the two .RootFS.Layers lists');
    expect(said).not.toContain(shared.slice(7, 19));
    expect(await answer.locator('[data-value]').getAttribute('aria-invalid')).toBe('true');

    await answer.locator('[data-value]').fill(shared.slice(7, 19));
    await answer.locator('[data-submit]').click();
    await expect.poll(() => answer.getAttribute('data-state'), POLL).toBe('right');
    await page.reload();
    await ready(page);
    expect(await answer.getAttribute('data-state')).toBe('earlier');
    expect(errors).toEqual([]);
  }, 240_000);
});
