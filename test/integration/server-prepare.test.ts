// Arriving at a lesson on a real server: `prepare` (WebSocket and POST /api/prepare) pulls the images
// the lesson starts from and creates its declared containers when they are missing, never removes
// what the session holds unless the page names it, and answers with the page's one line; at the
// container limit, `create` names what to remove and a failing check's hint says so too.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionSnapshot } from '../../server/pictures/snapshot.ts';
import type { PrepareReport } from '../../server/reset/prepare.ts';
import { startTestServer, type TestClient, type TestServer } from '../support/server.ts';

const LIMIT = 4;
let srv: TestServer;
let a: { token: string; cookie: string };
let client: TestClient;

beforeAll(async () => {
  srv = await startTestServer({ limits: { maxContainersPerSession: LIMIT } });
  a = await srv.newSession();
  client = await srv.connect(a.token);
});

afterAll(async () => {
  await client?.close();
  await srv?.close();
});

async function http(path: string, body?: unknown, who = a) {
  const res = await fetch(`${srv.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      cookie: who.cookie,
      origin: srv.url,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

let requestId = 0;
async function prepareWs(input: Record<string, unknown>): Promise<PrepareReport> {
  const id = `p${++requestId}`;
  client.send({ type: 'prepare', id, ...input } as never);
  const result = await client.next('result', (m) => m.id === id, 60_000);
  expect(result.ok, JSON.stringify(result.error)).toBe(true);
  return result.data as PrepareReport;
}

async function state(): Promise<SessionSnapshot> {
  return (await http('/api/state')).body as unknown as SessionSnapshot;
}
const names = async () => (await state()).containers.map((c) => c.name).sort();
const tags = async () => (await state()).images.flatMap((i) => i.repoTags).sort();

const sleeper = (name: string) => ({ name, image: 'busybox', cmd: ['sleep', '1000'], detach: true });

describe('prepare', () => {
  it('adds what is missing and keeps everything the session already holds', async () => {
    // What a reader made before: a running container in the lesson's way, one of their own, and an
    // image no lesson below names.
    const before = await http('/api/reset', {
      to: { images: ['busybox', 'layerlab/motd'], containers: [sleeper('one'), sleeper('mine')] },
    });
    expect(before.status).toBe(200);

    const lesson = { images: ['busybox', 'layerlab/webapp'], absent: ['one', 'two'] };
    const report = await prepareWs({ to: lesson });
    console.log(`prepare (one image to pull, one conflict): ${report.ms} ms`);
    expect(report).toMatchObject({
      pulled: ['layerlab/webapp'],
      created: [],
      removed: [],
      conflicts: [{ name: 'one', image: 'busybox', status: 'running' }],
      message:
        'Prepared for you: layerlab/webapp. Already here from before: one (running); this lesson creates a container of that name itself, so it has to go first.',
    });
    expect(await names()).toEqual(['mine', 'one']);
    expect(await tags()).toEqual(['busybox:latest', 'layerlab/motd:latest', 'layerlab/webapp:latest']);

    // Arriving again: nothing is missing, and the line says so (the conflict is still named).
    const again = await prepareWs({ to: { images: ['busybox', 'layerlab/webapp'] } });
    expect(again).toMatchObject({
      pulled: [],
      conflicts: [],
      message: 'Everything this lesson starts from is already here.',
    });
  });

  it('removes only the names the page asks for, and only those the lesson declares free', async () => {
    const report = await http('/api/prepare', {
      to: { images: ['busybox'], absent: ['one', 'two'] },
      remove: ['one', 'mine'],
    });
    expect(report).toMatchObject({
      status: 200,
      body: { removed: ['one'], conflicts: [], message: 'Removed: one.' },
    });
    expect(await names()).toEqual(['mine']);
  });

  it('creates declared containers that are missing, and leaves an existing one of that name', async () => {
    const to = { images: ['busybox'], containers: [sleeper('mine'), sleeper('box')] };
    const report = await prepareWs({ to });
    expect(report).toMatchObject({
      pulled: [],
      created: ['box'],
      message: 'Prepared for you: container box.',
    });
    const listed = (await state()).containers;
    expect(listed.map((c) => [c.name, c.state]).sort()).toEqual([
      ['box', 'running'],
      ['mine', 'running'],
    ]);
    expect((await prepareWs({ to })).created).toEqual([]);
  });

  it('refuses input that is not a starting state, with the field named', async () => {
    expect(await http('/api/prepare', { to: { absent: ['no spaces'] } })).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid', message: expect.stringContaining('prepare: to.absent.0') } },
    });
    expect(await http('/api/prepare', {})).toMatchObject({ status: 400 });
  });
});

describe('at the container limit', () => {
  it('names the containers in the refusal, and the failing check says the limit is why', async () => {
    // A session of its own, filled by a reset that has nothing to remove first.
    const b = await srv.newSession();
    const filled = await http(
      '/api/reset',
      {
        to: {
          images: ['busybox'],
          containers: [
            sleeper('s1'),
            sleeper('s2'),
            { name: 'c1', image: 'busybox' },
            { name: 'c2', image: 'busybox' },
          ],
        },
      },
      b,
    );
    expect(filled.status).toBe(200);
    const refused = await http('/api/prepare', { to: { containers: [sleeper('fifth')] } }, b);
    expect(refused).toMatchObject({
      status: 409,
      body: {
        error: {
          code: 'conflict',
          message: `container limit reached: this session may keep at most ${LIMIT} containers (running: s1, s2; stopped: c1, c2). Remove the ones you are done with in one step: \`docker rm -f s1 s2 c1 c2\`, or only the stopped ones: \`docker container prune -f\``,
        },
      },
    });

    // Lesson 4's first check wants two containers that disagree about /note.txt: not here.
    const check = await http('/api/check', { lesson: '04-writable-layer', check: 'containers-differ' }, b);
    expect(check.status).toBe(200);
    expect(check.body.pass).toBe(false);
    expect(check.body.note).toContain(
      `Your session holds ${LIMIT} containers, the most it may keep, so new ones are refused (running: s1, s2; stopped: c1, c2). Remove the ones you are done with in one step: \`docker rm -f s1 s2 c1 c2\``,
    );

    // Below the limit (session a holds two containers), a failing check carries no note.
    const plain = await http('/api/check', { lesson: '04-writable-layer', check: 'containers-differ' });
    expect(plain.body).toMatchObject({ pass: false });
    expect(plain.body.note).toBeUndefined();
  });
});
