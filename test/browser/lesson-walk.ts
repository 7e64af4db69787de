// Walking a lesson page in a real browser against a live engine, as a reader would: arrive (the page
// prepares the lesson's start, adding what is missing), press every Run button in page order (each
// command finishing before the next in its terminal), watch the pictures follow, and press every
// <Check> where it stands: each must pass, and a command may fail only where the lesson says so.
// Used alone in a fresh session per lesson (lessons.test.ts) and for all lessons in order in one
// session (lesson-walk-in-order.test.ts). A screenshot of each page is saved.

import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import type { LessonSource, RunBlock } from '../../site/scripts/lesson-source.ts';
import type { TestServer } from '../support/server.ts';
import { commitPrediction, expectVerdict, passAnswer } from './lesson-walk-predict.ts';
import { recordPageErrors, screenshot, terminalText } from './support.ts';

export const LESSON_MS = 240_000;
const BLOCK_MS = 90_000;

/**
 * The commands a lesson runs to show a failure, with the status the lesson explains; any other
 * command must exit 0. Each entry must be met, in order of appearance.
 */
export const EXPECTED_FAILURES: Record<string, { command: string; exitCode: number }[]> = {
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
  '15-containers-vs-vms': [{ command: 'docker run --name fresh busybox cat /data.txt', exitCode: 1 }],
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
      // Labels are cut at 18 characters: `layerlab/webapp:l…`. Three images, or more when the
      // earlier lessons were followed in the same session.
      await expect
        .poll(async () => (await graphLabels(page, 'image')).length, POLL)
        .toBeGreaterThanOrEqual(3);
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
      // Every earlier lesson removes its containers, so none is left in either walk; the images of
      // earlier lessons stay when they were followed in the same session.
      await expect.poll(() => graphLabels(page, 'container'), POLL).toEqual([]);
      await expect.poll(async () => (await graphLabels(page, 'image')).join(' '), POLL).toMatch(/app:dev/);
      expect((await graphLabels(page, 'image')).join(' ')).not.toContain('layerlab/motd');
      const sizes = await page.locator('layerlab-size-bars').innerText();
      expect(sizes).toContain('app:dev');
    },
  },
  '14-scratch': {
    1: async (page) => {
      await expect.poll(() => graphLabels(page, 'image'), POLL).toContain('note:latest');
    },
  },
  '20-host-view': {
    1: async (page) => {
      // The file written inside is listed under the overlay's upperdir, as the host sees it.
      const view = page.locator('layerlab-host-view');
      await expect
        .poll(() => view.locator('[data-upper] .ll-entry').allInnerTexts(), POLL)
        .toEqual(expect.arrayContaining([expect.stringContaining('/from-inside.txt')]));
      expect(await view.locator('.ll-host__lower[data-source="layer"]').count()).toBe(1);
    },
    4: async (page) => {
      // `docker exec -d` added a process under a shim of its own.
      const procs = page.locator('layerlab-host-view .ll-host__proc');
      await expect.poll(() => procs.filter({ hasText: 'sleep 600' }).count(), POLL).toBe(1);
      expect(await procs.and(page.locator('[data-role="shim"]')).count()).toBe(2);
    },
  },
  '17-multi-stage': {
    4: async (page) => {
      await expect.poll(() => graphLabels(page, 'image'), POLL).toContain('hello:two-stages');
    },
  },
  '19-volumes': {
    2: async (page) => {
      // The file written under the volume's mount point is in no layer: the panel lists only the other.
      await expect.poll(() => entries(page, 'diff-panel'), POLL).toContain('A /inside.txt');
      expect(await entries(page, 'diff-panel')).not.toContain('A /data/note.txt');
    },
  },
};

/** Runs `fn`, naming the step of the lesson in its error. */
export async function step<T>(lesson: string, what: string, fn: () => Promise<T>): Promise<T> {
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

async function waitUntil(
  page: Page,
  probe: () => boolean,
  timeoutMs: number,
  what: () => Promise<string>,
  /** Runs before each probe (to read what the probe looks at). */
  refresh?: () => Promise<void>,
) {
  const start = Date.now();
  for (;;) {
    await refresh?.();
    if (probe()) return;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${await what()}`);
    await page.waitForTimeout(100);
  }
}

/** Presses the check's Check button until it passes (ten tries, half a second apart). */
export async function passCheck(page: Page, check: Locator): Promise<void> {
  let state = '';
  for (let attempt = 0; attempt < 10 && state !== 'pass'; attempt++) {
    if (attempt > 0) await page.waitForTimeout(500);
    await check.locator('[data-check-button]').click();
    await expect.poll(async () => check.getAttribute('data-state'), POLL).toMatch(/^(pass|fail)$/);
    state = (await check.getAttribute('data-state')) ?? '';
  }
  expect(state, await check.locator('[data-result]').innerText()).toBe('pass');
}

export async function apiReset(page: Page, to: unknown): Promise<number> {
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

/** A page in `context` that records console errors, uncaught exceptions and failed responses. */
async function openIn(
  context: BrowserContext,
  url: string,
  before: (page: Page) => void,
): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors = recordPageErrors(page);
  before(page);
  await page.goto(url);
  return { page, errors };
}

/**
 * Waits for the page's line about its start and returns it. It must be ready (nothing in the way);
 * in a fresh session every image the lesson starts from was missing, so all were prepared.
 */
async function arrive(page: Page, lesson: LessonSource, fresh: boolean): Promise<string> {
  const start = page.locator('layerlab-lesson-start');
  expect(await start.count(), 'a page with a terminal has one <LessonStart>').toBe(1);
  await page.waitForFunction(
    () =>
      ['ready', 'conflict', 'error'].includes(
        document.querySelector('layerlab-lesson-start')?.getAttribute('data-state') ?? '',
      ),
    undefined,
    { timeout: 60_000 },
  );
  const line = start.locator('[data-prepare-line]');
  const text = (await line.isVisible()) ? await line.innerText() : '';
  expect(await start.getAttribute('data-state'), text).toBe('ready');
  const images = lesson.start.images ?? [];
  if (lesson.lesson === undefined) return text;
  const prepared = JSON.parse((await start.getAttribute('data-prepared')) ?? '[]') as string[];
  if (fresh) {
    expect([...prepared].sort(), 'a fresh session lacks every image').toEqual([...images].sort());
    expect(text).toBe(
      images.length > 0
        ? `Prepared for you: ${images.join(', ')}.`
        : 'Everything this lesson starts from is already here.',
    );
  } else {
    expect(text).toMatch(
      /^(Prepared for you: [^.]+\.|Everything this lesson starts from is already here\.)$/,
    );
  }
  return text;
}

/** How a lesson is walked: alone in a fresh session, or as the next one in a shared session. */
export interface WalkOptions {
  /** The browser context of the walk in order: its session carries over from lesson to lesson. */
  context?: BrowserContext;
}

/** What a walk saw on arrival and how long it took. */
export interface WalkReport {
  id: string;
  /** The page's line about its start ("Prepared for you: busybox."), empty when it has none. */
  arrival: string;
  ms: number;
}

/**
 * Walks `lesson` as a reader would, without pressing Reset: waits for the page to prepare its start
 * on arrival, presses every Run button in page order and every Check where it stands.
 */
export async function walkLesson(
  browser: Browser,
  server: TestServer,
  lesson: LessonSource,
  options: WalkOptions = {},
): Promise<WalkReport> {
  const started = Date.now();
  const ran: Ran[] = [];
  const startedRuns: string[] = [];
  const context =
    options.context ??
    (await browser.newContext({ viewport: { width: 1280, height: 900 }, reducedMotion: 'reduce' }));
  const { page, errors } = await openIn(context, `${server.url}${lesson.path}`, (p) =>
    p.on('websocket', (ws) =>
      ws.on('framereceived', ({ payload }) => {
        if (typeof payload !== 'string') return;
        const m = JSON.parse(payload) as {
          type: string;
          event?: { type: string } & Ran;
          terminal?: string;
          status?: string;
        };
        if (m.type === 'event' && m.event?.type === 'terminal.command') ran.push(m.event);
        // A Run block's run as the server reports it: started (the command's echo may scroll away).
        if (m.type === 'terminal.ran' && m.status === 'started' && m.terminal) startedRuns.push(m.terminal);
      }),
    ),
  );
  const fresh = options.context === undefined;
  let arrival = '';
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
        { timeout: 60_000 },
      ),
    );
    const checks = page.locator('layerlab-check');
    const checkCount = await checks.count();

    // No Reset: arriving at the page prepares what the lesson starts from, adding only.
    if (terminals.length > 0) {
      arrival = await step(id, 'arrival', () => arrive(page, lesson, fresh));
    }

    const buttons = page.locator('button.ll-run');
    expect(await buttons.count(), `${id}: Run buttons on the page`).toBe(lesson.blocks.length);
    const expectedFailures = [...(EXPECTED_FAILURES[id] ?? [])];
    const count = (t: string) => ran.filter((r) => r.terminal === t).length;
    const pending: { block: RunBlock; index: number; from: number }[] = [];
    /** The <Predict> bound to each block that has one: its verdict is awaited once the block is done. */
    const predicted = new Map<number, string>();

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
      const prediction = predicted.get(index);
      if (prediction)
        await step(id, `the prediction "${prediction}" of ${label(block, index)}`, () =>
          expectVerdict(page, prediction),
        );
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
    // An <Answer> too: answered once the blocks above it are done (it asks about what they made).
    const answers = page.locator('layerlab-answer');
    const answerCount = await answers.count();
    const answerRunsBefore = await answers.evaluateAll((els) =>
      els.map(
        (el) =>
          Array.from(document.querySelectorAll('button.ll-run')).filter(
            (b) => b.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING,
          ).length,
      ),
    );
    let answered = 0;
    let checked = 0;
    const checksUpTo = async (blocksDone: number) => {
      for (; answered < answerCount && answerRunsBefore[answered]! <= blocksDone; answered++) {
        const answer = answers.nth(answered);
        const name = (await answer.getAttribute('data-id')) ?? String(answered + 1);
        await step(id, `answer "${name}" (after ${blocksDone} blocks)`, () => passAnswer(page, id, answer));
      }
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
      if (
        (checked < checkCount && runsBefore[checked]! <= index) ||
        (answered < answerCount && answerRunsBefore[answered]! <= index)
      ) {
        for (const p of pending.splice(0)) await finish(p.block, p.index, p.from);
        await checksUpTo(index);
      }
      const from = count(block.terminal);
      const startedBefore = startedRuns.filter((t) => t === block.terminal).length;
      await step(id, `${label(block, index)} pressing Run`, async () => {
        // A prediction guards the block: the reader commits one before the button runs it.
        const prediction = await commitPrediction(page, button);
        if (prediction) predicted.set(index, prediction);
        await button.click();
        // The note beside the button says what the click did; a click must never be refused.
        const note = await button.locator('xpath=..').locator('.ll-run-note').innerText();
        expect(note).not.toMatch(/^Not sent/);
      });
      pending.push({ block, index, from });
      const picture = PICTURES[id]?.[index];
      const next = lesson.blocks[index + 1];
      if (picture || !next || next.terminal === block.terminal) {
        for (const p of pending.splice(0)) await finish(p.block, p.index, p.from);
      } else {
        // Switching terminals: let this one start (the server says so, or its command is echoed:
        // the echo may have scrolled away) and print a little before the next.
        const echoed = new RegExp(escapeRegExp(block.lines[0]!));
        let text = '';
        await step(id, `${label(block, index)} starting`, () =>
          waitUntil(
            page,
            () => startedRuns.filter((t) => t === block.terminal).length > startedBefore || echoed.test(text),
            60_000,
            async () => `terminal ${block.terminal} shows:\n${text}`,
            async () => {
              text = await terminalText(page, block.terminal).catch(() => '');
            },
          ),
        );
        await page.waitForTimeout(1000);
      }
      if (picture) await step(id, `the pictures after ${label(block, index)}`, () => picture(page));
    }
    for (const p of pending.splice(0)) await finish(p.block, p.index, p.from);
    await checksUpTo(lesson.blocks.length);
    expect(answered, `${id}: answers walked`).toBe(answerCount);
    expect(expectedFailures, `${id}: commands the lesson shows failing that did not fail`).toEqual([]);

    expect(errors, `${id}: console and page errors`).toEqual([]);
  } finally {
    // From the top, so Starlight's fixed header is drawn where it belongs in the full-page image.
    await page.evaluate(() => window.scrollTo(0, 0)).catch(() => {});
    await page.waitForTimeout(300);
    await screenshot(page, `lessons/${fresh ? '' : 'in-order/'}${id}`).catch(() => {});
    if (fresh) {
      await apiReset(page, {}).catch(() => {});
      await context.close();
    } else {
      await page.close();
    }
  }
  return { id: lesson.id, arrival, ms: Date.now() - started };
}
