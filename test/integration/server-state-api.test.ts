// The state, check and reset API through a real server: WebSocket requests (`reset`, `check`,
// `state.get`) and live `fs.change` events, the HTTP routes, and session isolation on every lookup.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionSnapshot } from '../../server/pictures/snapshot.ts';
import type { SessionEvent } from '../../server/protocol.ts';
import { startTestServer, type TestClient, type TestServer } from '../support/server.ts';

let srv: TestServer;
let a: { token: string; cookie: string };
let b: { token: string; cookie: string };
let client: TestClient;

beforeAll(async () => {
  srv = await startTestServer();
  a = await srv.newSession();
  b = await srv.newSession();
  client = await srv.connect(a.token);
});

afterAll(async () => {
  await client?.close();
  await srv?.close();
});

let requestId = 0;
async function request(type: 'check' | 'reset' | 'state.get', extra: Record<string, unknown> = {}) {
  const id = `r${++requestId}`;
  client.send({ type, id, ...extra } as never);
  return client.next('result', (m) => m.id === id, 60_000);
}

async function http(method: 'GET' | 'POST', path: string, who = a, body?: unknown) {
  const res = await fetch(`${srv.url}${path}`, {
    method,
    headers: {
      cookie: who.cookie,
      // A page of the server itself, as a browser says (cookie-authenticated posts need an Origin).
      origin: srv.url,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The sandbox page's check: a container from busybox whose diff adds /hello.txt. Pages name checks. */
const helloCheck = { lesson: 'sandbox', check: 'sandbox-hello' };

describe('over the WebSocket', () => {
  it('resets to a declared state, then streams the container’s file changes as events', async () => {
    const notYet = await request('check', helloCheck);
    expect(notYet).toMatchObject({ ok: true, data: { pass: false } });

    // The starting state travels as data over the WebSocket too (no JSON inside a string).
    const to = {
      images: ['busybox'],
      containers: [
        {
          name: 'writer',
          image: 'busybox',
          cmd: ['sh', '-c', 'sleep 0.3; echo hello > /hello.txt; echo x >> /etc/passwd; sleep 1000'],
          detach: true,
        },
      ],
    };
    const reset = await request('reset', { to });
    expect(reset).toMatchObject({
      ok: true,
      data: { pulled: ['busybox'], containers: [expect.any(String)] },
    });
    const id = (reset.data as { containers: string[] }).containers[0]!;

    const isChange = (path: string) => (m: { event: { type: string } }) => {
      const e = m.event as SessionEvent;
      return e.type === 'fs.change' && e.container === id && e.path === path;
    };
    const added = await client.next('event', isChange('/hello.txt'));
    expect(added.event).toEqual({ type: 'fs.change', container: id, path: '/hello.txt', kind: 'A' });
    const copied = await client.next('event', isChange('/etc/passwd'));
    expect(copied.event).toMatchObject({ kind: 'C', copyUp: { from: expect.stringMatching(/^sha256:/) } });

    expect(await request('check', helloCheck)).toMatchObject({ ok: true, data: { pass: true } });

    const state = await request('state.get');
    const snap = state.data as SessionSnapshot;
    expect(snap.images.map((i) => i.repoTags)).toEqual([['busybox:latest']]);
    expect(snap.containers.map((c) => [c.name, c.state])).toEqual([['writer', 'running']]);
  });

  it('answers a malformed check or reset with a clear failure, not a crash', async () => {
    expect(await request('check', { lesson: 'sandbox', check: 'no-such-check' })).toMatchObject({
      ok: false,
      error: { code: 'failed', message: 'lesson "sandbox" has no check "no-such-check"' },
    });
    expect(await request('reset', { to: 'no-such-lesson' })).toMatchObject({
      ok: false,
      error: { code: 'failed', message: expect.stringContaining('unknown starting state') },
    });
  });
});

describe('over HTTP', () => {
  it('serves the snapshot, which-layer and file lookups', async () => {
    const state = await http('GET', '/api/state');
    expect(state.status).toBe(200);
    expect((state.body as unknown as SessionSnapshot).containers[0]?.name).toBe('writer');

    const sh = await http('GET', '/api/state/which-layer?container=writer&path=/bin/sh');
    expect(sh).toMatchObject({ status: 200, body: { found: true, kind: 'symlink', source: { index: 0 } } });
    const hello = await http('GET', '/api/state/which-layer?container=writer&path=/hello.txt');
    expect(hello.body).toMatchObject({ found: true, source: 'upper' });

    const file = await http('GET', '/api/state/file?container=writer&path=/etc/passwd');
    expect(file.status).toBe(200);
    const versions = file.body as {
      image: { content: { text: string } };
      container: { content: { text: string } };
    };
    expect(versions.container.content.text).toBe(`${versions.image.content.text}x\n`);

    expect(await http('POST', '/api/check', a, helloCheck)).toMatchObject({
      status: 200,
      body: { pass: true },
    });
  });

  it('keeps sessions apart: B cannot see or name A’s container', async () => {
    const state = await http('GET', '/api/state', b);
    expect(state.body).toMatchObject({ images: [], containers: [] });
    const lookup = await http('GET', '/api/state/which-layer?container=writer&path=/bin/sh', b);
    expect(lookup).toEqual({
      status: 404,
      body: { error: { code: 'not_found', message: 'No such container: writer' } },
    });
    expect(await http('POST', '/api/check', b, helloCheck)).toMatchObject({
      body: { pass: false },
    });
  });

  it('rejects bad input with a 4xx and a message', async () => {
    expect(await http('GET', '/api/state/which-layer?container=writer')).toEqual({
      status: 400,
      body: { error: { code: 'invalid', message: 'missing query parameter "path"' } },
    });
    expect(
      await http('POST', '/api/check', a, { lesson: 'sandbox', check: { kind: 'image' } }),
    ).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid', message: expect.stringContaining('check') } },
    });
    expect(await http('POST', '/api/check', a, { lesson: 'no-such-lesson', check: 'x' })).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found', message: 'no lesson "no-such-lesson" has checks' } },
    });
    const anonymous = await fetch(`${srv.url}/api/state`);
    expect(anonymous.status).toBe(401);
  });

  it('resets through POST /api/reset', async () => {
    const reset = await http('POST', '/api/reset', a, { to: 'empty' });
    expect(reset).toMatchObject({ status: 200, body: { removedContainers: 1, removedImages: 1 } });
    expect((await http('GET', '/api/state')).body).toMatchObject({ images: [], containers: [] });
  });
});
