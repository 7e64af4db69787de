// Run blocks and the pictures in a real browser against a real server: a block far below its
// terminal brings the terminal (and its output) into view, a double-click runs once, a click while the
// terminal is inside a container's shell is refused with a note and never runs after `exit`; the
// layer stack and diff panel follow another container when theirs is removed; the image graph fits
// its card (or scrolls with a cue), names untagged images and sizes layers as `docker history` does.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  focusTerminal,
  launchBrowser,
  type OpenedPage,
  openPage,
  SCREENSHOTS,
  screenshot,
  terminalText,
  typeLine,
  waitForTerminalText,
} from './support.ts';

let server: TestServer;
let browser: Browser;
const opened: OpenedPage[] = [];

/** A page of a fresh session, with the JSON frames its socket sent and received. */
async function open(
  path: string,
  options: Parameters<typeof openPage>[2] = {},
): Promise<OpenedPage & { sent: Record<string, unknown>[]; received: Record<string, unknown>[] }> {
  const sent: Record<string, unknown>[] = [];
  const received: Record<string, unknown>[] = [];
  const json = (payload: string | Buffer, into: Record<string, unknown>[]) => {
    if (typeof payload !== 'string') return;
    try {
      into.push(JSON.parse(payload) as Record<string, unknown>);
    } catch {
      // not JSON
    }
  };
  const p = await openPage(browser, `${server.url}${path}`, {
    ...options,
    before: (page) => {
      page.on('websocket', (ws) => {
        ws.on('framesent', (f) => json(f.payload, sent));
        ws.on('framereceived', (f) => json(f.payload, received));
      });
    },
  });
  opened.push(p);
  return { ...p, sent, received };
}

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

async function waitLive(page: Page, name = 'main'): Promise<void> {
  await page.waitForFunction(
    (n) => document.querySelector(`layerlab-terminal[name="${n}"]`)?.getAttribute('data-status') === 'live',
    name,
    { timeout: 30_000 },
  );
}

/** Scrolls the terminal into view (its xterm starts when it is on screen) and focuses it. */
async function focusOnScreen(page: Page, name: string): Promise<void> {
  await page.locator(`layerlab-terminal[name="${name}"]`).scrollIntoViewIfNeeded();
  await focusTerminal(page, name);
}

/** The commands the session's terminals ran, from the `terminal.command` events the page received. */
function ranCommands(received: Record<string, unknown>[]): string[] {
  return received.flatMap((m) => {
    const event = m.type === 'event' ? (m.event as { type?: string; command?: string }) : undefined;
    return event?.type === 'terminal.command' && event.command ? [event.command] : [];
  });
}

/** Types a command line into the focused terminal and waits for the shell to report it ran. */
async function typed(page: Page, received: Record<string, unknown>[], line: string): Promise<void> {
  const before = ranCommands(received).filter((c) => c === line).length;
  await typeLine(page, line);
  await expect
    .poll(() => ranCommands(received).filter((c) => c === line).length, { timeout: 90_000, interval: 200 })
    .toBeGreaterThan(before);
}

/** Waits for the Run button to be usable again (its command is done) and returns its note. */
async function runDone(page: Page, selector: string): Promise<string> {
  await page.waitForFunction(
    (s) => {
      const b = document.querySelector(s);
      return (
        b &&
        b.getAttribute('aria-disabled') !== 'true' &&
        b.parentElement?.querySelector('.ll-run-note')?.textContent
      );
    },
    selector,
    { timeout: 90_000 },
  );
  return page.locator(selector).locator('xpath=..').locator('.ll-run-note').innerText();
}

/** Share of an element's box inside the window, 0..1. */
function visibleShare(page: Page, selector: string): Promise<number> {
  return page.evaluate((s) => {
    const r = document.querySelector(s)!.getBoundingClientRect();
    const seen = Math.max(0, Math.min(r.bottom, innerHeight) - Math.max(r.top, 0));
    return r.height ? seen / r.height : 0;
  }, selector);
}

describe('Run blocks', () => {
  it('bring a terminal far above into view, with the command’s output, without hiding the block', async () => {
    const { page, errors } = await open('/04-writable-layer/');
    await waitLive(page);
    // The block farthest below the terminal.
    const index = await page.evaluate(() => {
      const term = document.querySelector('layerlab-terminal[name="main"]')!.getBoundingClientRect();
      const buttons = Array.from(
        document.querySelectorAll<HTMLElement>('button.ll-run[data-terminal="main"]'),
      );
      const far = buttons.map((b, i) => [b.getBoundingClientRect().top - term.bottom, i] as const);
      far.sort((a, b) => b[0] - a[0]);
      return far[0]![1];
    });
    const button = page.locator('button.ll-run[data-terminal="main"]').nth(index);
    await button.evaluate((b) => b.setAttribute('data-test-target', ''));
    await button.scrollIntoViewIfNeeded();
    // Before: the terminal is out of sight, a screen or more above.
    expect(await visibleShare(page, 'layerlab-terminal[name="main"] [data-screen]')).toBe(0);
    const command = (await button.getAttribute('data-command'))!.split('\n')[0]!;
    await button.click();
    await page.waitForFunction(
      () => {
        const s = document
          .querySelector('layerlab-terminal[name="main"] [data-screen]')!
          .getBoundingClientRect();
        return s.top >= 0 && s.bottom <= innerHeight;
      },
      undefined,
      { timeout: 15_000 },
    );
    await waitForTerminalText(page, 'main', new RegExp(command.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    await runDone(page, 'button[data-test-target]');
    // The block that ran is still in view, above the docked terminal, not under it.
    const layout = await page.evaluate(() => {
      const b = document.querySelector('button[data-test-target]')!.getBoundingClientRect();
      const t = document.querySelector('layerlab-terminal[name="main"]')!.getBoundingClientRect();
      return { buttonBottom: b.bottom, buttonTop: b.top, termTop: t.top };
    });
    expect(layout.buttonTop).toBeGreaterThanOrEqual(0);
    // Docked over its place's left edge and width, it keeps its columns.
    const widths = await page.evaluate(() => [
      document.querySelector('.ll-terminal-home')!.getBoundingClientRect().width,
      document.querySelector('layerlab-terminal[name="main"]')!.getBoundingClientRect().width,
    ]);
    expect(Math.abs(widths[0]! - widths[1]!)).toBeLessThan(1);
    expect(layout.buttonBottom).toBeLessThanOrEqual(layout.termTop);
    await screenshot(page, 'run-block-docked-1280');
    // Scrolling back to the terminal's place puts it back there.
    await page.locator('.ll-terminal-home').scrollIntoViewIfNeeded();
    await page.locator('.ll-terminal-home').waitFor({ state: 'detached', timeout: 10_000 });
    expect(await page.locator('layerlab-terminal.is-docked').count()).toBe(0);
    expect(errors).toEqual([]);
  }, 180_000);

  it('docks at phone width too, and the Put back button returns the terminal to its place', async () => {
    const { page, errors } = await open('/04-writable-layer/', { width: 390, height: 844 });
    await waitLive(page);
    const button = page.locator('button.ll-run[data-terminal="main"]').last();
    await button.scrollIntoViewIfNeeded();
    await button.click();
    await page.locator('layerlab-terminal.is-docked').waitFor({ timeout: 15_000 });
    const box = await page.locator('layerlab-terminal.is-docked').boundingBox();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(390 + 1);
    expect(box!.y + box!.height).toBeLessThanOrEqual(844 + 1);
    await screenshot(page, 'run-block-docked-390');
    await page.locator('.ll-terminal__undock').click();
    expect(await page.locator('layerlab-terminal.is-docked').count()).toBe(0);
    expect(await page.locator('.ll-terminal-home').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('runs a double-clicked block once', async () => {
    const { page, errors, sent, received } = await open('/start-here/');
    await waitLive(page);
    const selector = 'button.ll-run[data-command="docker images"]';
    await page.locator(selector).dblclick();
    const note = await runDone(page, selector);
    expect(note).toMatch(/done|exited/i);
    const runs = sent.filter((m) => m.type === 'terminal.run' && m.command === 'docker images');
    expect(runs).toHaveLength(1);
    expect(ranCommands(received).filter((c) => c === 'docker images')).toHaveLength(1);
    expect(errors).toEqual([]);
  });

  it('says a block was not sent while the terminal is inside a container’s shell, and never runs it after exit', async () => {
    const { page, errors, received } = await open('/start-here/');
    await focusOnScreen(page, 'main');
    await typeLine(page, 'docker run -it --rm busybox sh');
    await page.waitForFunction(
      () =>
        document
          .querySelector('layerlab-terminal[name="main"] [data-mode]')
          ?.textContent?.includes('container'),
      undefined,
      { timeout: 60_000 },
    );
    const selector = 'button.ll-run[data-command="docker images"]';
    await page.locator(selector).click();
    const note = await runDone(page, selector);
    expect(note).toMatch(/not sent/i);
    expect(note).toMatch(/exit/);
    expect(
      received.some((m) => m.type === 'terminal.ran' && m.status === 'refused' && m.reason === 'container'),
    ).toBe(true);
    await focusOnScreen(page, 'main');
    await typeLine(page, 'exit');
    await page.waitForFunction(
      () => !document.querySelector('layerlab-terminal[name="main"] [data-mode]')?.textContent,
      undefined,
      { timeout: 30_000 },
    );
    // A command typed after the exit runs; had the block been queued, it would have run before it.
    await typeLine(page, 'docker ps -a');
    await expect
      .poll(() => ranCommands(received).includes('docker ps -a'), { timeout: 30_000, interval: 200 })
      .toBe(true);
    expect(ranCommands(received)).not.toContain('docker images');
    expect(await terminalText(page, 'main')).not.toContain('REPOSITORY');
    expect(errors).toEqual([]);
  }, 180_000);
});

describe('the pictures follow the engine', () => {
  it('show another running container when the lesson’s is removed, say so, and let the reader pick', async () => {
    const { page, errors, received } = await open('/04-writable-layer/');
    await focusOnScreen(page, 'main');
    await typed(page, received, 'docker run -d --name one busybox sleep 3600');
    await typed(page, received, 'docker run -d --name two busybox sleep 3600');
    const stack = page.locator('layerlab-layer-stack');
    const diff = page.locator('layerlab-diff-panel');
    await stack.locator('.ll-stack__upper', { hasText: 'one' }).first().waitFor({ timeout: 60_000 });
    await diff.locator('.ll-diff__cmd', { hasText: 'docker diff one' }).waitFor({ timeout: 30_000 });
    await focusOnScreen(page, 'main');
    await typed(page, received, 'docker rm -f one');
    await stack.locator('.ll-stack__label strong', { hasText: /^two$/ }).first().waitFor({ timeout: 30_000 });
    expect(await stack.locator('.ll-picture__notice').innerText()).toMatch(/one.*removed.*two/s);
    await diff.locator('.ll-diff__cmd', { hasText: 'docker diff two' }).waitFor({ timeout: 30_000 });
    expect(await diff.locator('.ll-picture__notice').innerText()).toMatch(/one.*removed.*two/s);
    expect(await stack.innerText()).not.toMatch(/Start a container/);
    // The reader can pick which container a picture shows.
    const options = await stack.locator('select.ll-choice__select option').allInnerTexts();
    expect(options.some((o) => o.startsWith('two'))).toBe(true);
    expect(options.some((o) => o.startsWith('one (running'))).toBe(false);
    await stack.screenshot({ path: join(SCREENSHOTS, 'layer-stack-follows-two-1280.png') });
    await focusOnScreen(page, 'main');
    await typed(page, received, 'docker rm -f two');
    expect(errors).toEqual([]);
  }, 240_000);

  it('fit the image graph in its card, label untagged images and size layers as docker history does', async () => {
    const { page, errors, received } = await open('/sandbox/');
    await focusOnScreen(page, 'sandbox');
    // Several images side by side: a tagged commit with a marker file, and untagged commits.
    await typed(
      page,
      received,
      "docker run --name sizes busybox sh -c 'mkdir -p /srv && echo hello-from-a-commit > /srv/index.html'",
    );
    await typed(page, received, 'docker commit -m sizes-test sizes sizes:v1');
    for (const n of [1, 2, 3]) {
      await typed(page, received, `docker run --name extra${n} busybox sh -c 'echo ${n} > /f${n}'`);
      await typed(page, received, `docker commit extra${n}`);
    }
    await typeLine(page, "docker history --format '{{.Size}}|{{.Comment}}' sizes:v1");
    const text = await waitForTerminalText(page, 'sandbox', /\n(\S+)\|sizes-test/, 60_000);
    const historySize = /\n(\S+)\|sizes-test/.exec(text)![1]!;

    const graph = page.locator('layerlab-image-graph');
    await graph.locator('.ll-graph__node.is-image', { hasText: 'sizes:v1' }).waitFor({ timeout: 30_000 });
    await expect
      .poll(() => graph.locator('.ll-graph__node.is-image', { hasText: '<none>' }).count(), {
        timeout: 30_000,
      })
      .toBe(3);
    // The untagged images carry their short ids, as `docker images` lists them.
    const untagged = await graph
      .locator('.ll-graph__node.is-image', { hasText: '<none>' })
      .evaluateAll((nodes) => nodes.map((n) => n.textContent ?? ''));
    for (const label of untagged) expect(label).toMatch(/[0-9a-f]{12}/);
    // The committed layer, found by the command that made it, shows the size history printed.
    const layer = graph.locator('.ll-graph__node.is-layer', {
      has: page.locator('title', { hasText: 'hello-from-a-commit' }),
    });
    expect(await layer.locator('.ll-graph__sub').textContent()).toBe(historySize);
    expect(historySize).toBe('20B');

    for (const [width, height] of [
      [1280, 900],
      [390, 844],
    ] as const) {
      await page.setViewportSize({ width, height });
      await graph.scrollIntoViewIfNeeded();
      // Every node is inside the card's box, or inside a scroll area that says it scrolls.
      await expect.poll(() => graphFit(page), { timeout: 10_000 }).toMatchObject({ cut: [], cueOk: true });
      const fit = await graphFit(page);
      expect(fit.cardRight).toBeLessThanOrEqual(width + 0.5);
      await graph.screenshot({ path: join(SCREENSHOTS, `image-graph-card-${width}.png`) });
    }
    expect(errors).toEqual([]);
  }, 240_000);
});

/** How the image graph sits in its card: nodes outside both the card and its scroll area, and the cue. */
function graphFit(page: Page) {
  return page.evaluate(() => {
    const card = document.querySelector('layerlab-image-graph')!;
    const box = card.querySelector<HTMLElement>('.ll-graph__scroll')!;
    const cue = card.querySelector<HTMLElement>('.ll-graph__cue')!;
    const c = card.getBoundingClientRect();
    const b = box.getBoundingClientRect();
    const scrolls = box.scrollWidth > box.clientWidth + 1;
    // The scroll area's full content, in window coordinates.
    const left = b.left - box.scrollLeft;
    const right = left + box.scrollWidth;
    const cut: string[] = [];
    for (const node of Array.from(card.querySelectorAll('.ll-graph__node'))) {
      const r = node.getBoundingClientRect();
      const inCard = r.left >= c.left - 0.5 && r.right <= c.right + 0.5;
      const inScroll =
        r.left >= left - 0.5 && r.right <= right + 0.5 && b.left >= c.left - 0.5 && b.right <= c.right + 0.5;
      if (!(inCard || (scrolls && inScroll))) cut.push(node.textContent?.trim() ?? '');
    }
    const cueShown = !cue.hidden && cue.getBoundingClientRect().height > 0;
    return { cut, cueOk: scrolls ? cueShown && box.tabIndex === 0 : !cueShown, cardRight: c.right, scrolls };
  });
}
