// Lesson 4's Run blocks clicked in order in a real browser, as a reader does (scrolling to each block,
// so the terminal docks), by an anonymous reader and by a student joined to a workshop whose teacher
// has the dashboard open: every block gets its prompt back promptly, the last one
// (`docker run --rm busybox cat /note.txt`, issue #15) included.

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startWorkshopServer, type TestWorkshop } from '../support/workshop.ts';
import { launchBrowser, type OpenedPage, openPage, terminalText } from './support.ts';

const LESSON = '/04-writable-layer/';
const PASSWORD = 'chalk-and-cheese';
/** Far below the 30 s the students waited, and generous for a busy 2-core machine. */
const PROMPT_MS = 10_000;

let reader: TestServer;
let room: TestWorkshop;
let browser: Browser;
const opened: OpenedPage[] = [];

beforeAll(async () => {
  reader = await startTestServer();
  room = await startWorkshopServer(
    { name: 'Run blocks class', seats: 3, teacherPassword: PASSWORD, readers: false },
    { server: { limits: { maxSessions: 20 } } },
  );
  browser = await launchBrowser();
});

afterAll(async () => {
  for (const p of opened) await p.close().catch(() => {});
  await browser?.close();
  room?.service.close();
  await room?.srv.close();
  await reader?.close();
});

async function open(url: string): Promise<OpenedPage> {
  // A laptop's window: the terminal leaves the view a few blocks down and docks.
  const p = await openPage(browser, url, { width: 1280, height: 720 });
  opened.push(p);
  return p;
}

/**
 * Whether the terminal shows `line` echoed after the prompt, then a bare prompt as its last row: the
 * line ran and the shell is back. (Lesson 4's commands are all different, so an older echo cannot
 * pass for this one.)
 */
function promptAfter(last: string): boolean {
  const rows = document.querySelector('layerlab-terminal[name="main"] .xterm-rows');
  const lines = Array.from(rows?.children ?? [])
    .map((r) => (r.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd())
    .filter((l) => l !== '');
  const echoed = lines.lastIndexOf(`reader@layerlab:~$ ${last}`);
  return echoed >= 0 && echoed < lines.length - 1 && lines[lines.length - 1] === 'reader@layerlab:~$';
}

/**
 * Clicks every Run block of the page in order as a reader: scrolling down to it with the mouse wheel
 * (so the terminal, left above, docks), a prediction made where one guards the block, each block's
 * prompt back before the next. Returns, per block, the milliseconds from its click to the prompt, and
 * whether the terminal was docked when it came back.
 */
async function walk(page: Page): Promise<{ command: string; ms: number; docked: boolean }[]> {
  await page.waitForFunction(
    () => document.querySelector('layerlab-terminal[name="main"]')?.getAttribute('data-status') === 'live',
    undefined,
    { timeout: 30_000 },
  );
  const buttons = page.locator('button.ll-run[data-terminal="main"]');
  const count = await buttons.count();
  const times: { command: string; ms: number; docked: boolean }[] = [];
  const height = page.viewportSize()?.height ?? 720;
  for (let i = 0; i < count; i++) {
    const button = buttons.nth(i);
    const command = (await button.getAttribute('data-command')) ?? '';
    const last = command.split('\n').pop()!;
    const predict = await button.getAttribute('data-predict');
    if (predict) {
      const form = page.locator(`layerlab-predict[data-id="${predict}"]`);
      await form.locator('input[type="radio"]').first().check();
      await form.locator('[data-commit]').click();
    }
    // Scrolled to as a reader scrolls: in wheel steps until the button is in sight, not under the
    // site's header, the workshop bar or the docked terminal (what a reader's eye and click reach).
    await page.mouse.move(300, height / 3);
    for (let step = 0; step < 80; step++) {
      const place = await button.evaluate((b) => {
        const r = b.getBoundingClientRect();
        const x = r.left + r.width / 2;
        const y = r.top + r.height / 2;
        if (y < 0) return -1;
        if (y > innerHeight) return 1;
        const hit = document.elementFromPoint(x, y);
        if (b.contains(hit)) return 0;
        // Covered: by the dock (below the middle of the window) or the header (above it).
        return y > innerHeight / 2 ? 1 : -1;
      });
      if (place === 0) break;
      await page.mouse.wheel(0, place * 120);
      await page.waitForFunction(() => new Promise((r) => requestAnimationFrame(() => r(true))));
    }
    const started = Date.now();
    await button.click();
    // Well under the 30 s the students waited, and generous for a busy machine.
    await page
      .waitForFunction(promptAfter, last, { timeout: PROMPT_MS, polling: 50 })
      .catch(async (err: Error) => {
        throw new Error(
          `${err.message}\nafter ${command}, the terminal shows:\n${await terminalText(page, 'main')}`,
        );
      });
    const ms = Date.now() - started;
    const docked = (await page.locator('layerlab-terminal.is-docked').count()) > 0;
    times.push({ command, ms, docked });
    await page.waitForFunction(
      (b) => b.getAttribute('aria-disabled') !== 'true' && b.dataset.state === 'done',
      await button.elementHandle(),
      { timeout: PROMPT_MS },
    );
  }
  return times;
}

describe('lesson 4 clicked in order', () => {
  it('gives the prompt back after every block, the last one included, for an anonymous reader', async () => {
    const { page, errors } = await open(`${reader.url}${LESSON}`);
    const times = await walk(page);
    console.log('reader', times);
    expect(times.some((t) => t.docked)).toBe(true);
    for (const t of times) expect(t.ms, t.command).toBeLessThan(PROMPT_MS);
    expect(errors).toEqual([]);
  }, 180_000);

  it('and for a student joined to a workshop while the teacher has the dashboard open', async () => {
    const { srv, code } = room;
    const teacher = await open(`${srv.url}/teacher?code=${code}`);
    await teacher.page.fill('#password', PASSWORD);
    await Promise.all([
      teacher.page.waitForURL(`${srv.url}/teacher/dashboard`),
      teacher.page.click('button[type=submit]'),
    ]);
    const student = await open(`${srv.url}/join/${code}`);
    await student.page.fill('#name', 'Ada');
    await Promise.all([student.page.waitForURL(`${srv.url}/`), student.page.click('button[type=submit]')]);
    await student.page.goto(`${srv.url}${LESSON}`);
    const times = await walk(student.page);
    console.log('student', times);
    expect(times.some((t) => t.docked)).toBe(true);
    for (const t of times) expect(t.ms, t.command).toBeLessThan(PROMPT_MS);
    expect(student.errors).toEqual([]);
    expect(teacher.errors).toEqual([]);
  }, 180_000);
});
