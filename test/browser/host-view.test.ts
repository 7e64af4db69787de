// The host view picture in a real browser against a real server (lesson 20's page): the overlay's
// lowerdir names the image's layer by the diff_id the engine has, a file written inside shows under
// upperdir, the process table pairs PID 1 inside with its host PID under a shim, a `docker exec -d`
// adds a row under a shim of its own, Refresh asks again, and no server directory is on the page.

import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionSnapshot } from '../../server/pictures/snapshot.ts';
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
let opened: OpenedPage | undefined;
const POLL = { timeout: 30_000, interval: 250 };

beforeAll(async () => {
  server = await startTestServer();
  browser = await launchBrowser();
});

afterAll(async () => {
  await opened?.close();
  await browser?.close();
  await server?.close();
});

describe('<HostView>', () => {
  it('draws the running container from the host, live', async () => {
    opened = await openPage(browser, `${server.url}/20-host-view/`);
    const { page, errors } = opened;
    const view = page.locator('layerlab-host-view');
    await focusTerminal(page, 'main');
    await expect.poll(() => view.innerText(), POLL).toContain('Start a container');

    await typeLine(page, 'docker run -d --name host-demo busybox sleep 3600');
    const lowers = view.locator('.ll-host__lower');
    await expect.poll(() => lowers.count(), { ...POLL, timeout: 120_000 }).toBe(2);
    expect(await lowers.nth(0).getAttribute('data-source')).toBe('init');
    // The image layer is named by the diff_id the session's snapshot has for busybox.
    const snap = (await page.evaluate(async () => (await fetch('/api/state')).json())) as SessionSnapshot;
    const busybox = snap.images.find((i) => i.repoTags.includes('busybox:latest'))!;
    expect(await lowers.nth(1).getAttribute('data-diffid')).toBe(busybox.layers[0]!.diffId);
    expect(await lowers.nth(1).innerText()).toContain(busybox.layers[0]!.diffId.slice(7, 19));

    const init = view.locator('.ll-host__proc[data-container-pid="1"]');
    await init.waitFor(POLL);
    const hostPid = Number(await init.getAttribute('data-host-pid'));
    expect(hostPid).toBeGreaterThan(1);
    const cells = await init.locator('td').allInnerTexts();
    expect(cells.slice(0, 4)).toEqual([String(hostPid), '1', '100000', '0']);
    expect(cells[4]).toContain('sleep 3600');
    // Its parent row is the shim, on the host as uid 0 with nothing inside.
    const rows = await view
      .locator('.ll-host__proc')
      .evaluateAll((els) =>
        els.map((e) => ({ role: e.getAttribute('data-role'), pid: e.getAttribute('data-host-pid') })),
      );
    expect(rows[0]?.role).toBe('shim');
    expect(rows[1]).toEqual({ role: 'container', pid: String(hostPid) });

    // The same host pid the engine reports for the container.
    await typeLine(page, "docker inspect -f 'PID={{.State.Pid}}' host-demo");
    await waitForTerminalText(page, 'main', new RegExp(`PID=${hostPid}`));

    await typeLine(page, "docker exec host-demo sh -c 'echo written > /from-inside.txt'");
    await expect
      .poll(() => view.locator('[data-upper] .ll-entry').allInnerTexts(), POLL)
      .toEqual([expect.stringContaining('/from-inside.txt')]);

    await typeLine(page, 'docker exec -d host-demo sleep 600');
    const exec = view.locator('.ll-host__proc', { hasText: 'sleep 600' });
    await exec.waitFor(POLL);
    expect(Number(await exec.getAttribute('data-container-pid'))).toBeGreaterThan(1);
    await expect.poll(() => view.locator('.ll-host__proc[data-role="shim"]').count(), POLL).toBe(2);

    const asked = Number(await view.getAttribute('data-asked'));
    await view.locator('[data-refresh]').click();
    await expect.poll(async () => Number(await view.getAttribute('data-asked')), POLL).toBeGreaterThan(asked);

    const text = await view.innerText();
    expect(text).toContain('<root>/layers/');
    expect(text).toContain('<root>/sessions/<session>/containers/');
    const html = await view.innerHTML();
    expect(html).not.toContain(server.root);
    expect(html).not.toContain('/run/layerlab');
    await screenshot(page, 'host-view');
    await view.screenshot({ path: join(SCREENSHOTS, 'host-view-card.png') });

    await focusTerminal(page, 'main'); // the Refresh click took the focus
    await typeLine(page, 'docker stop -t 0 host-demo');
    await expect
      .poll(() => view.locator('[data-not-running]').count(), POLL)
      .toBe(1)
      .catch(async (err: Error) => {
        throw new Error(
          `${err.message}\npicture: ${await view.innerText()}\nterminal: ${await terminalText(page, 'main')}`,
        );
      });
    expect(await view.locator('.ll-host__proc').count()).toBe(0);
    await typeLine(page, 'docker rm -f host-demo');
    await expect.poll(() => view.innerText(), POLL).toContain('Start a container');
    expect(errors).toEqual([]);
  }, 300_000);
});
