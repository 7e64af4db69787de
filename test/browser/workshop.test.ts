// A workshop in real browsers: a teacher and three students on the built site and a live server. The
// students join through the form and open a lesson; the teacher's dashboard shows where each one is,
// a failed step and who needs help; a fourth person, turned away as the class is full, gets no
// sandbox on a lesson URL; a student who closes the browser is marked gone and rejoins their seat by
// name from another browser; after "End workshop" a reload is told the workshop ended.

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkshopService } from '../../server/workshop/service.ts';
import type { TestServer } from '../support/server.ts';
import { startWorkshopServer } from '../support/workshop.ts';
import { launchBrowser, type OpenedPage, openPage, screenshot } from './support.ts';

const PASSWORD = 'chalk-and-cheese';
const LESSON_PATH = '/01-image-vs-container/';
const POLL = { timeout: 30_000, interval: 250 };

let srv: TestServer;
let service: WorkshopService;
let code: string;
let browser: Browser;
const opened: OpenedPage[] = [];

beforeAll(async () => {
  ({ srv, service, code } = await startWorkshopServer(
    {
      name: 'Browser class',
      seats: 3,
      teacherPassword: PASSWORD,
      readers: false,
      leaveGraceMs: 3000,
      stuck: { idleMs: 10 * 60_000, failuresInARow: 3 },
    },
    { server: { limits: { maxSessions: 20 } } },
  ));
  browser = await launchBrowser();
});

afterAll(async () => {
  for (const p of opened) await p.close().catch(() => {});
  await browser?.close();
  service?.close();
  await srv?.close();
});

async function open(path: string): Promise<OpenedPage> {
  const p = await openPage(browser, `${srv.url}${path}`);
  opened.push(p);
  return p;
}

/** Joins through the form as a student does; resolves once the page has left for the lessons. */
async function joinAs(name: string): Promise<OpenedPage> {
  const p = await open(`/join/${code}`);
  await p.page.fill('#name', name);
  await Promise.all([p.page.waitForURL(`${srv.url}/`), p.page.click('button[type=submit]')]);
  return p;
}

async function openLesson(page: Page): Promise<void> {
  await page.goto(`${srv.url}${LESSON_PATH}`);
  await expect
    .poll(() => page.locator('layerlab-terminal').first().getAttribute('data-status'), POLL)
    .toBe('live');
}

function row(teacher: Page, name: string) {
  return teacher.locator('#students tr', { has: teacher.locator('th', { hasText: name }) });
}

describe('a workshop with a teacher and three students', () => {
  it('shows who is where and who is stuck, keeps the class boundary, and gives a seat back by name', async () => {
    const teacher = await open(`/teacher?code=${code}`);
    await teacher.page.fill('#password', PASSWORD);
    await Promise.all([
      teacher.page.waitForURL(`${srv.url}/teacher/dashboard`),
      teacher.page.click('button[type=submit]'),
    ]);

    const students = [await joinAs('Ada'), await joinAs('Brian'), await joinAs('Cleo')];
    for (const s of students) await openLesson(s.page);

    // Every student is on the dashboard, on the lesson they opened.
    for (const name of ['Ada', 'Brian', 'Cleo']) {
      await expect
        .poll(() => row(teacher.page, name).locator('td').first().textContent(), POLL)
        .toMatch(/^Image and container · /);
    }

    // Ada presses Check three times without doing the step: failed, with the hint; needs help.
    const ada = students[0]!.page;
    const checkButton = ada.locator('layerlab-check [data-check-button]').first();
    for (let i = 1; i <= 3; i++) {
      await expect.poll(() => checkButton.isEnabled(), POLL).toBe(true);
      await checkButton.click();
      await expect
        .poll(() => row(teacher.page, 'Ada').locator('td.step-failed').getAttribute('title'), POLL)
        .toContain(`(${i}×)`);
    }
    const failedCell = row(teacher.page, 'Ada').locator('td.step-failed');
    expect(await failedCell.getAttribute('title')).toMatch(
      /^Image and container: Make two containers .* — failed \(3×\)\. Hint shown: Run the two docker run commands/,
    );
    await expect.poll(() => row(teacher.page, 'Ada').locator('.help').count(), POLL).toBe(1);
    expect(await row(teacher.page, 'Brian').locator('.help').count()).toBe(0);
    await screenshot(teacher.page, 'workshop-dashboard');

    // A fourth person finds the class full, and a lesson URL gives them no sandbox, but a message.
    const late = await open(`/join/${code}`);
    expect(await late.page.locator('h1').textContent()).toBe('This workshop is full');
    await late.page.goto(`${srv.url}${LESSON_PATH}`);
    const lateTerminal = late.page.locator('layerlab-terminal').first();
    await expect.poll(() => lateTerminal.getAttribute('data-status'), POLL).toBe('ended');
    expect(await lateTerminal.locator('[data-status]').textContent()).toMatch(/This server runs a workshop/);
    late.errors.length = 0;

    // Cleo closes her browser: gone after the grace period, her seat free.
    await students[2]!.close();
    await expect.poll(() => row(teacher.page, 'Cleo').locator('th').textContent(), POLL).toContain('(gone)');
    await expect
      .poll(() => teacher.page.locator('#summary').textContent(), POLL)
      .toMatch(/^2 of 3 seats taken/);

    // From another browser, her name and the code give her seat back.
    const cleoAgain = await joinAs('Cleo');
    await openLesson(cleoAgain.page);
    await expect.poll(() => row(teacher.page, 'Cleo').locator('th').textContent(), POLL).toBe('Cleo');
    expect(await teacher.page.locator('#students tr').count()).toBe(3);

    // The end: every terminal closes, and a reload makes no new sandbox but says why.
    teacher.page.once('dialog', (dialog) => void dialog.accept());
    await teacher.page.click('#end');
    const brian = students[1]!.page;
    const brianTerminal = brian.locator('layerlab-terminal').first();
    await expect.poll(() => brianTerminal.getAttribute('data-status'), POLL).toBe('ended');
    await brian.reload();
    await expect.poll(() => brianTerminal.getAttribute('data-status'), POLL).toBe('ended');
    expect(await brianTerminal.locator('[data-status]').textContent()).toMatch(/This workshop has ended/);
    expect(srv.server.sessions.count).toBe(0);
    await expect.poll(() => teacher.page.locator('#summary').textContent(), POLL).toMatch(/^Ended\./);
    expect(teacher.errors).toEqual([]);
  }, 300_000);
});
