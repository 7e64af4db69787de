// Issue #9, finding 12: the page chose which check to run and with what definition, so a student
// could send a condition that always holds, named after any lesson step, and have it marked passed
// on the teacher's dashboard. Now a page names a check by `{ lesson, check }` only and the server
// evaluates the lessons' own declaration (content/lesson-checks.ts), on both transports.

import { freemem } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../server/protocol.ts';
import type { WorkshopService } from '../../server/workshop/service.ts';
import type { WorkshopState } from '../../server/workshop/workshop.ts';
import { openShell, runInShell, type TestClient, type TestServer } from '../support/server.ts';
import { startWorkshopServer } from '../support/workshop.ts';

const TEACHER_PASSWORD = 'checks-teacher-password';
/** A real lesson step: two containers from busybox. */
const STEP = { lesson: '01-image-vs-container', check: 'two-containers' };
/** A condition that holds in any session: "there is no container named nobody". */
const ALWAYS = { not: { kind: 'container', name: 'nobody-at-all' } };

let srv: TestServer;
let service: WorkshopService;
let code: string;
let student: { session: string; cookie: string; token: string };
let teacherCookie: string;
let client: TestClient;
let requests = 0;

beforeAll(async () => {
  ({ srv, service, code } = await startWorkshopServer(
    { name: 'Checks', seats: 5, teacherPassword: TEACHER_PASSWORD },
    { freeMemoryBytes: freemem },
  ));
  const joined = await fetch(`${srv.url}/join/${code}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: srv.url },
    body: JSON.stringify({ name: 'Eve' }),
  });
  expect(joined.status).toBe(200);
  const cookie = (joined.headers.get('set-cookie') ?? '').split(';')[0]!;
  student = {
    session: ((await joined.json()) as { session: string }).session,
    cookie,
    token: decodeURIComponent(cookie.split('=')[1] ?? ''),
  };
  const login = await fetch(`${srv.url}/teacher/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: srv.url },
    body: JSON.stringify({ code, password: TEACHER_PASSWORD }),
  });
  expect(login.status).toBe(200);
  teacherCookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  client = await srv.connect(student.token, { cookie: true });
}, 60_000);

afterAll(async () => {
  await client?.close();
  service?.close();
  await srv?.close();
});

/** Sends a raw `check` frame and returns the `result` or `error` frame that answers it (waits on frames). */
async function wsCheck(fields: Record<string, unknown>): Promise<ServerMessage> {
  const id = `c${++requests}`;
  const from = client.messages.length;
  client.send(JSON.stringify({ type: 'check', id, ...fields }));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const answer = client.messages
      .slice(from)
      .find((m) => (m.type === 'result' && m.id === id) || m.type === 'error');
    if (answer) return answer;
    if (Date.now() > deadline) throw new Error(`no answer to check ${id}`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      client.ws.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

async function httpCheck(body: unknown) {
  const res = await fetch(`${srv.url}/api/check`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: srv.url, cookie: student.cookie },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The teacher dashboard's view of the student's checks. */
async function dashboardChecks() {
  const res = await fetch(`${srv.url}/api/workshop/state`, { headers: { cookie: teacherCookie } });
  expect(res.status).toBe(200);
  const state = (await res.json()) as WorkshopState;
  return state.students.find((s) => s.session === student.session)?.checks ?? [];
}

describe('a forged check definition', () => {
  it('is refused over the WebSocket, in the old form and beside a real name', async () => {
    // The old attack: a definition of the page's choosing, labelled as a lesson step.
    const old = await wsCheck({ check: ALWAYS, lesson: STEP.lesson, step: STEP.check });
    expect(old).toMatchObject({ type: 'error', code: 'invalid_message' });
    const asName = await wsCheck({ lesson: STEP.lesson, check: ALWAYS });
    expect(asName).toMatchObject({ type: 'error', code: 'invalid_message' });
    // A definition beside a real name is refused too, as over HTTP: both transports check the same
    // request table, which allows a lesson and a check id and nothing else.
    const beside = await wsCheck({ ...STEP, definition: ALWAYS, condition: ALWAYS });
    expect(beside).toMatchObject({ type: 'error', code: 'invalid_message' });
  });

  it('is refused over HTTP with a 400, and an unknown step with a 404', async () => {
    expect(await httpCheck({ check: ALWAYS })).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid' } },
    });
    expect(await httpCheck({ ...STEP, definition: ALWAYS })).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid' } },
    });
    expect(await httpCheck({ lesson: STEP.lesson, check: 'no-such-step' })).toEqual({
      status: 404,
      body: { error: { code: 'not_found', message: `lesson "${STEP.lesson}" has no check "no-such-step"` } },
    });
    expect(await wsCheck({ lesson: 'no-such-lesson', check: 'x' })).toMatchObject({
      type: 'result',
      ok: false,
      error: { code: 'failed', message: 'no lesson "no-such-lesson" has checks' },
    });
  });

  it('records no pass on the teacher’s dashboard', async () => {
    const checks = await dashboardChecks();
    expect(checks.filter((c) => c.pass)).toEqual([]);
    // Every forged request was refused before any evaluation, so nothing at all was recorded.
    expect(checks).toEqual([]);
  });
});

describe('a genuine check by name', () => {
  it('evaluates the lesson’s declaration on real state, on both transports, and the dashboard shows it', async () => {
    const channel = await openShell(client);
    await runInShell(
      client,
      channel,
      "docker run --name first busybox sh -c 'echo one-$((40+2))'",
      '\r\none-42',
    );
    expect(await wsCheck(STEP)).toMatchObject({ type: 'result', ok: true, data: { pass: false } });
    await runInShell(
      client,
      channel,
      "docker run --name second busybox sh -c 'echo two-$((40+3))'",
      '\r\ntwo-43',
    );
    expect(await wsCheck(STEP)).toMatchObject({ type: 'result', ok: true, data: { pass: true } });
    expect(await httpCheck(STEP)).toMatchObject({ status: 200, body: { pass: true } });
    expect(await dashboardChecks()).toEqual([expect.objectContaining({ ...STEP, pass: true })]);
  });
});
