// A workshop in real browsers: a teacher and three students on the built site and a live server. The
// students join through the form and open a lesson; the teacher's dashboard shows where each one is,
// a failed step and who needs help; a fourth person, turned away as the class is full, gets no
// sandbox on a lesson URL; a student who closes the browser is marked gone and rejoins their seat by
// name from another browser; after "End workshop" a reload is told the workshop ended.
// Then a second class, run as a room: a broadcast seen by all, the pause blocking a student's typing
// until the resume, a raised hand on the dashboard, a reset notice, the wall showing a student's typing,
// and the dashboard's QR code decoded back to the join link; one student on a 390 px phone.

import { join } from 'node:path';
import jsqr from 'jsqr';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkshopService } from '../../server/workshop/service.ts';
import type { TestServer } from '../support/server.ts';
import { startWorkshopServer } from '../support/workshop.ts';
import {
  focusTerminal,
  launchBrowser,
  type OpenedPage,
  openPage,
  recordPageErrors,
  SCREENSHOTS,
  screenshot,
  typeLine,
  waitForTerminalText,
} from './support.ts';

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

describe('running the room: a teacher and three students, one on a phone', () => {
  let room: { srv: TestServer; service: WorkshopService; code: string };

  beforeAll(async () => {
    room = await startWorkshopServer(
      { name: 'Room in a browser', seats: 3, teacherPassword: PASSWORD, readers: false },
      { server: { limits: { maxSessions: 20 } } },
    );
  });

  afterAll(async () => {
    room?.service.close();
    await room?.srv.close();
  });

  async function openAt(path: string, width?: number): Promise<OpenedPage> {
    const p = await openPage(browser, `${room.srv.url}${path}`, width ? { width, height: 844 } : {});
    opened.push(p);
    return p;
  }

  async function studentJoins(name: string, width?: number): Promise<Page> {
    const p = await openAt(`/join/${room.code}`, width);
    await p.page.fill('#name', name);
    await Promise.all([p.page.waitForURL(`${room.srv.url}/`), p.page.click('button[type=submit]')]);
    await p.page.goto(`${room.srv.url}${LESSON_PATH}`);
    await expect
      .poll(() => p.page.locator('layerlab-terminal').first().getAttribute('data-status'), POLL)
      .toBe('live');
    return p.page;
  }

  /** What jsQR reads in a screenshot of `selector`, decoded by the browser's own PNG decoder. */
  async function decodeQr(page: Page, selector: string): Promise<string | undefined> {
    const png = await page.locator(selector).screenshot();
    const blank = await browser.newPage();
    try {
      const { width, height, data } = await blank.evaluate(async (b64) => {
        const img = new Image();
        img.src = `data:image/png;base64,${b64}`;
        await img.decode();
        const canvas = document.createElement('canvas');
        canvas.width = img.naturalWidth;
        canvas.height = img.naturalHeight;
        const ctx = canvas.getContext('2d');
        if (!ctx) throw new Error('no 2d context');
        ctx.drawImage(img, 0, 0);
        const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height);
        return { width: pixels.width, height: pixels.height, data: Array.from(pixels.data) };
      }, png.toString('base64'));
      return jsqr.default(Uint8ClampedArray.from(data), width, height)?.data;
    } finally {
      await blank.close();
    }
  }

  it('broadcasts, pauses and resumes, shows raised hands, resets with a notice, and walls the terminals', async () => {
    const teacherPage = await openAt(`/teacher?code=${room.code}`);
    const teacher = teacherPage.page;
    await teacher.fill('#password', PASSWORD);
    await Promise.all([
      teacher.waitForURL(`${room.srv.url}/teacher/dashboard`),
      teacher.click('button[type=submit]'),
    ]);

    // The QR code on the dashboard reads back as the join link it shows.
    const shown = await teacher.locator('#join-url').getAttribute('href');
    expect(shown).toBe(`${room.srv.url}/join/${room.code}`);
    expect(await decodeQr(teacher, '#join-qr')).toBe(shown);

    const ada = await studentJoins('Ada', 390);
    const brian = await studentJoins('Brian');
    const cleo = await studentJoins('Cleo');
    // Each page names the workshop and the student.
    for (const [page, name] of [
      [ada, 'Ada'],
      [brian, 'Brian'],
      [cleo, 'Cleo'],
    ] as const) {
      await expect
        .poll(() => page.locator('.ll-classroom__workshop').textContent(), POLL)
        .toBe('Room in a browser');
      expect(await page.locator('.ll-classroom__you').textContent()).toBe(`you are ${name}`);
    }

    // A message to everyone: a banner on every page, still there after a reload, until closed.
    await teacher.fill('#broadcast-text', 'Eyes on the projector, please');
    await teacher.click('#broadcast-form button[type=submit]');
    for (const page of [ada, brian, cleo]) {
      await expect
        .poll(() => page.locator('.ll-classroom__banner--broadcast').textContent(), POLL)
        .toContain('Eyes on the projector, please');
    }
    await ada.reload();
    await expect.poll(() => ada.locator('.ll-classroom__banner--broadcast').count(), POLL).toBe(1);
    // The phone's page fits its 390 px: nothing wider than the window.
    expect(await ada.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    // The window a phone shows (the whole lesson below it is the site's own page).
    await ada.screenshot({ path: join(SCREENSHOTS, 'workshop-student-390.png') });
    await ada.locator('.ll-classroom__banner--broadcast .ll-classroom__close').click();
    await expect.poll(() => ada.locator('.ll-classroom__banner--broadcast').count(), POLL).toBe(0);
    await ada.reload();
    await expect
      .poll(() => ada.locator('.ll-classroom__workshop').textContent(), POLL)
      .toBe('Room in a browser');
    expect(await ada.locator('.ll-classroom__banner--broadcast').count()).toBe(0);

    // Brian raises his hand: the dashboard lists it with its time; the teacher lowers it.
    await brian.click('.ll-classroom__hand');
    await expect.poll(() => teacher.locator('#hands li').textContent(), POLL).toMatch(/^✋ Brian — since \d/);
    await expect.poll(() => row(teacher, 'Brian').locator('.hand').count(), POLL).toBe(1);
    await teacher.click('#hands button');
    await expect
      .poll(() => brian.locator('.ll-classroom__hand').getAttribute('aria-pressed'), POLL)
      .toBe('false');
    await expect.poll(() => teacher.locator('#no-hands').isVisible(), POLL).toBe(true);

    // Pause: Cleo's terminal says so, her Run buttons are off, and what she types goes nowhere.
    await teacher.click('#pause');
    await expect
      .poll(() => cleo.locator('layerlab-terminal .ll-paused-overlay').first().textContent(), POLL)
      .toBe('Paused by your teacher');
    expect(await cleo.locator('button.ll-run').first().isDisabled()).toBe(true);
    await cleo.locator('layerlab-terminal[name="main"] .xterm-helper-textarea').focus();
    await typeLine(cleo, 'docker ps --typed-while-paused');
    await expect.poll(() => teacher.locator('#pause').textContent(), POLL).toBe('Resume the class');
    await teacher.click('#pause');
    await expect.poll(() => cleo.locator('.ll-paused-overlay').count(), POLL).toBe(0);
    expect(await cleo.locator('button.ll-run').first().isDisabled()).toBe(false);
    await focusTerminal(cleo, 'main');
    await typeLine(cleo, 'docker ps --typed-after-resume');
    await waitForTerminalText(cleo, 'main', /unknown flag: --typed-after-resume/);
    expect(await cleo.locator('layerlab-terminal[name="main"] .xterm-rows').innerText()).not.toContain(
      'typed-while-paused',
    );

    // The wall shows Brian typing, live and read-only.
    // In the teacher's own browser, beside the dashboard.
    const wall = await teacherPage.context.newPage();
    const wallErrors = recordPageErrors(wall);
    await wall.setViewportSize({ width: 1280, height: 900 });
    await wall.goto(`${room.srv.url}/teacher/wall`);
    // A tile per student with a terminal open (Ada's phone opens hers only once it is scrolled to).
    const tileOf = (name: string) => wall.locator('.tile', { has: wall.locator('h2', { hasText: name }) });
    await expect.poll(() => tileOf('Cleo').count(), POLL).toBe(1);
    await expect.poll(() => tileOf('Brian').count(), POLL).toBe(1);
    await focusTerminal(brian, 'main');
    await typeLine(brian, 'docker images --wall-sees-brian');
    const brianTile = tileOf('Brian');
    await expect
      .poll(() => brianTile.locator('.xterm-rows').innerText(), POLL)
      .toMatch(/unknown flag: --wall-sees-brian/);
    await screenshot(wall, 'workshop-wall');

    // Reset Ada alone to the start of her lesson: her page says what happened, by whom and how wide.
    teacher.once('dialog', (dialog) => {
      expect(dialog.message()).toMatch(/^Reset Ada alone — nobody else — to the start of lesson 1 /);
      void dialog.accept();
    });
    await row(teacher, 'Ada').locator('button', { hasText: 'Reset' }).click();
    await expect
      .poll(() => ada.locator('.ll-classroom__banner--reset').textContent(), POLL)
      .toMatch(/^Your teacher reset your sandbox at .* \(you alone\) to the start of lesson 1 /);
    expect(await brian.locator('.ll-classroom__banner--reset').count()).toBe(0);
    await expect
      .poll(() => teacher.locator('#action').textContent(), POLL)
      .toMatch(/^Ada is back at the start of lesson 1/);
    // The grid scrolled to Ada's Reset button: back to its start for the picture.
    await teacher.locator('.table-wrap').evaluate((wrap) => wrap.scrollTo({ left: 0 }));
    await screenshot(teacher, 'workshop-room-dashboard');

    expect(teacherPage.errors).toEqual([]);
    expect(wallErrors).toEqual([]);
  }, 300_000);
});
