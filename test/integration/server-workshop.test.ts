// Classroom mode against a real server, real sessions, real terminals and containers: joining with
// cookies, names, teacher sign-in, the dashboard's progress, reset, ending a workshop, admission
// control, and the teacher's read-only view of a student's terminal.

import { existsSync, readdirSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freemem } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { mountsUnder } from '../../engine/host/mounts.ts';
import { evaluateCondition } from '../../server/checks/evaluate.ts';
import { parseCheck } from '../../server/checks/schema.ts';
import { decodeTerminalFrame } from '../../server/protocol.ts';
import { workshopPlugin } from '../../server/workshop/plugin.ts';
import type { WorkshopService } from '../../server/workshop/service.ts';
import type { WorkshopState } from '../../server/workshop/workshop.ts';
import {
  openShell,
  runInShell,
  startTestServer,
  type TestClient,
  type TestServer,
} from '../support/server.ts';

const TEACHER_PASSWORD = 'chalk-and-cheese';
const ADMIN_PASSWORD = 'the-admin-secret';

let srv: TestServer;
let service: WorkshopService;
let code: string;
/** When set, the machine reads as having this little free memory. */
let lowMemory: number | undefined;

beforeAll(async () => {
  srv = await startTestServer({
    plugins: [
      workshopPlugin({
        name: 'Images 101',
        seats: 30,
        teacherPassword: TEACHER_PASSWORD,
        adminPassword: ADMIN_PASSWORD,
        // This file's readers (a stranger's session) are let in; the boundary has tests of its own.
        readers: true,
        out: () => {},
        load: async () => ({
          sessions: srv.server.sessions.count,
          runningContainers: 0,
          freeMemoryBytes: lowMemory ?? freemem(),
        }),
        onReady: (s) => {
          service = s;
        },
      }),
    ],
  });
  code = service.workshops.active()[0]!.code;
});

afterAll(async () => {
  service?.close();
  await srv?.close();
});

interface Joined {
  status: number;
  body: { redirect?: string; session?: string; name?: string; error?: { code: string; message: string } };
  cookie: string;
  token: string;
  headers: Headers;
}

async function join(joinCode: string, name: unknown, cookie?: string): Promise<Joined> {
  const res = await fetch(`${srv.url}/join/${joinCode}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: srv.url, ...(cookie ? { cookie } : {}) },
    body: JSON.stringify({ name }),
  });
  const setCookie = res.headers.get('set-cookie') ?? '';
  const pair = setCookie.split(';')[0] ?? '';
  return {
    status: res.status,
    body: (await res.json()) as Joined['body'],
    cookie: pair,
    token: decodeURIComponent(pair.split('=')[1] ?? ''),
    headers: res.headers,
  };
}

async function teacherLogin(joinCode: string, password: string): Promise<{ status: number; cookie: string }> {
  const res = await fetch(`${srv.url}/teacher/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: srv.url },
    body: JSON.stringify({ code: joinCode, password }),
  });
  await res.body?.cancel();
  return { status: res.status, cookie: (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '' };
}

async function state(cookie: string): Promise<WorkshopState> {
  const res = await fetch(`${srv.url}/api/workshop/state`, { headers: { cookie } });
  expect(res.status).toBe(200);
  return (await res.json()) as WorkshopState;
}

async function teacherPost(cookie: string, path: string, body: unknown) {
  const res = await fetch(`${srv.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: srv.url, cookie },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A workshop of its own, started over HTTP with the admin password. */
async function startWorkshop(
  name: string,
  seats: number,
): Promise<{ code: string; teacherPassword: string }> {
  const res = await fetch(`${srv.url}/api/workshop`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: srv.url },
    body: JSON.stringify({ adminPassword: ADMIN_PASSWORD, name, seats }),
  });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { code: string; teacherPassword: string; joinUrl: string };
  expect(body.joinUrl).toBe(`${srv.url}/join/${body.code}`);
  return body;
}

describe('joining', () => {
  it('serves the join form, sets the session cookie and sends the student to the lessons', async () => {
    const page = await fetch(`${srv.url}/join/${code.toLowerCase()}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Images 101');
    expect(html).toContain('<label for="name">');

    const joined = await join(code, 'Ada');
    expect(joined.status).toBe(200);
    expect(joined.body).toMatchObject({ redirect: '/', name: 'Ada' });
    expect(joined.cookie).toMatch(/^layerlab_session=/);
    expect(joined.headers.get('set-cookie')).toMatch(/HttpOnly/);

    // The cookie is a real session: the API and the WebSocket know it, and welcome names the workshop.
    const again = await fetch(`${srv.url}/api/session`, { headers: { cookie: joined.cookie } });
    expect(((await again.json()) as { session: string }).session).toBe(joined.body.session);
    const client = await srv.connect(joined.token, { cookie: true });
    expect(client.messages[0]).toMatchObject({ type: 'welcome', workshop: { name: 'Images 101', code } });
    await client.close();

    // Coming back to the join link with the cookie goes straight to the lessons.
    const back = await fetch(`${srv.url}/join/${code}`, {
      headers: { cookie: joined.cookie },
      redirect: 'manual',
    });
    expect(back.status).toBe(303);
    expect(back.headers.get('location')).toBe('/');
  });

  it('validates display names and de-duplicates them', async () => {
    for (const bad of ['', '   ', 'x'.repeat(41), 'bell\u0007', 'bidi\u202Etrick', 42]) {
      const res = await join(code, bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.error?.code).toBe('invalid_name');
    }
    const first = await join(code, '  Grace  Hopper ');
    expect(first.body.name).toBe('Grace Hopper');
    const second = await join(code, 'grace hopper');
    expect(second.body.name).toBe('grace hopper (2)');
    expect(second.body.session).not.toBe(first.body.session);
  });

  it('answers an unknown code with a clear 404 page', async () => {
    const res = await fetch(`${srv.url}/join/ZZZZZZ`);
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('No such workshop');
  });
});

describe('teacher', () => {
  it('signs in with the right password only, and the dashboard needs it', async () => {
    expect((await teacherLogin(code, 'wrong-password')).status).toBe(401);
    expect((await teacherLogin('ZZZZZZ', TEACHER_PASSWORD)).status).toBe(401);
    const noAuth = await fetch(`${srv.url}/teacher/dashboard`, { redirect: 'manual' });
    expect(noAuth.status).toBe(303);
    expect(noAuth.headers.get('location')).toBe('/teacher');
    expect((await fetch(`${srv.url}/api/workshop/state`)).status).toBe(401);

    const login = await teacherLogin(code, TEACHER_PASSWORD);
    expect(login.status).toBe(200);
    expect(login.cookie).toMatch(/^layerlab_teacher=/);
    const dash = await fetch(`${srv.url}/teacher/dashboard`, { headers: { cookie: login.cookie } });
    expect(dash.status).toBe(200);
    expect(dash.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await dash.text()).toContain(`/join/${code}`);
    // A student's cookie is not a teacher's.
    const student = await join(code, 'Not A Teacher');
    expect(
      (await fetch(`${srv.url}/api/workshop/state`, { headers: { cookie: student.cookie } })).status,
    ).toBe(401);
  });

  it("shows a student's passed check after the student's session passes it on real state", async () => {
    const student = await join(code, 'Linus');
    const teacher = await teacherLogin(code, TEACHER_PASSWORD);
    const client = await srv.connect(student.token, { cookie: true });
    const channel = await openShell(client);
    await runInShell(
      client,
      channel,
      "docker run busybox sh -c 'echo hi > /hello.txt; echo done-$((40+2))'",
      '\r\ndone-42',
    );

    const session = srv.server.sessions.get(student.body.session!)!;
    const parsed = parseCheck({ kind: 'container', image: 'busybox', diff: { has: ['/hello.txt'] } });
    if (!parsed.ok) throw new Error(parsed.message);
    const result = await evaluateCondition(session.ctx, parsed.check);
    expect(result.pass).toBe(true);
    // What the server's check hook does with a lesson step's result.
    expect(
      service.recordProgress(session.id, { lesson: 'first-container', check: 'hello', pass: result.pass }),
    ).toBe(true);

    // The shell reports the command when it finishes, just after its output.
    let seen: WorkshopState['students'][number] | undefined;
    for (let i = 0; i < 100 && !seen?.lastCommand; i++) {
      seen = (await state(teacher.cookie)).students.find((s) => s.session === session.id);
      if (!seen?.lastCommand) await new Promise((r) => setTimeout(r, 50));
    }
    expect(seen?.checks).toEqual([
      expect.objectContaining({ lesson: 'first-container', check: 'hello', pass: true, attempts: 1 }),
    ]);
    expect(seen?.terminals).toEqual(['main']);
    expect(seen?.lastCommand).toMatchObject({ command: expect.stringContaining('/hello.txt'), exitCode: 0 });
    await client.close();
  });

  it("resets a student: that student's containers go, another's stay", async () => {
    const a = await join(code, 'Reset Me');
    const b = await join(code, 'Keep Me');
    const teacher = await teacherLogin(code, TEACHER_PASSWORD);
    for (const s of [a, b]) {
      const client = await srv.connect(s.token, { cookie: true });
      const channel = await openShell(client);
      await runInShell(client, channel, 'docker create --name box busybox true', /\r\n[0-9a-f]{64}\r\n/);
      await client.close();
    }
    const containersOf = (id: string) =>
      existsSync(`${srv.server.sessions.get(id)!.root}/containers`)
        ? readdirCount(`${srv.server.sessions.get(id)!.root}/containers`)
        : 0;
    expect(containersOf(a.body.session!)).toBe(1);
    // A reset goes back to a lesson's start (here named, as the student has opened none).
    const res = await teacherPost(teacher.cookie, '/api/workshop/reset-student', {
      session: a.body.session,
      lesson: '04-writable-layer',
    });
    expect(res.status).toBe(200);
    expect(containersOf(a.body.session!)).toBe(0);
    expect(containersOf(b.body.session!)).toBe(1);
    expect((await state(teacher.cookie)).students.find((s) => s.session === a.body.session)?.resets).toBe(1);
  });

  it('refuses a reset of a session that is not its student', async () => {
    const teacher = await teacherLogin(code, TEACHER_PASSWORD);
    const stranger = await srv.newSession();
    const res = await teacherPost(teacher.cookie, '/api/workshop/reset-student', {
      session: stranger.session,
    });
    expect(res.status).toBe(404);
  });
});

function readdirCount(dir: string): number {
  return readdirSync(dir).length;
}

describe('read-only terminal view', () => {
  let watchHttp: Server;
  let watchUrl: string;

  beforeAll(async () => {
    // The watch socket's upgrade handler on its own loopback listener, with the real sessions.
    watchHttp = createHttpServer((_req, res) => res.writeHead(404).end());
    watchHttp.on('upgrade', (req, socket, head) => {
      if (!service.handleUpgrade(req, socket, head)) socket.destroy();
    });
    await new Promise<void>((r) => watchHttp.listen(0, '127.0.0.1', r));
    watchUrl = `ws://127.0.0.1:${(watchHttp.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    watchHttp.closeAllConnections();
    await new Promise((r) => watchHttp.close(r));
  });

  function watch(session: string, terminal: string, cookie?: string, origin?: string) {
    const url = `${watchUrl}/teacher/watch/${session}/${terminal}/ws`;
    const ws = new WebSocket(url, {
      headers: cookie ? { cookie } : {},
      origin: origin ?? watchUrl.replace(/^ws/, 'http'),
    });
    const json: Record<string, unknown>[] = [];
    let output = '';
    ws.on('message', (data, binary) => {
      const buf = data as Buffer;
      if (binary) output += decodeTerminalFrame(buf)?.payload.toString('utf8') ?? '';
      else json.push(JSON.parse(buf.toString('utf8')) as Record<string, unknown>);
    });
    const status = new Promise<number>((resolve) => {
      ws.on('open', () => resolve(101));
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(0));
    });
    return { ws, json, output: () => output, status };
  }

  async function until(probe: () => boolean, what: string, timeoutMs = 15_000) {
    const end = Date.now() + timeoutMs;
    while (!probe()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it("receives the replay and live output, and its input never reaches the student's shell", async () => {
    const student = await join(code, 'Watched');
    const teacher = await teacherLogin(code, TEACHER_PASSWORD);
    const client = await srv.connect(student.token, { cookie: true });
    const channel = await openShell(client);
    await runInShell(
      client,
      channel,
      "docker run --rm busybox sh -c 'echo before-$((1+1))'",
      '\r\nbefore-2',
      30_000,
    );

    const w = watch(student.body.session!, 'main', teacher.cookie);
    expect(await w.status).toBe(101);
    await until(() => w.json.some((m) => m.type === 'watch.opened'), 'watch.opened');
    expect(String(w.json.find((m) => m.type === 'watch.opened')?.replay)).toContain('before-2');

    client.send({
      type: 'terminal.run',
      terminal: 'main',
      command: "docker run --rm busybox sh -c 'echo live-$((2+3))'",
    });
    await until(() => w.output().includes('\r\nlive-5'), 'live output');

    // The watcher types; the shell never sees it, and the watcher is told the view is read-only.
    w.ws.send(Buffer.from([0, ...Buffer.from("docker run --rm busybox sh -c 'echo intruder-$((6*7))'\r")]));
    w.ws.send(
      JSON.stringify({
        type: 'terminal.run',
        terminal: 'main',
        command: "docker run --rm busybox sh -c 'echo intruder-$((6*7))'",
      }),
    );
    await until(() => w.json.filter((m) => m.code === 'read_only').length === 2, 'read_only errors');
    await runInShell(
      client,
      channel,
      "docker run --rm busybox sh -c 'echo after-$((3+4))'",
      '\r\nafter-7',
      30_000,
    );
    expect(client.output(channel)).not.toContain('intruder');
    expect(client.output(channel)).not.toContain('-42');
    w.ws.close();
    await client.close();
  });

  it('renders the screen as text for the watch page', async () => {
    const student = await join(code, 'Watched As Text');
    const teacher = await teacherLogin(code, TEACHER_PASSWORD);
    const client = await srv.connect(student.token, { cookie: true });
    const channel = await openShell(client);
    const ws = new WebSocket(`${watchUrl}/teacher/watch/${student.body.session}/main/ws?view=text`, {
      headers: { cookie: teacher.cookie },
      origin: watchUrl.replace(/^ws/, 'http'),
    });
    const screens: string[] = [];
    ws.on('message', (data, binary) => {
      const m = JSON.parse((data as Buffer).toString('utf8')) as { type: string; lines?: string[] };
      if (!binary && m.type === 'watch.screen') screens.push((m.lines ?? []).join('\n'));
    });
    await new Promise((r) => ws.once('open', r));
    await runInShell(
      client,
      channel,
      "docker run --rm busybox sh -c 'echo text-$((5+5))'",
      '\r\ntext-10',
      30_000,
    );
    await until(() => screens.some((s) => /^text-10$/m.test(s)), 'a rendered screen');
    ws.close();
    await client.close();
  });

  it('refuses watchers without the teacher cookie, from another origin, or for another workshop', async () => {
    const student = await join(code, 'Private');
    const client = await srv.connect(student.token, { cookie: true });
    await openShell(client);
    const teacher = await teacherLogin(code, TEACHER_PASSWORD);
    expect(await watch(student.body.session!, 'main').status).toBe(401);
    expect(await watch(student.body.session!, 'main', `layerlab_session=${student.token}`).status).toBe(401);
    expect(await watch(student.body.session!, 'main', teacher.cookie, 'http://evil.example').status).toBe(
      403,
    );
    expect(await watch(student.body.session!, 'nope', teacher.cookie).status).toBe(404);
    const other = await startWorkshop('Other class', 5);
    const otherTeacher = await teacherLogin(other.code, other.teacherPassword);
    expect(otherTeacher.status).toBe(200);
    expect(await watch(student.body.session!, 'main', otherTeacher.cookie).status).toBe(404);
    await client.close();
  });
});

describe('admission', () => {
  it('fills at the seat limit: the third of 2 seats gets "full" at once, with Retry-After', async () => {
    const small = await startWorkshop('Small class', 2);
    const joins = await Promise.all(['One', 'Two', 'Three'].map((n) => join(small.code, n)));
    const statuses = joins.map((j) => j.status).sort();
    expect(statuses).toEqual([200, 200, 503]);
    const refused = joins.find((j) => j.status === 503)!;
    expect(refused.body.error?.message).toMatch(/This workshop is full/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.cookie).toBe('');

    const page = await fetch(`${srv.url}/join/${small.code}`);
    expect(page.status).toBe(503);
    expect(page.headers.get('retry-after')).toBeTruthy();
    expect(await page.text()).toContain('This workshop is full');
  });

  it('turns students and new readers away while the machine is full, and admits again after', async () => {
    lowMemory = 1024;
    try {
      const refused = await join(code, 'Too Late');
      expect(refused.status).toBe(503);
      expect(refused.body.error?.message).toMatch(/full/);
      const reader = await fetch(`${srv.url}/api/session`);
      expect(reader.status).toBe(503);
    } finally {
      lowMemory = undefined;
    }
    expect((await join(code, 'On Time')).status).toBe(200);
  });
});

describe('ending the workshop', () => {
  it('destroys every sandbox, closes students’ sockets and refuses later joins', async () => {
    const w = await startWorkshop('Ending class', 5);
    const students = [await join(w.code, 'Eve'), await join(w.code, 'Mallory')];
    const roots: string[] = [];
    const clients: TestClient[] = [];
    for (const s of students) {
      const session = srv.server.sessions.get(s.body.session!)!;
      roots.push(session.root);
      const client = await srv.connect(s.token, { cookie: true });
      const channel = await openShell(client);
      await runInShell(client, channel, 'docker run -d busybox sleep 600', /\r\n[0-9a-f]{64}\r\n/);
      clients.push(client);
    }
    expect(mountsUnder(roots[0]!).length).toBeGreaterThan(0);
    const teacher = await teacherLogin(w.code, w.teacherPassword);
    const res = await teacherPost(teacher.cookie, '/api/workshop/end', {});
    expect(res.status).toBe(200);
    expect(res.body.destroyed).toBe(2);

    for (const [i, root] of roots.entries()) {
      expect(existsSync(root)).toBe(false);
      expect(mountsUnder(root)).toEqual([]);
      expect(srv.server.sessions.get(students[i]!.body.session!)).toBeUndefined();
      expect((await clients[i]!.closed).code).toBe(4000);
    }
    const later = await join(w.code, 'Latecomer');
    expect(later.status).toBe(410);
    expect(later.body.error?.message).toMatch(/ended/);
    const page = await fetch(`${srv.url}/join/${w.code}`);
    expect(page.status).toBe(410);
    expect(await page.text()).toContain('This workshop has ended');
    // The dashboard still shows what the class did.
    const final = await state(teacher.cookie);
    expect(final.ended).toBeDefined();
    expect(final.students.map((s) => s.name).sort()).toEqual(['Eve', 'Mallory']);
  });
});
