// Classroom 2.0 against a real server, real sessions and real checks: the workshop kept in SQLite
// across a restart, the progress export, the lesson × step grid with who needs help, students leaving
// and rejoining their own seat, the teacher managing seats, and the class boundary (no sandbox for
// anyone who did not join, none after the end).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkshopService } from '../../server/workshop/service.ts';
import type { StudentState, WorkshopState } from '../../server/workshop/workshop.ts';
import { openShell, runInShell, type TestServer } from '../support/server.ts';
import { startWorkshopServer } from '../support/workshop.ts';

const TEACHER_PASSWORD = 'chalk-and-cheese';
const ADMIN_PASSWORD = 'the-admin-secret';
const LESSON = '01-image-vs-container';
const CHECK = 'two-containers';
const PAGE_HINT = 'Run the two docker run commands above: one container named first, one named second.';

let srv: TestServer;
let service: WorkshopService;

beforeAll(async () => {
  ({ srv, service } = await startWorkshopServer(
    {
      name: 'Classroom',
      seats: 30,
      teacherPassword: TEACHER_PASSWORD,
      adminPassword: ADMIN_PASSWORD,
      // Only students get a sandbox here; leaving and idling are quick so tests need not wait minutes.
      readers: false,
      leaveGraceMs: 1500,
      stuck: { idleMs: 1500, failuresInARow: 3 },
    },
    { server: { limits: { maxSessions: 60 } } },
  ));
});

afterAll(async () => {
  service?.close();
  await srv?.close();
});

interface Joined {
  status: number;
  body: {
    session?: string;
    student?: string;
    name?: string;
    rejoined?: boolean;
    error?: { code: string; message: string };
  };
  cookie: string;
  token: string;
}

async function join(server: TestServer, code: string, name: string): Promise<Joined> {
  const res = await fetch(`${server.url}/join/${code}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: server.url },
    body: JSON.stringify({ name }),
  });
  const pair = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  return {
    status: res.status,
    body: (await res.json()) as Joined['body'],
    cookie: pair,
    token: decodeURIComponent(pair.split('=')[1] ?? ''),
  };
}

async function teacherLogin(server: TestServer, code: string, password = TEACHER_PASSWORD): Promise<string> {
  const res = await fetch(`${server.url}/teacher/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: server.url },
    body: JSON.stringify({ code, password }),
  });
  expect(res.status).toBe(200);
  await res.body?.cancel();
  return (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
}

async function state(server: TestServer, cookie: string): Promise<WorkshopState> {
  const res = await fetch(`${server.url}/api/workshop/state`, { headers: { cookie } });
  expect(res.status).toBe(200);
  return (await res.json()) as WorkshopState;
}

async function studentIn(server: TestServer, cookie: string, id: string | undefined): Promise<StudentState> {
  const found = (await state(server, cookie)).students.find((s) => s.id === id);
  if (!found) throw new Error(`student ${id} is not on the dashboard`);
  return found;
}

/** Polls the dashboard until `ok` holds for the student (state changes are events on the server). */
async function waitForStudent(
  server: TestServer,
  cookie: string,
  id: string | undefined,
  ok: (s: StudentState) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<StudentState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await studentIn(server, cookie, id);
    if (ok(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function post(server: TestServer, path: string, cookie: string, body: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: server.url, cookie },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A workshop of its own on the shared server, started over HTTP with the admin password. */
async function startWorkshop(name: string, seats: number): Promise<{ code: string; teacher: string }> {
  const res = await fetch(`${srv.url}/api/workshop`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: srv.url },
    body: JSON.stringify({ adminPassword: ADMIN_PASSWORD, name, seats, teacherPassword: TEACHER_PASSWORD }),
  });
  expect(res.status).toBe(201);
  const { code } = (await res.json()) as { code: string };
  return { code, teacher: await teacherLogin(srv, code) };
}

/** `GET /api/session` as a page without a session (or with `cookie`) asks for one. */
async function askForSandbox(server: TestServer, cookie?: string) {
  const res = await fetch(`${server.url}/api/session`, {
    headers: { accept: 'application/json', ...(cookie ? { cookie } : {}) },
  });
  return {
    status: res.status,
    body: (await res.json()) as { session?: string; error?: { code: string; message: string } },
  };
}

describe('the workshop store', () => {
  it('keeps the class and its progress across a restart on the same state root', async () => {
    const first = await startWorkshopServer(
      { name: 'Kept class', seats: 5, teacherPassword: TEACHER_PASSWORD },
      { server: { limits: { maxSessions: 20 } } },
    );
    const root = first.srv.root;
    const ada = await join(first.srv, first.code, 'Ada');
    expect(ada.status).toBe(200);
    const client = await first.srv.connect(ada.token, { cookie: true });
    const channel = await openShell(client);
    await runInShell(client, channel, 'docker create busybox true', /\r\n[0-9a-f]{64}\r\n/);
    await runInShell(
      client,
      channel,
      'docker create --name two busybox true',
      /\r\n[0-9a-f]{64}\r\n[\s\S]*\r\n[0-9a-f]{64}\r\n/,
    );
    const check = await post(first.srv, '/api/check', ada.cookie, { lesson: LESSON, check: CHECK });
    expect(check.body).toMatchObject({ pass: true });
    await client.close();
    first.service.close();
    await first.srv.server.close();

    // Same root, same workshop name: the class is resumed, not started again.
    const second = await startWorkshopServer(
      { name: 'Kept class', seats: 5, teacherPassword: TEACHER_PASSWORD },
      { server: { root, limits: { maxSessions: 20 } } },
    );
    try {
      expect(second.code).toBe(first.code);
      const teacher = await teacherLogin(second.srv, second.code);
      const after = await studentIn(second.srv, teacher, ada.body.student);
      expect(after.name).toBe('Ada');
      expect(after.checks).toEqual([
        expect.objectContaining({ lesson: LESSON, check: CHECK, pass: true, attempts: 1 }),
      ]);
      expect(after.steps?.[`${LESSON}/${CHECK}`]).toBe('passed');
      // The old session did not survive: Ada is away, her seat free, until she rejoins by name.
      expect(after.left).toBeDefined();
      expect(after.session).toBe('');
      const back = await join(second.srv, second.code, 'ada');
      expect(back.status).toBe(200);
      expect(back.body).toMatchObject({ student: ada.body.student, name: 'Ada', rejoined: true });
      const rejoined = await studentIn(second.srv, teacher, ada.body.student);
      expect(rejoined.left).toBeUndefined();
      expect(rejoined.session).toBe(back.body.session);
      expect(rejoined.steps?.[`${LESSON}/${CHECK}`]).toBe('passed');
    } finally {
      second.service.close();
      await second.srv.close();
    }
  });
});

describe("the teacher's grid", () => {
  it('shows the lesson open, a failed step with its hint, the last command with its error, and who needs help', async () => {
    const { code, teacher } = await startWorkshop('Grid class', 5);
    const linus = await join(srv, code, 'Linus');
    const grace = await join(srv, code, 'Grace');
    const client = await srv.connect(linus.token, { cookie: true });
    const other = await srv.connect(grace.token, { cookie: true });

    // The lesson page says which lesson it shows (what the site sends when its socket is live).
    expect((await post(srv, '/api/visit', linus.cookie, { lesson: LESSON })).status).toBe(200);
    let linusNow = await studentIn(srv, teacher, linus.body.student);
    expect(linusNow.currentLesson).toBe(LESSON);
    expect(linusNow.steps?.[`${LESSON}/${CHECK}`]).toBe('in-progress');
    expect(linusNow.steps?.['02-pull/pulled-and-tagged']).toBe('not-started');

    // A check that fails is recorded as failed, with the hint the page shows.
    const failed = await post(srv, '/api/check', linus.cookie, { lesson: LESSON, check: CHECK });
    expect(failed.body).toMatchObject({ pass: false });
    linusNow = await studentIn(srv, teacher, linus.body.student);
    expect(linusNow.steps?.[`${LESSON}/${CHECK}`]).toBe('failed');
    expect(linusNow.checks[0]).toMatchObject({
      failures: 1,
      failuresInARow: 1,
      hint: PAGE_HINT,
      pass: false,
    });

    // The grid's columns are the course's steps by title, not raw ids.
    const grid = await state(srv, teacher);
    const lesson = grid.lessons?.find((l) => l.id === LESSON);
    expect(lesson?.title).toBe('Image and container');
    expect(lesson?.checks).toEqual([
      { id: CHECK, title: 'Make two containers from the same busybox image.' },
    ]);

    // The last command, with the error it printed.
    const channel = await openShell(client);
    await runInShell(client, channel, 'docker rm no-such-box', /No such container/);
    linusNow = await waitForStudent(
      srv,
      teacher,
      linus.body.student,
      (s) => s.lastCommand !== undefined,
      'the command is recorded',
    );
    expect(linusNow.lastCommand).toMatchObject({ command: 'docker rm no-such-box', exitCode: 1 });
    expect(linusNow.lastCommand?.error).toMatch(/No such container: no-such-box/);

    // Failing the same check three times in a row: needs help, and says why.
    for (let i = 0; i < 2; i++) await post(srv, '/api/check', linus.cookie, { lesson: LESSON, check: CHECK });
    linusNow = await studentIn(srv, teacher, linus.body.student);
    expect(linusNow.needsHelp).toEqual(
      expect.arrayContaining([expect.stringMatching(/Make two containers .* failed 3 times in a row/)]),
    );

    // Grace finished her lesson: idle there is not stuck. Linus idle on his unfinished one is.
    const otherChannel = await openShell(other);
    await runInShell(other, otherChannel, 'docker create busybox true', /\r\n[0-9a-f]{64}\r\n/);
    await runInShell(
      other,
      otherChannel,
      'docker create --name two busybox true',
      /\r\n[0-9a-f]{64}\r\n[\s\S]*\r\n[0-9a-f]{64}\r\n/,
    );
    expect(
      (await post(srv, '/api/check', grace.cookie, { lesson: LESSON, check: CHECK })).body,
    ).toMatchObject({ pass: true });
    linusNow = await waitForStudent(
      srv,
      teacher,
      linus.body.student,
      (s) => (s.needsHelp ?? []).some((r) => /idle for \d+ min on “Image and container”/.test(r)),
      'Linus is flagged as idle',
    );
    expect(linusNow.idleSeconds).toBeGreaterThanOrEqual(1);
    const graceNow = await waitForStudent(
      srv,
      teacher,
      grace.body.student,
      (s) => (s.idleSeconds ?? 0) >= 2,
      'Grace is idle past the threshold',
    );
    expect(graceNow.steps?.[`${LESSON}/${CHECK}`]).toBe('passed');
    expect(graceNow.needsHelp).toEqual([]);
    await client.close();
    await other.close();
  });

  it("exports every student's progress as CSV and JSON, to the teacher only", async () => {
    const { code, teacher } = await startWorkshop('Export class', 5);
    const ada = await join(srv, code, 'Ada');
    const formula = await join(srv, code, '=HYPERLINK("x")');
    expect(formula.status).toBe(200);
    await post(srv, '/api/visit', ada.cookie, { lesson: '02-pull' });
    await post(srv, '/api/check', ada.cookie, { lesson: LESSON, check: CHECK });

    const anonymous = await fetch(`${srv.url}/api/workshop/export.csv`);
    expect(anonymous.status).toBe(401);

    const csv = await fetch(`${srv.url}/api/workshop/export.csv`, { headers: { cookie: teacher } });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(csv.headers.get('content-disposition')).toBe(`attachment; filename="${code}-progress.csv"`);
    const rows = (await csv.text()).trimEnd().split('\r\n');
    expect(rows[0]).toMatch(
      /^student,joined,last_active,left,resets,current_lesson,lesson,lesson_title,check,check_title,status,/,
    );
    const adaFailed = rows.find(
      (r) => r.startsWith('Ada,') && r.includes(`,${LESSON},Image and container,${CHECK},`),
    );
    expect(adaFailed).toContain(',failed,1,1,');
    expect(adaFailed).toContain(`,"${PAGE_HINT}",`);
    expect(rows.find((r) => r.startsWith('Ada,') && r.includes(',02-pull,What a pull moves,'))).toContain(
      ',in-progress,',
    );
    // A name a spreadsheet would run as a formula stays text.
    expect(rows.some((r) => r.startsWith(`"'=HYPERLINK(""x"")",`))).toBe(true);

    const json = await fetch(`${srv.url}/api/workshop/export.json`, { headers: { cookie: teacher } });
    expect(json.status).toBe(200);
    const body = (await json.json()) as {
      workshop: { code: string };
      lessons: { id: string }[];
      students: { name: string; currentLesson?: string; steps: Record<string, string> }[];
    };
    expect(body.workshop.code).toBe(code);
    expect(body.lessons.map((l) => l.id)).toContain(LESSON);
    const adaJson = body.students.find((s) => s.name === 'Ada');
    expect(adaJson?.currentLesson).toBe(LESSON);
    expect(adaJson?.steps[`${LESSON}/${CHECK}`]).toBe('failed');
    expect(body.students.map((s) => s.name)).toEqual(['Ada', '=HYPERLINK("x")']);
  });
});

describe('seats', () => {
  it('marks a student gone when their sockets close, and lets them rejoin their own seat by name from another browser', async () => {
    const { code, teacher } = await startWorkshop('Leaving class', 2);
    const ana = await join(srv, code, 'Ana');
    const bo = await join(srv, code, 'Bo');
    const anaSocket = await srv.connect(ana.token, { cookie: true });
    const boSocket = await srv.connect(bo.token, { cookie: true });
    await post(srv, '/api/check', ana.cookie, { lesson: LESSON, check: CHECK });
    // The class is full while both are connected.
    expect((await join(srv, code, 'Cy')).status).toBe(503);

    await anaSocket.close();
    const gone = await waitForStudent(
      srv,
      teacher,
      ana.body.student,
      (s) => s.left !== undefined,
      'Ana is gone',
    );
    expect(gone.terminals).toEqual([]);
    expect((await state(srv, teacher)).seatsTaken).toBe(1);
    // Bo, still connected, stays.
    expect((await studentIn(srv, teacher, bo.body.student)).left).toBeUndefined();

    // Another browser (no cookie): Ana's name and the code give her seat and progress back.
    const back = await join(srv, code, 'ana');
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ student: ana.body.student, name: 'Ana', rejoined: true });
    expect(back.cookie).toMatch(/^layerlab_session=/);
    const anaNow = await studentIn(srv, teacher, ana.body.student);
    expect(anaNow.left).toBeUndefined();
    expect(anaNow.checks).toHaveLength(1);
    expect((await state(srv, teacher)).students).toHaveLength(2);
    const again = await srv.connect(back.token, { cookie: true });
    expect(again.messages[0]).toMatchObject({ type: 'welcome' });
    // Connected again, she is present (had the grace period run out first, the socket brings her back).
    await waitForStudent(srv, teacher, ana.body.student, (s) => s.left === undefined, 'Ana is present');
    // And the seat is hers again: the class is full for a newcomer.
    expect((await join(srv, code, 'Cy')).status).toBe(503);
    expect((await studentIn(srv, teacher, bo.body.student)).left).toBeUndefined();
    await again.close();
    await boSocket.close();
  });

  it('lets the teacher add seats, free a seat and remove a student', async () => {
    const { code, teacher } = await startWorkshop('Managed class', 2);
    const a = await join(srv, code, 'Alma');
    const b = await join(srv, code, 'Bea');
    const sockets = [
      await srv.connect(a.token, { cookie: true }),
      await srv.connect(b.token, { cookie: true }),
    ];
    expect((await join(srv, code, 'Cleo')).status).toBe(503);

    const added = await post(srv, '/api/workshop/add-seats', teacher, { count: 1 });
    expect(added).toMatchObject({ status: 200, body: { seats: 3 } });
    const cleo = await join(srv, code, 'Cleo');
    expect(cleo.status).toBe(200);

    // Freeing Bea's seat ends her session (her sockets close) but keeps her progress on the dashboard.
    const freed = await post(srv, '/api/workshop/free-seat', teacher, { student: b.body.student });
    expect(freed.status).toBe(200);
    expect((await sockets[1]!.closed).code).toBe(4000);
    expect(srv.server.sessions.get(b.body.session!)).toBeUndefined();
    const bea = await studentIn(srv, teacher, b.body.student);
    expect(bea.left).toBeDefined();
    expect((await state(srv, teacher)).seatsTaken).toBe(2);
    const dan = await join(srv, code, 'Dan');
    expect(dan.status).toBe(200);

    // Removing Alma takes her off the dashboard and ends her sandbox.
    const removed = await post(srv, '/api/workshop/remove-student', teacher, { student: a.body.student });
    expect(removed.status).toBe(200);
    expect((await sockets[0]!.closed).code).toBe(4000);
    expect(srv.server.sessions.get(a.body.session!)).toBeUndefined();
    const after = await state(srv, teacher);
    expect(after.students.map((s) => s.name)).toEqual(['Bea', 'Cleo', 'Dan']);
    expect(after.seatsTaken).toBe(2);

    // Only the teacher manages seats, and only of their own workshop.
    expect((await post(srv, '/api/workshop/add-seats', '', { count: 5 })).status).toBe(401);
    expect((await post(srv, '/api/workshop/remove-student', teacher, { student: 'nobody' })).status).toBe(
      404,
    );
    expect((await post(srv, '/api/workshop/add-seats', teacher, { count: 0 })).status).toBe(400);
  });
});

describe('the class boundary', () => {
  it('gives no sandbox to a reader who did not join, nor to a student refused for lack of seats', async () => {
    const { code } = await startWorkshop('Tiny class', 1);
    const first = await join(srv, code, 'First');
    expect(first.status).toBe(200);
    const refused = await join(srv, code, 'Second');
    expect(refused.status).toBe(503);
    expect(refused.cookie).toBe('');
    // The refused student opens a lesson URL directly: the page asks for a session and is told why not.
    const sandbox = await askForSandbox(srv);
    expect(sandbox.status).toBe(403);
    expect(sandbox.body.error).toMatchObject({
      code: 'not_joined',
      message: expect.stringMatching(/join it/),
    });
    // The student who joined has hers.
    const own = await askForSandbox(srv, first.cookie);
    expect(own.status).toBe(200);
    expect(own.body.session).toBe(first.body.session);
  });

  it('makes no new sandbox after "End workshop": a reload is told the workshop ended', async () => {
    const ended = await startWorkshopServer(
      { name: 'Ending class', seats: 3, teacherPassword: TEACHER_PASSWORD, readers: true },
      { server: { limits: { maxSessions: 10 } } },
    );
    try {
      const student = await join(ended.srv, ended.code, 'Eve');
      const client = await ended.srv.connect(student.token, { cookie: true });
      const teacher = await teacherLogin(ended.srv, ended.code);
      expect((await post(ended.srv, '/api/workshop/end', teacher, {})).status).toBe(200);
      expect((await client.closed).code).toBe(4000);
      // The reload: the old cookie's session is gone, and no new one is made — readers included.
      const reload = await askForSandbox(ended.srv, student.cookie);
      expect(reload.status).toBe(410);
      expect(reload.body.error).toMatchObject({ code: 'ended', message: expect.stringMatching(/ended/) });
      expect((await askForSandbox(ended.srv)).status).toBe(410);
      expect(ended.srv.server.sessions.count).toBe(0);
    } finally {
      ended.service.close();
      await ended.srv.close();
    }
  });
});
