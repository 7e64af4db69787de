// Every lesson page followed in a real browser against a live engine, as a reader would: reset to the
// lesson's start, press every Run button in order (each command finishing before the next in its
// terminal), watch the pictures follow, then every <Check> on the page must pass. One server for all;
// a fresh session per lesson, emptied afterwards. A screenshot of each page is saved.

import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LessonSource, type RunBlock, readLessons } from '../../site/scripts/lesson-source.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  focusTerminal,
  launchBrowser,
  openPage,
  screenshot,
  terminalText,
  typeLine,
  waitForTerminalText,
} from './support.ts';

const LESSON_MS = 240_000;
const BLOCK_MS = 90_000;

/**
 * The commands a lesson runs to show a failure, with the status the lesson explains; any other
 * command must exit 0. Each entry must be met, in order of appearance.
 */
const EXPECTED_FAILURES: Record<string, { command: string; exitCode: number }[]> = {
  '04-writable-layer': [
    { command: 'docker exec two cat /note.txt', exitCode: 1 },
    { command: 'docker run --rm busybox cat /note.txt', exitCode: 1 },
  ],
  '07-diff-and-commit': [{ command: 'docker run --rm my-page:v1 ls /bin/vi', exitCode: 1 }],
  '09-lifecycle': [{ command: 'docker run life', exitCode: 125 }],
  '10-cleanup': [{ command: 'docker rmi layerlab/motd', exitCode: 1 }],
  // The pids limit stops the fork bomb: `sh: can't fork`.
  '11-restricted-process': [
    { command: "docker run --rm busybox sh -c 'for i in $(seq 300); do sleep 2 & done'", exitCode: 2 },
  ],
  // No CMD, then no programs at all in an image built FROM scratch.
  '14-scratch': [
    { command: 'docker run --name note-1 note', exitCode: 125 },
    { command: 'docker run --name note-2 note sh', exitCode: 127 },
    { command: 'docker run --name note-3 note cat /note.txt', exitCode: 127 },
  ],
  '15-containers-vs-vms': [{ command: 'docker run --rm busybox cat /data.txt', exitCode: 1 }],
};

type Picture = (page: Page) => Promise<void>;
const POLL = { timeout: 15_000, interval: 250 };

function graphLabels(page: Page, kind: 'image' | 'container' | 'layer'): Promise<string[]> {
  return page
    .locator(`layerlab-image-graph .ll-graph__node.is-${kind} .ll-graph__label`)
    .evaluateAll((labels) => labels.map((l) => l.textContent ?? ''));
}

function entries(page: Page, picture: 'layer-stack' | 'diff-panel'): Promise<string[]> {
  const row = picture === 'layer-stack' ? '.ll-entry' : '.ll-diff__row';
  return page
    .locator(`layerlab-${picture} ${row}`)
    .evaluateAll((rows) =>
      rows.map(
        (r) =>
          `${/ll-entry--([ACD])/.exec(r.className)?.[1] ?? '?'} ${r.querySelector('code, button')?.textContent}`,
      ),
    );
}

/** What each lesson's pictures must show after its block N (0-based) has run. */
const PICTURES: Record<string, Record<number, Picture>> = {
  '01-image-vs-container': {
    1: async (page) => {
      await expect
        .poll(() => graphLabels(page, 'container'), POLL)
        .toEqual(expect.arrayContaining(['first', 'second']));
      await expect.poll(() => graphLabels(page, 'image'), POLL).toHaveLength(1);
    },
  },
  '02-pull': {
    1: async (page) => {
      const inspector = page.locator('layerlab-pull-inspector');
      await expect
        .poll(() => inspector.locator('.ll-pull__ref').innerText(), POLL)
        .toContain('layerlab/webapp');
      // webapp is busybox plus its own layers: the base is already here, the rest is fetched.
      await expect
        .poll(() => inspector.locator('.ll-pull__state.is-existed').count(), POLL)
        .toBeGreaterThan(0);
      expect(await inspector.locator('.ll-pull__state.is-fetched').count()).toBeGreaterThan(0);
      expect(await inspector.locator('.ll-pull__steps li').count()).toBeGreaterThan(2);
    },
  },
  '03-layers': {
    0: async (page) => {
      // Labels are cut at 18 characters: `layerlab/webapp:l…`.
      await expect.poll(() => graphLabels(page, 'image'), POLL).toHaveLength(3);
      const labels = (await graphLabels(page, 'image')).join(' ');
      for (const name of ['busybox:latest', 'layerlab/webapp', 'layerlab/motd:lat'])
        expect(labels).toContain(name);
    },
  },
  '04-writable-layer': {
    1: async (page) => {
      await expect.poll(() => entries(page, 'layer-stack'), POLL).toContain('A /note.txt');
      await expect.poll(() => entries(page, 'diff-panel'), POLL).toContain('A /note.txt');
    },
  },
  '05-copy-on-write': {
    0: async (page) => {
      await expect.poll(() => page.locator('layerlab-layer-stack .ll-stack__lower').count(), POLL).toBe(2);
    },
    1: async (page) => {
      // The first write copied /etc/motd up from the image's top layer (its digest is named).
      const stack = page.locator('layerlab-layer-stack');
      const motd = stack.locator('.ll-entry--C', { hasText: '/etc/motd' });
      await motd.waitFor({ timeout: POLL.timeout });
      const digests = await stack.locator('.ll-stack__lower .ll-stack__digest').allInnerTexts();
      const note = await motd.innerText();
      expect(
        digests.some((d) => note.includes(d)),
        `${note} names one of ${digests.join(', ')}`,
      ).toBe(true);
      const diff = page.locator('layerlab-diff-panel');
      await diff.locator('button[data-path="/etc/motd"]').click();
      await diff.locator('.ll-diff__versions', { hasText: 'Edited inside the container.' }).waitFor(POLL);
    },
  },
  '06-size-vs-virtual-size': {
    1: async (page) => {
      const rows = page.locator('layerlab-size-bars .ll-sizes__row');
      await expect
        .poll(() => rows.allInnerTexts(), POLL)
        .toEqual(expect.arrayContaining([expect.stringMatching(/^big-1\s[\d.]+\s?MB/)]));
      for (const name of ['big-2', 'big-3']) {
        expect(await rows.allInnerTexts()).toEqual(
          expect.arrayContaining([expect.stringMatching(new RegExp(`^${name}\\s`))]),
        );
      }
    },
  },
  '07-diff-and-commit': {
    0: async (page) => {
      await expect
        .poll(() => entries(page, 'diff-panel'), POLL)
        .toEqual(expect.arrayContaining(['A /srv/index.html', 'D /bin/vi']));
    },
    2: async (page) => {
      await expect.poll(() => graphLabels(page, 'image'), POLL).toContain('my-page:v1');
    },
  },
  '08-dockerfile-build': {
    0: async (page) => {
      await expect.poll(() => graphLabels(page, 'image'), POLL).toContain('hello-build:latest');
    },
  },
  '09-lifecycle': {
    0: async (page) => {
      await expect.poll(() => graphLabels(page, 'container'), POLL).toContain('life');
    },
  },
  '10-cleanup': {
    4: async (page) => {
      await expect.poll(() => graphLabels(page, 'container'), POLL).toEqual([]);
      await expect.poll(() => graphLabels(page, 'image'), POLL).toHaveLength(2);
      const sizes = await page.locator('layerlab-size-bars').innerText();
      expect(sizes).toContain('app:dev');
    },
  },
  '14-scratch': {
    1: async (page) => {
      await expect.poll(() => graphLabels(page, 'image'), POLL).toContain('note:latest');
    },
  },
};

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  server = await startTestServer();
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** Runs `fn`, naming the step of the lesson in its error. */
async function step<T>(lesson: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new Error(`${lesson}: ${what}: ${(err as Error).message}`, { cause: err });
  }
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface Ran {
  terminal: string;
  command: string;
  exitCode: number;
}

function label(block: RunBlock, index: number): string {
  return `block ${index + 1} [${block.terminal}] \`${block.lines[0]}${block.lines.length > 1 ? ' …' : ''}\``;
}

async function waitUntil(page: Page, probe: () => boolean, timeoutMs: number, what: () => Promise<string>) {
  const start = Date.now();
  while (!probe()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${await what()}`);
    await page.waitForTimeout(100);
  }
}

async function walk(lesson: LessonSource): Promise<void> {
  const ran: Ran[] = [];
  const { page, errors, close } = await openPage(browser, `${server.url}${lesson.path}`, {
    before: (p) =>
      p.on('websocket', (ws) =>
        ws.on('framereceived', ({ payload }) => {
          if (typeof payload !== 'string') return;
          const m = JSON.parse(payload) as { type: string; event?: { type: string } & Ran };
          if (m.type === 'event' && m.event?.type === 'terminal.command') ran.push(m.event);
        }),
      ),
  });
  const id = lesson.id;
  try {
    const terminals = [...lesson.terminals.keys()];
    await step(id, 'terminals going live', () =>
      page.waitForFunction(
        (n) => {
          const all = Array.from(document.querySelectorAll('layerlab-terminal'));
          return all.length === n && all.every((t) => t.getAttribute('data-status') === 'live');
        },
        terminals.length,
        { timeout: 20_000 },
      ),
    );
    const checks = page.locator('layerlab-check');
    const checkCount = await checks.count();

    // Reset to the lesson's start: with the page's own Reset button when it has one.
    await step(id, 'reset', async () => {
      const button = checks.first().locator('[data-reset-button]');
      if (checkCount > 0 && (await button.count()) > 0) {
        expect(JSON.parse((await checks.first().getAttribute('data-reset')) ?? 'null')).toEqual(lesson.start);
        await button.click();
        await page.waitForFunction(
          () => document.querySelector('layerlab-check')?.getAttribute('data-state') !== 'busy',
        );
        expect(await checks.first().locator('[data-result]').innerText()).toMatch(/reset done/i);
      } else if (terminals.length > 0) {
        const status = await apiReset(page, lesson.start);
        expect(status).toBe(200);
      }
    });

    const buttons = page.locator('button.ll-run');
    expect(await buttons.count(), `${id}: Run buttons on the page`).toBe(lesson.blocks.length);
    const expectedFailures = [...(EXPECTED_FAILURES[id] ?? [])];
    const count = (t: string) => ran.filter((r) => r.terminal === t).length;
    const pending: { block: RunBlock; index: number; from: number }[] = [];

    const finish = async (block: RunBlock, index: number, from: number) => {
      await step(id, `${label(block, index)} finishing`, () =>
        waitUntil(
          page,
          () => count(block.terminal) >= from + block.lines.length,
          BLOCK_MS,
          async () => `terminal ${block.terminal} shows:\n${await terminalText(page, block.terminal)}`,
        ),
      );
      const mine = ran.filter((r) => r.terminal === block.terminal).slice(from, from + block.lines.length);
      expect(
        mine.map((r) => r.command),
        `${id}: ${label(block, index)} ran its lines`,
      ).toEqual(block.lines);
      for (const r of mine) {
        if (r.exitCode === 0) continue;
        const i = expectedFailures.findIndex((f) => f.command === r.command && f.exitCode === r.exitCode);
        if (i < 0) {
          throw new Error(
            `${id}: ${label(block, index)}: \`${r.command}\` exited ${r.exitCode}; terminal ${block.terminal} shows:\n${await terminalText(page, block.terminal)}`,
          );
        }
        expectedFailures.splice(i, 1);
      }
    };

    // A check is the goal of the steps above it: it is tried where it stands, once every Run button
    // before it has run and finished (the engine may need a moment to settle: ask a few times).
    const runsBefore = await checks.evaluateAll((els) =>
      els.map(
        (el) =>
          Array.from(document.querySelectorAll('button.ll-run')).filter(
            (b) => b.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING,
          ).length,
      ),
    );
    let checked = 0;
    const checksUpTo = async (blocksDone: number) => {
      for (; checked < checkCount && runsBefore[checked]! <= blocksDone; checked++) {
        const check = checks.nth(checked);
        const name = (await check.getAttribute('data-id')) ?? String(checked + 1);
        await step(id, `check "${name}" (after ${blocksDone} blocks)`, () => passCheck(page, check));
      }
    };

    for (const [index, block] of lesson.blocks.entries()) {
      const button = buttons.nth(index);
      expect(await button.getAttribute('data-terminal'), `${id}: ${label(block, index)}`).toBe(
        block.terminal,
      );
      expect(await button.getAttribute('data-command'), `${id}: ${label(block, index)}`).toBe(block.command);
      // A terminal runs one thing at a time: what was sent to it before must be done. Another
      // terminal may still be busy (lesson 12 watches a build from a second terminal).
      for (const p of pending.splice(0).reverse()) {
        if (p.block.terminal === block.terminal) await finish(p.block, p.index, p.from);
        else pending.unshift(p);
      }
      if (checked < checkCount && runsBefore[checked]! <= index) {
        for (const p of pending.splice(0)) await finish(p.block, p.index, p.from);
        await checksUpTo(index);
      }
      const from = count(block.terminal);
      await step(id, `${label(block, index)} pressing Run`, async () => {
        await button.click();
        expect(await button.locator('xpath=..').locator('.ll-run-note').innerText()).toBe('');
      });
      pending.push({ block, index, from });
      const picture = PICTURES[id]?.[index];
      const next = lesson.blocks[index + 1];
      if (picture || !next || next.terminal === block.terminal) {
        for (const p of pending.splice(0)) await finish(p.block, p.index, p.from);
      } else {
        // Switching terminals: let this one start (its command echoed, output begun) before the next.
        await step(id, `${label(block, index)} starting`, () =>
          waitForTerminalText(page, block.terminal, new RegExp(escapeRegExp(block.lines[0]!)), 20_000),
        );
        await page.waitForTimeout(1000);
      }
      if (picture) await step(id, `the pictures after ${label(block, index)}`, () => picture(page));
    }
    for (const p of pending.splice(0)) await finish(p.block, p.index, p.from);
    await checksUpTo(lesson.blocks.length);
    expect(expectedFailures, `${id}: commands the lesson shows failing that did not fail`).toEqual([]);

    expect(errors, `${id}: console and page errors`).toEqual([]);
  } finally {
    // From the top, so Starlight's fixed header is drawn where it belongs in the full-page image.
    await page.evaluate(() => window.scrollTo(0, 0)).catch(() => {});
    await page.waitForTimeout(300);
    await screenshot(page, `lessons/${id}`).catch(() => {});
    await apiReset(page, {}).catch(() => {});
    await close();
  }
}

/** Presses the check's Check button until it passes (ten tries, half a second apart). */
async function passCheck(page: Page, check: Locator): Promise<void> {
  let state = '';
  for (let attempt = 0; attempt < 10 && state !== 'pass'; attempt++) {
    if (attempt > 0) await page.waitForTimeout(500);
    await check.locator('[data-check-button]').click();
    await expect.poll(async () => check.getAttribute('data-state'), POLL).toMatch(/^(pass|fail)$/);
    state = (await check.getAttribute('data-state')) ?? '';
  }
  expect(state, await check.locator('[data-result]').innerText()).toBe('pass');
}

async function apiReset(page: Page, to: unknown): Promise<number> {
  return page.evaluate(
    async (body) => {
      const res = await fetch('/api/reset', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return res.status;
    },
    { to },
  );
}

const only = process.env.LAYERLAB_LESSONS?.split(',');
const lessons = readLessons().filter((l) => !only || only.includes(l.id));

describe('every lesson, followed in a browser on a live engine', () => {
  for (const lesson of lessons) it(lesson.id, () => walk(lesson), LESSON_MS);

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
