// A workshop across a cluster, on loopback: Redis, three `layerlab serve --cluster` nodes and HAProxy
// routing as the Kubernetes router does (its config rendered by deploy/cluster.ts). In real Chromium a
// teacher starts a workshop; six students join by the code through the router, land on more than one
// node, and pass a check; the dashboard shows all six whichever node answers it. Then the node with
// the most students is killed with SIGKILL: its students are told, re-seated on the other nodes within
// 10 s with their passed check kept, and no student ends up with another's seat or session.

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LoopbackCluster, startLoopbackCluster } from '../support/cluster.ts';
import {
  focusTerminal,
  launchBrowser,
  type OpenedPage,
  openPage,
  screenshot,
  typeLine,
  waitForTerminalText,
} from './support.ts';

const LESSON = '/start-here/';
const CHECK = 'start-here/first-container';
const NAMES = ['Ada', 'Brian', 'Cleo', 'Dev', 'Eun', 'Femi'];
const POLL = { timeout: 60_000, interval: 250 };

let cluster: LoopbackCluster;
let browser: Browser;
const opened: OpenedPage[] = [];

beforeAll(async () => {
  cluster = await startLoopbackCluster({ nodes: 3, maxSessions: 20 });
  browser = await launchBrowser();
}, 180_000);

afterAll(async () => {
  for (const p of opened) await p.close().catch(() => {});
  await browser?.close();
  await cluster?.stop();
}, 120_000);

async function open(path: string): Promise<OpenedPage> {
  const p = await openPage(browser, `${cluster.url}${path}`);
  opened.push(p);
  return p;
}

/** The node the router pins this browser to (the `layerlab_node` cookie the node set). */
async function nodeOf(p: OpenedPage): Promise<string | undefined> {
  return (await p.context.cookies()).find((c) => c.name === 'layerlab_node')?.value;
}

interface StudentView {
  you: { name: string };
  reset?: { scope: string; lesson: string };
}

/** What the student's own page is told about their seat (`/api/workshop/me`, as the page asks). */
function me(page: Page): Promise<StudentView | { status: number }> {
  return page.evaluate(async () => {
    const res = await fetch('/api/workshop/me', { credentials: 'same-origin' });
    return res.ok ? ((await res.json()) as StudentView) : { status: res.status };
  });
}

function row(teacher: Page, name: string) {
  return teacher.locator('#students tr', { has: teacher.locator('th', { hasText: name }) });
}

/** The dashboard's state as one node serves it, with the teacher's cookie. */
async function stateOn(nodeUrl: string, teacherCookie: string) {
  const res = await fetch(`${nodeUrl}/api/workshop/state`, { headers: { cookie: teacherCookie } });
  if (!res.ok) throw new Error(`${nodeUrl}/api/workshop/state: ${res.status}`);
  return (await res.json()) as {
    students: {
      name: string;
      node?: string;
      left?: string;
      session: string;
      checks: { lesson: string; check: string; pass: boolean }[];
    }[];
  };
}

/** The students present on one node's dashboard who passed the check. */
async function passedOn(nodeUrl: string, teacherCookie: string) {
  const state = await stateOn(nodeUrl, teacherCookie);
  return state.students.filter(
    (s) => s.left === undefined && s.checks.some((c) => `${c.lesson}/${c.check}` === CHECK && c.pass),
  );
}

describe('a workshop on a three-node cluster behind the router', () => {
  it('admits six students on several nodes, shows them on every node, and re-seats a killed node’s students with their progress', async () => {
    // The teacher starts the workshop from the browser (the admin password), then signs in.
    const teacher = await open('/teacher');
    const started = await teacher.page.evaluate(
      async ({ adminPassword, teacherPassword }) => {
        const res = await fetch('/api/workshop', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ adminPassword, teacherPassword, name: 'Cluster class', seats: 8 }),
        });
        return { status: res.status, body: (await res.json()) as { code: string } };
      },
      { adminPassword: cluster.adminPassword, teacherPassword: cluster.teacherPassword },
    );
    expect(started.status).toBe(201);
    const code = started.body.code;
    await teacher.page.goto(`${cluster.url}/teacher?code=${code}`);
    await teacher.page.fill('#password', cluster.teacherPassword);
    await Promise.all([
      teacher.page.waitForURL(`${cluster.url}/teacher/dashboard`),
      teacher.page.click('button[type=submit]'),
    ]);

    // Six students join by the code through the router and open the lesson.
    const students = new Map<string, OpenedPage>();
    for (const name of NAMES) {
      const p = await open(`/join/${code}`);
      await p.page.fill('#name', name);
      await Promise.all([p.page.waitForURL(`${cluster.url}/`), p.page.click('button[type=submit]')]);
      await p.page.goto(`${cluster.url}${LESSON}`);
      await expect
        .poll(() => p.page.locator('layerlab-terminal').first().getAttribute('data-status'), POLL)
        .toBe('live');
      students.set(name, p);
    }
    const nodeByStudent = new Map<string, string>();
    for (const [name, p] of students) {
      const node = await nodeOf(p);
      expect(node, `${name}'s node cookie`).toMatch(/^node-\d$/);
      nodeByStudent.set(name, node!);
    }
    expect(new Set(nodeByStudent.values()).size, 'nodes the students landed on').toBeGreaterThanOrEqual(2);

    // Each passes the lesson's first check in their own sandbox.
    for (const [name, p] of students) {
      const terminal = (await p.page.locator('layerlab-terminal').first().getAttribute('name'))!;
      // The terminal draws itself once it is on screen.
      await p.page.locator('layerlab-terminal').first().scrollIntoViewIfNeeded();
      await focusTerminal(p.page, terminal);
      await waitForTerminalText(p.page, terminal, /reader@layerlab:~\$/);
      await typeLine(p.page, `docker run --rm busybox echo "hello from ${name}"`);
      await waitForTerminalText(p.page, terminal, new RegExp(`^hello from ${name}$`, 'm'), 60_000);
      const check = p.page.locator('layerlab-check[data-id="first-container"] [data-check-button]');
      await check.click();
      await expect
        .poll(
          () => p.page.locator('layerlab-check[data-id="first-container"]').getAttribute('data-state'),
          POLL,
        )
        .toBe('pass');
    }

    // The dashboard shows all six, and so does every node, whichever one answers.
    for (const name of NAMES) {
      await expect.poll(() => row(teacher.page, name).count(), POLL).toBe(1);
      await expect.poll(() => row(teacher.page, name).locator('th').textContent(), POLL).toBe(name);
    }
    const teacherCookie = (await teacher.context.cookies())
      .filter((c) => c.name === 'layerlab_teacher')
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
    expect(teacherCookie).not.toBe('');
    for (const node of cluster.nodes) {
      await expect
        .poll(async () => (await passedOn(node.url, teacherCookie)).map((s) => s.name).sort(), POLL)
        .toEqual([...NAMES].sort());
    }
    await screenshot(teacher.page, 'cluster-dashboard');

    // The wall shows every student's terminal, whichever node holds it: a student on another node
    // than the teacher's types, and the tile shows it.
    const teacherNode = await nodeOf(teacher);
    const wall = await teacher.context.newPage();
    await wall.goto(`${cluster.url}/teacher/wall`);
    const tileOf = (name: string) => wall.locator('.tile', { has: wall.locator('h2', { hasText: name }) });
    for (const name of NAMES) await expect.poll(() => tileOf(name).count(), POLL).toBe(1);
    const elsewhere = NAMES.find((n) => nodeByStudent.get(n) !== teacherNode)!;
    const far = students.get(elsewhere)!.page;
    await focusTerminal(far, (await far.locator('layerlab-terminal').first().getAttribute('name'))!);
    await typeLine(far, `docker images --seen-on-the-wall-${elsewhere}`);
    await expect
      .poll(() => tileOf(elsewhere).locator('.xterm-rows').innerText(), POLL)
      .toMatch(new RegExp(`unknown flag: --seen-on-the-wall-${elsewhere}`));
    await wall.close();

    // The node holding the most students dies with SIGKILL.
    const counts = new Map<string, number>();
    for (const node of nodeByStudent.values()) counts.set(node, (counts.get(node) ?? 0) + 1);
    const victim = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    const moved = NAMES.filter((n) => nodeByStudent.get(n) === victim);
    const stayed = NAMES.filter((n) => nodeByStudent.get(n) !== victim);
    const killedAt = Date.now();
    await cluster.kill(victim);

    // Each of its students is told, and is live again on another node within 10 s.
    const seatedAfter = new Map<string, number>();
    await Promise.all(
      moved.map(async (name) => {
        const p = students.get(name)!;
        await expect
          .poll(() => p.page.locator('.ll-classroom__banner--reset').textContent(), {
            timeout: 10_000,
            interval: 100,
          })
          .toMatch(/The machine running your sandbox stopped/);
        await expect
          .poll(() => p.page.locator('layerlab-terminal').first().getAttribute('data-status'), {
            timeout: 10_000,
            interval: 100,
          })
          .toBe('live');
        seatedAfter.set(name, Date.now() - killedAt);
      }),
    );
    for (const name of moved) {
      expect(seatedAfter.get(name)!, `${name} re-seated after (ms)`).toBeLessThan(10_000);
      const node = await nodeOf(students.get(name)!);
      expect(node, `${name}'s new node`).not.toBe(victim);
      nodeByStudent.set(name, node!);
    }
    // Each moved page prepares its lesson's start again in the new sandbox, and no longer says its
    // old session was kept.
    for (const name of moved) {
      const start = students.get(name)!.page.locator('layerlab-lesson-start');
      await expect.poll(() => start.getAttribute('data-state'), POLL).toBe('ready');
      expect(await start.getAttribute('data-kept')).toBeNull();
    }
    const movedPage = students.get(moved[0]!)!.page;
    await screenshot(movedPage, 'cluster-reseated');
    // The same notice in the dark theme (Starlight's `data-theme`), then back.
    await movedPage.evaluate(() => {
      document.documentElement.dataset.theme = 'dark';
    });
    await screenshot(movedPage, 'cluster-reseated-dark');
    await movedPage.evaluate(() => {
      document.documentElement.dataset.theme = 'light';
    });

    // No one is mixed up: every page's seat is its own, sessions are all different, the moved ones'
    // checks are kept, and the students who stayed were not touched.
    const sessions = new Set<string>();
    for (const [name, p] of students) {
      const view = await me(p.page);
      expect(view, `${name}'s seat`).toMatchObject({ you: { name } });
      const isMoved = moved.includes(name);
      if (isMoved) expect((view as StudentView).reset).toMatchObject({ scope: 'node', lesson: 'start-here' });
      else expect((view as StudentView).reset).toBeUndefined();
    }
    const living = cluster.nodes.filter((n) => n.id !== victim);
    for (const node of living) {
      await expect
        .poll(
          async () => (await passedOn(node.url, teacherCookie)).map((s) => `${s.name}@${s.node}`).sort(),
          POLL,
        )
        .toEqual(NAMES.map((n) => `${n}@${nodeByStudent.get(n)}`).sort());
    }
    const state = await stateOn(living[0]!.url, teacherCookie);
    for (const s of state.students) sessions.add(s.session);
    expect(sessions.size).toBe(NAMES.length);
    expect(stayed.length + moved.length).toBe(NAMES.length);

    // A moved student's new sandbox works: their terminal runs a container on the new node.
    const mover = students.get(moved[0]!)!.page;
    const terminal = (await mover.locator('layerlab-terminal').first().getAttribute('name'))!;
    await mover.locator('layerlab-terminal').first().scrollIntoViewIfNeeded();
    await focusTerminal(mover, terminal);
    await waitForTerminalText(mover, terminal, /reader@layerlab:~\$/);
    await typeLine(mover, 'docker run --rm busybox echo "still here"');
    await waitForTerminalText(mover, terminal, /^still here$/m, 60_000);

    // The dashboard followed: all six rows, none gone.
    for (const name of NAMES) {
      await expect.poll(() => row(teacher.page, name).locator('th').textContent(), POLL).toBe(name);
    }
  }, 600_000);
});
