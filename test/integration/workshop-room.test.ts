// Running the room against a real server, real sessions and a real shell: the teacher's message and
// "everyone to lesson N" on each student's page (pushed to the socket, kept for a reload, dismissed
// per student), the pause (input dropped, Run refused, a student joining mid-pause held too, all
// undone on resume), raised hands on the dashboard, a reset of one student or the class to a lesson's
// start with a notice of what went, the wall's coalesced read-only watch, and the join link from
// `--public-url` with a QR code that decodes to it.

import jsqr from 'jsqr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ClassroomView } from '../../server/workshop/classroom.ts';
import type { WorkshopService } from '../../server/workshop/service.ts';
import type { WorkshopState } from '../../server/workshop/workshop.ts';
import { openShell, runInShell, type TestClient, type TestServer } from '../support/server.ts';
import { startWorkshopServer } from '../support/workshop.ts';

const TEACHER_PASSWORD = 'chalk-and-cheese';
const PUBLIC_URL = 'http://class.example.org:8443';
const LESSON = '04-writable-layer';

let srv: TestServer;
let service: WorkshopService;
let code: string;
let teacher: string;

beforeAll(async () => {
  ({ srv, service, code } = await startWorkshopServer(
    { name: 'Room class', seats: 10, teacherPassword: TEACHER_PASSWORD, readers: false },
    { server: { limits: { maxSessions: 30 }, publicUrls: [PUBLIC_URL] } },
  ));
  const res = await fetch(`${srv.url}/teacher/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: srv.url },
    body: JSON.stringify({ code, password: TEACHER_PASSWORD }),
  });
  expect(res.status).toBe(200);
  teacher = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
});

afterAll(async () => {
  service?.close();
  await srv?.close();
});

interface Student {
  id: string;
  session: string;
  name: string;
  cookie: string;
  client: TestClient;
  channel: number;
}

const students: Student[] = [];

async function join(name: string): Promise<Student> {
  const res = await fetch(`${srv.url}/join/${code}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: srv.url },
    body: JSON.stringify({ name }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { student: string; name: string; session: string };
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const client = await srv.connect(decodeURIComponent(cookie.split('=')[1] ?? ''), { cookie: true });
  const channel = await openShell(client);
  const student = { id: body.student, session: body.session, name: body.name, cookie, client, channel };
  students.push(student);
  return student;
}

afterAll(async () => {
  for (const s of students) await s.client.close().catch(() => {});
});

async function post(path: string, cookie: string, body: unknown) {
  const res = await fetch(`${srv.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: srv.url, cookie },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function me(s: Student): Promise<ClassroomView> {
  const res = await fetch(`${srv.url}/api/workshop/me`, { headers: { cookie: s.cookie } });
  expect(res.status).toBe(200);
  return (await res.json()) as ClassroomView;
}

async function dashboard(): Promise<WorkshopState> {
  const res = await fetch(`${srv.url}/api/workshop/state`, { headers: { cookie: teacher } });
  expect(res.status).toBe(200);
  return (await res.json()) as WorkshopState;
}

/** The next room view pushed to this student's socket that satisfies `ok`. */
async function pushed(s: Student, ok: (view: ClassroomView) => boolean): Promise<ClassroomView> {
  const m = await s.client.next(
    'event',
    (e) => e.event.type === 'workshop.classroom' && ok((e.event as unknown as { view: ClassroomView }).view),
    30_000,
  );
  return (m.event as unknown as { view: ClassroomView }).view;
}

describe("a student's view of the room", () => {
  it("names the workshop and the student, and is only a joined student's", async () => {
    const ada = await join('Ada');
    expect(await me(ada)).toEqual({
      workshop: { name: 'Room class', ended: false },
      you: { name: 'Ada' },
      paused: false,
    });
    const reader = await fetch(`${srv.url}/api/workshop/me`);
    expect(reader.status).toBe(401);
    // The old per-visit route is gone: the `visit` request replaced it.
    const visit = await fetch(`${srv.url}/api/workshop/visit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: srv.url, cookie: ada.cookie },
      body: JSON.stringify({ lesson: LESSON }),
    });
    expect([404, 405]).toContain(visit.status);
  });

  it('shows the teacher’s message to everyone until each dismisses it, across a reload', async () => {
    const ada = students[0]!;
    const brian = await join('Brian');
    const sent = await post('/api/workshop/broadcast', teacher, {
      text: 'Stop typing and look up\u0007 please',
    });
    expect(sent.status).toBe(200);
    const seen = await pushed(ada, (v) => v.broadcast !== undefined);
    expect(seen.broadcast?.text).toBe('Stop typing and look up please');
    await pushed(brian, (v) => v.broadcast?.id === seen.broadcast?.id);
    // A reload reads it again.
    expect((await me(ada)).broadcast?.id).toBe(seen.broadcast?.id);
    // Ada closes it: gone for her, still there for Brian.
    const closed = await post('/api/workshop/me/dismiss', ada.cookie, { id: seen.broadcast?.id });
    expect(closed.body.broadcast).toBeUndefined();
    expect((await me(ada)).broadcast).toBeUndefined();
    expect((await me(brian)).broadcast?.text).toBe('Stop typing and look up please');
    expect((await dashboard()).broadcast?.text).toBe('Stop typing and look up please');
    // Only the teacher broadcasts.
    expect((await post('/api/workshop/broadcast', ada.cookie, { text: 'hi all' })).status).toBe(401);
    // A new message is shown again, also to Ada; an empty one takes it down.
    await post('/api/workshop/broadcast', teacher, { text: 'Lesson 4 now' });
    expect((await me(ada)).broadcast?.text).toBe('Lesson 4 now');
    await post('/api/workshop/broadcast', teacher, { text: '   ' });
    await pushed(brian, (v) => v.broadcast === undefined);
    expect((await dashboard()).broadcast).toBeUndefined();
  });

  it('sends everyone to a lesson with a banner and a link, not a forced move', async () => {
    const [ada, brian] = students as [Student, Student];
    expect((await post('/api/workshop/call', teacher, { lesson: 'no-such-lesson' })).status).toBe(400);
    expect((await post('/api/workshop/call', teacher, { lesson: LESSON })).status).toBe(200);
    const view = await pushed(brian, (v) => v.call !== undefined);
    expect(view.call).toMatchObject({
      lesson: LESSON,
      order: 4,
      title: "The container's writable layer",
      href: `/${LESSON}/`,
    });
    expect((await me(ada)).call?.href).toBe(`/${LESSON}/`);
    await post('/api/workshop/call', teacher, { lesson: null });
    expect((await me(ada)).call).toBeUndefined();
  });
});

describe('pausing the class', () => {
  it('drops typed input and refuses Run until the teacher resumes, for a student who joins mid-pause too', async () => {
    const [ada] = students as [Student];
    expect((await post('/api/workshop/pause', teacher, { paused: true })).status).toBe(200);
    expect((await pushed(ada, (v) => v.paused)).paused).toBe(true);
    expect((await dashboard()).paused).toBeDefined();

    ada.client.send({ type: 'terminal.run', terminal: 'main', command: 'echo ran-while-paused', id: 'p1' });
    expect(await ada.client.next('terminal.ran', (m) => m.id === 'p1')).toMatchObject({
      status: 'refused',
      reason: 'paused',
    });
    ada.client.sendInput(ada.channel, 'echo typed-while-paused\r');

    // Cleo joins while the class is paused: her terminal is held as well.
    const cleo = await join('Cleo');
    expect((await me(cleo)).paused).toBe(true);
    cleo.client.send({ type: 'terminal.run', terminal: 'main', command: 'echo cleo', id: 'c1' });
    expect(await cleo.client.next('terminal.ran', (m) => m.id === 'c1')).toMatchObject({ reason: 'paused' });

    expect((await post('/api/workshop/pause', teacher, { paused: false })).status).toBe(200);
    await pushed(ada, (v) => !v.paused);
    ada.client.send({ type: 'terminal.run', terminal: 'main', command: 'echo after-resume', id: 'p2' });
    await ada.client.next('terminal.ran', (m) => m.id === 'p2' && m.status === 'done', 60_000);
    const out = await ada.client.waitForOutput(ada.channel, /after-resume/);
    // What was typed or run during the pause never reached the shell, before or after the resume.
    expect(out).not.toContain('typed-while-paused');
    expect(out).not.toContain('ran-while-paused');
    expect((await me(cleo)).paused).toBe(false);
  });
});

describe('raised hands', () => {
  it('shows a raised hand with its time on the dashboard, and the teacher can lower it', async () => {
    const [, brian] = students as [Student, Student];
    const raised = await post('/api/workshop/me/hand', brian.cookie, { raised: true });
    expect(raised.status).toBe(200);
    expect(typeof raised.body.hand).toBe('string');
    const onDashboard = (await dashboard()).students.find((s) => s.id === brian.id);
    expect(onDashboard?.hand).toBe(raised.body.hand);
    expect((await post('/api/workshop/lower-hand', teacher, { student: brian.id })).status).toBe(200);
    expect((await pushed(brian, (v) => v.hand === undefined)).hand).toBeUndefined();
    expect((await dashboard()).students.find((s) => s.id === brian.id)?.hand).toBeUndefined();
    expect((await post('/api/workshop/me/hand', brian.cookie, { raised: 'yes' })).status).toBe(400);
  });
});

describe("resetting to a lesson's start", () => {
  it('resets one student to the start of the lesson they are on and tells them what went', async () => {
    const [ada, brian] = students as [Student, Student];
    await post('/api/visit', ada.cookie, { lesson: LESSON });
    await runInShell(
      ada.client,
      ada.channel,
      'docker create --name mine busybox true',
      /\r\n[0-9a-f]{64}\r\n/,
    );
    ada.client.send({ type: 'terminal.run', terminal: 'main', command: 'docker tag busybox ada/kept:v1' });
    const listed = 'docker images --format "{{.Repository}}:{{.Tag}}" ada/kept';
    await runInShell(ada.client, ada.channel, listed, /\r\nada\/kept:v1\r\n/);
    await runInShell(
      brian.client,
      brian.channel,
      'docker create --name his busybox true',
      /\r\n[0-9a-f]{64}\r\n/,
    );

    const res = await post('/api/workshop/reset-student', teacher, { student: ada.id });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      scope: 'student',
      lesson: LESSON,
      removedContainers: ['mine (busybox)'],
      removedImages: ['ada/kept:v1'],
    });
    const notice = (await pushed(ada, (v) => v.reset !== undefined)).reset;
    expect(notice).toMatchObject({
      scope: 'student',
      lesson: LESSON,
      order: 4,
      title: "The container's writable layer",
      removedContainers: ['mine (busybox)'],
    });
    // Brian's sandbox was not touched, and he got no notice.
    expect((await me(brian)).reset).toBeUndefined();
    const ps = await runInShell(brian.client, brian.channel, 'docker ps -a --format "{{.Names}}"', /his\r\n/);
    expect(ps).toContain('his');
    // Ada's notice stays across a reload until she closes it.
    expect((await me(ada)).reset?.id).toBe(notice?.id);
    await post('/api/workshop/me/dismiss', ada.cookie, { id: notice?.id });
    expect((await me(ada)).reset).toBeUndefined();
    expect((await dashboard()).students.find((s) => s.id === ada.id)?.resets).toBe(1);
  });

  it('asks which lesson when the student has opened none, and resets the whole class when told', async () => {
    const cleo = students[2]!;
    const refused = await post('/api/workshop/reset-student', teacher, { student: cleo.id });
    expect(refused.status).toBe(400);
    expect(String((refused.body.error as { message: string }).message)).toMatch(/Say which lesson/);
    expect((await post('/api/workshop/reset-class', teacher, {})).status).toBe(400);

    const res = await post('/api/workshop/reset-class', teacher, { lesson: LESSON });
    expect(res.status).toBe(200);
    const done = res.body.students as { name: string; scope: string; removedContainers: string[] }[];
    expect(done.map((d) => d.name).sort()).toEqual(['Ada', 'Brian', 'Cleo']);
    expect(done.every((d) => d.scope === 'class')).toBe(true);
    expect(done.find((d) => d.name === 'Brian')?.removedContainers).toEqual(['his (busybox)']);
    for (const s of students) expect((await me(s)).reset).toMatchObject({ scope: 'class', lesson: LESSON });
  });
});

describe('the wall of terminals', () => {
  it("streams a student's terminal read-only, coalesced, to the teacher", async () => {
    const [ada] = students as [Student];
    const url = `${srv.url.replace(/^http/, 'ws')}/teacher/watch/${ada.session}/main/ws?view=wall`;
    const ws = new WebSocket(url, { headers: { cookie: teacher }, origin: srv.url });
    const frames: Buffer[] = [];
    const json: { type: string }[] = [];
    ws.on('message', (data, binary) => {
      if (binary) frames.push(Buffer.from(data as Buffer).subarray(1));
      else json.push(JSON.parse(String(data)));
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const seen = () => Buffer.concat(frames).toString('utf8');
    await expect.poll(() => json.some((m) => m.type === 'watch.opened'), { timeout: 10_000 }).toBe(true);
    ada.client.send({
      type: 'terminal.run',
      terminal: 'main',
      command: 'docker ps --wall-can-see-this',
      id: 'w1',
    });
    await ada.client.next('terminal.ran', (m) => m.id === 'w1' && m.status === 'done', 60_000);
    await expect.poll(seen, { timeout: 10_000, interval: 50 }).toMatch(/unknown flag: --wall-can-see-this/);
    // The shell echoed the line key by key and ran it: on the wall that is a few frames, not dozens.
    expect(frames.length).toBeLessThan(10);
    // Typing on the wall reaches nobody: the watcher is told it is read-only.
    ws.send('rm -rf /\r');
    await expect.poll(() => json.some((m) => m.type === 'error'), { timeout: 10_000 }).toBe(true);
    expect(ada.client.output(ada.channel)).not.toContain('rm -rf');
    ws.close();
  });
});

describe('joining by link and QR code', () => {
  it('shows the join link under --public-url and a QR code of it', async () => {
    const res = await fetch(`${srv.url}/teacher/dashboard`, { headers: { cookie: teacher } });
    expect(res.status).toBe(200);
    const html = await res.text();
    const joinUrl = `${PUBLIC_URL}/join/${code}`;
    expect(html).toContain(`href="${joinUrl}"`);
    const svg = /<div class="qr" id="join-qr"[^>]*>(<svg[\s\S]*?<\/svg>)/.exec(html)?.[1];
    expect(svg).toBeDefined();
    expect(decodeQrSvg(svg ?? '')).toBe(joinUrl);
  });
});

/**
 * Decodes the qrcode library's SVG: its dark modules are one path of horizontal runs
 * (`M x y h n`, relative `m dx dy h n`) on a grid in `viewBox` units. Rasterised here at 8 px a module
 * and read back by jsQR, a decoder that knows nothing of how the code was made.
 */
function decodeQrSvg(svg: string): string | undefined {
  const size = Number(/viewBox="0 0 (\d+) \d+"/.exec(svg)?.[1]);
  const d = /<path[^>]*stroke="#000000"[^>]*d="([^"]+)"/.exec(svg)?.[1] ?? '';
  const scale = 8;
  const px = size * scale;
  const rgba = new Uint8ClampedArray(px * px * 4).fill(255);
  let x = 0;
  let y = 0;
  for (const [, cmd, args] of d.matchAll(/([MmHhVv])([^MmHhVv]*)/g)) {
    const n = (args ?? '')
      .trim()
      .split(/[\s,]+/)
      .filter(Boolean)
      .map(Number);
    if (cmd === 'M') [x, y] = [n[0]!, n[1]!];
    else if (cmd === 'm') [x, y] = [x + n[0]!, y + n[1]!];
    else if (cmd === 'h' || cmd === 'H') {
      const to = cmd === 'h' ? x + n[0]! : n[0]!;
      const row = Math.floor(y);
      for (let col = Math.min(x, to); col < Math.max(x, to); col++) {
        for (let dy = 0; dy < scale; dy++) {
          for (let dx = 0; dx < scale; dx++) {
            const at = ((row * scale + dy) * px + col * scale + dx) * 4;
            rgba[at] = rgba[at + 1] = rgba[at + 2] = 0;
          }
        }
      }
      x = to;
    } else if (cmd === 'v' || cmd === 'V') y = cmd === 'v' ? y + n[0]! : n[0]!;
  }
  return jsqr.default(rgba, px, px)?.data;
}
