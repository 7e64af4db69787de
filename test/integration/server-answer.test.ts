// Checks of understanding through a real server: the learner types a value the engine knows (the
// diff_id busybox and layerlab/webapp share, the disk total of `docker system df`) and the server
// compares it with the session's real state, over HTTP and the WebSocket alike. A wrong answer never
// carries the value, and guesses are rate-limited per answer.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSizeGuess } from '../../server/checks/answer-normalise.ts';
import type { SessionSnapshot } from '../../server/pictures/snapshot.ts';
import {
  openShell,
  runInShell,
  startTestServer,
  type TestClient,
  type TestServer,
} from '../support/server.ts';

let srv: TestServer;
let a: { token: string; cookie: string };
let client: TestClient;
/** The diff_id busybox and layerlab/webapp share, read from `docker inspect` in the session's shell. */
let shared = '';

async function http(method: 'GET' | 'POST', path: string, who: { cookie: string }, body?: unknown) {
  const res = await fetch(`${srv.url}${path}`, {
    method,
    headers: {
      cookie: who.cookie,
      origin: srv.url,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const answer = (value: string, who = a, id = 'shared-base', lesson = '03-layers') =>
  http('POST', '/api/answer', who, { lesson, answer: id, value });

beforeAll(async () => {
  srv = await startTestServer();
  a = await srv.newSession();
  const reset = await http('POST', '/api/reset', a, { to: { images: ['busybox', 'layerlab/webapp'] } });
  expect(reset.status).toBe(200);
  client = await srv.connect(a.token);
  const channel = await openShell(client);
  const out = await runInShell(
    client,
    channel,
    "docker inspect -f '{{json .RootFS.Layers}}' busybox",
    /\["sha256:[0-9a-f]{64}"\]/,
  );
  shared = /\["(sha256:[0-9a-f]{64})"\]/.exec(out)![1]!;
}, 180_000);

afterAll(async () => {
  await client?.close();
  await srv?.close();
});

describe('the diff_id two images share', () => {
  it('is right typed in full, bare, as a 12-digit short id, or pasted out of the JSON', async () => {
    const hex = shared.slice('sha256:'.length);
    for (const typed of [shared, hex, hex.slice(0, 12), hex.slice(0, 12).toUpperCase(), `["${shared}",`]) {
      expect((await answer(typed)).body, typed).toEqual({ right: true });
    }
    // And the snapshot the pictures draw agrees: webapp's bottom layer is that diff_id.
    const state = (await http('GET', '/api/state', a)).body as unknown as SessionSnapshot;
    const webapp = state.images.find((i) => i.repoTags.includes('layerlab/webapp:latest'));
    expect(webapp?.layers.map((l) => l.diffId)).toContain(shared);
  });

  it('is wrong for another digest, with the hint and without the value', async () => {
    const other = webappOwnLayer();
    const wrong = await answer(await other);
    expect(wrong.status).toBe(200);
    expect(wrong.body).toMatchObject({ right: false, hint: expect.stringContaining('RootFS.Layers') });
    expect(JSON.stringify(wrong.body)).not.toContain(shared.slice(7, 19));
  });

  it('says what shape it wants for what is not a digest', async () => {
    expect((await answer('busybox')).body).toMatchObject({
      right: false,
      detail: expect.stringContaining('hex'),
    });
    expect((await answer('sha256:abc')).body).toMatchObject({
      right: false,
      detail: expect.stringContaining('12'),
    });
  });

  it('travels over the WebSocket too', async () => {
    client.send({ type: 'answer', id: 'ws1', lesson: '03-layers', answer: 'shared-base', value: shared });
    expect(await client.next('result', (m) => m.id === 'ws1', 60_000)).toMatchObject({
      ok: true,
      data: { right: true },
    });
  });
});

/** A layer of webapp's own (not busybox's): a real digest that is not the answer. */
async function webappOwnLayer(): Promise<string> {
  const state = (await http('GET', '/api/state', a)).body as unknown as SessionSnapshot;
  const webapp = state.images.find((i) => i.repoTags.includes('layerlab/webapp:latest'))!;
  return webapp.layers.map((l) => l.diffId).find((d) => d !== shared)!;
}

describe('the disk total of docker system df', () => {
  it('is right as the terminal prints it, and wrong when far off', async () => {
    const channel = await openShell(client);
    const out = await runInShell(client, channel, 'docker system df', /Build Cache[^\n]*\n/);
    const printed = /^Images\s+\d+\s+\d+\s+(\S+)/m.exec(out.replace(/\r/g, ''))![1]!;
    expect((await answer(printed, a, 'images-on-disk', '10-cleanup')).body).toEqual({ right: true });
    const bytes = (parseSizeGuess(printed) as { ok: true; value: number }).value;
    const far = `${Math.round(bytes / 1e6 / 2 + 50)}MB`;
    expect((await answer(far, a, 'images-on-disk', '10-cleanup')).body).toMatchObject({ right: false });
    expect((await answer('lots', a, 'images-on-disk', '10-cleanup')).body).toMatchObject({
      right: false,
      detail: expect.stringContaining('unit'),
    });
  });
});

describe('refusals', () => {
  it('names no answer the lessons do not declare, and takes no definition from the page', async () => {
    expect((await answer(shared, a, 'no-such-answer')).status).toBe(404);
    const sneaky = await http('POST', '/api/answer', a, {
      lesson: '03-layers',
      answer: 'shared-base',
      value: shared,
      kind: 'image-id',
    });
    expect(sneaky.status).toBe(400);
  });

  it('limits guesses per answer and session, then refuses even the right one for a while', async () => {
    const b = await srv.newSession();
    let last: Record<string, unknown> = {};
    for (let i = 0; i < 13; i++) last = (await answer('0'.repeat(64), b)).body;
    expect(last).toMatchObject({ right: false, limited: true });
    expect((await answer(shared, b)).body).toMatchObject({ right: false, limited: true });
    // Another session, and another answer of the same session, are not held back.
    expect((await answer(shared, a)).body).toEqual({ right: true });
    expect((await answer('1B', b, 'images-on-disk', '10-cleanup')).body).not.toMatchObject({ limited: true });
  });
});
