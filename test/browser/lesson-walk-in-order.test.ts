// The course as a reader follows it: every lesson in order, in ONE session (one browser context,
// so one session cookie), arriving at each from the previous one without pressing Reset. Each lesson
// must prepare what it starts from on top of what the earlier ones left, every block must do what
// the lesson says, and every Check must pass; the lessons' tidy-up blocks keep the session under its
// container limit. Screenshots go to test-results/screenshots/lessons/in-order/.

import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { readLessons } from '../../site/scripts/lesson-source.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { LESSON_MS, walkLesson } from './lesson-walk.ts';
import { launchBrowser } from './support.ts';

let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let started = 0;

beforeAll(async () => {
  server = await startTestServer();
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, reducedMotion: 'reduce' });
  started = Date.now();
});

afterAll(async () => {
  console.log(`lessons in order, one session: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  await context?.close();
  await browser?.close();
  await server?.close();
});

// LAYERLAB_LESSONS=05-copy-on-write,06-size-vs-virtual-size walks only those, still in order.
const only = process.env.LAYERLAB_LESSONS?.split(',');
const lessons = readLessons()
  .filter((l) => l.lesson !== undefined && (!only || only.includes(l.id)))
  .sort((a, b) => a.lesson!.order - b.lesson!.order);

describe('the lessons in order, in one session', () => {
  for (const lesson of lessons) {
    it(
      lesson.id,
      async () => {
        const report = await walkLesson(browser, server, lesson, { context });
        console.log(`${report.id} (in order): ${(report.ms / 1000).toFixed(1)} s; ${report.arrival}`);
      },
      LESSON_MS,
    );
  }
});
