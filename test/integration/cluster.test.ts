// Cluster mode over real HTTP and WebSockets, no browser: Redis, `layerlab serve --cluster` nodes and
// HAProxy on loopback (test/support/cluster.ts). Seats counted across nodes under a burst of joins,
// admission steering joins to nodes with room, a teacher on one node acting on a student held by
// another, a drained node handing its students over with their progress, a node killed and restarted,
// and the errors an operator reads when the cluster flags are wrong.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type LoopbackCluster, startLoopbackCluster, waitUntil } from '../support/cluster.ts';
import { openShell, type TestClient, wrapClient } from '../support/server.ts';

const REPO = join(import.meta.dirname, '..', '..');
const FULL = (seats: number) =>
  `This workshop is full: all ${seats} seats are taken. Ask your teacher for a seat.`;

/** The cookies one browser holds (session, node, teacher), updated from every answer. */
class Jar {
  readonly #cookies = new Map<string, string>();
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      if (at > 0) this.#cookies.set(pair.slice(0, at), pair.slice(at + 1));
    }
  }
  get(name: string): string | undefined {
    return this.#cookies.get(name);
  }
  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

interface Joined {
  status: number;
  body: { session?: string; student?: string; name?: string; error?: { code: string; message: string } };
  jar: Jar;
  /** 307s followed to reach the answer. */
  hops: number;
}

/** GET with the jar's cookies (answers kept in the jar). */
async function get(base: string, path: string, jar: Jar): Promise<Response> {
  const res = await fetch(`${base}${path}`, { headers: { cookie: jar.header() }, redirect: 'manual' });
  jar.take(res);
  return res;
}

/** POST of JSON as the base's own pages post, following 307s with the cookies they set. */
async function post(
  base: string,
  path: string,
  body: unknown,
  jar: Jar,
): Promise<{ res: Response; hops: number }> {
  let location = path;
  for (let hops = 0; ; hops++) {
    const res = await fetch(`${base}${location}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: base, cookie: jar.header() },
      body: JSON.stringify(body),
      redirect: 'manual',
    });
    jar.take(res);
    if (res.status !== 307 || hops > 5) return { res, hops };
    await res.body?.cancel();
    location = res.headers.get('location') ?? path;
  }
}

async function join_(base: string, code: string, name: string, jar = new Jar()): Promise<Joined> {
  const { res, hops } = await post(base, `/join/${code}`, { name }, jar);
  return { status: res.status, body: (await res.json()) as Joined['body'], jar, hops };
}

async function startWorkshop(cluster: LoopbackCluster, name: string, seats: number): Promise<string> {
  const { res } = await post(
    cluster.url,
    '/api/workshop',
    { adminPassword: cluster.adminPassword, teacherPassword: cluster.teacherPassword, name, seats },
    new Jar(),
  );
  expect(res.status).toBe(201);
  return ((await res.json()) as { code: string }).code;
}

async function teacher(base: string, cluster: LoopbackCluster, code: string): Promise<Jar> {
  const jar = new Jar();
  const { res } = await post(base, '/teacher/login', { code, password: cluster.teacherPassword }, jar);
  expect(res.status).toBe(200);
  await res.body?.cancel();
  return jar;
}

interface DashboardState {
  seatsTaken: number;
  students: {
    id: string;
    name: string;
    node?: string;
    left?: string;
    session: string;
    checks: { lesson: string; check: string; pass: boolean }[];
  }[];
}

async function state(base: string, jar: Jar): Promise<DashboardState> {
  const res = await get(base, '/api/workshop/state', jar);
  if (!res.ok) throw new Error(`${base}/api/workshop/state: ${res.status}`);
  return (await res.json()) as DashboardState;
}

interface MeView {
  you: { name: string };
  notice?: string;
  reset?: { scope: string; lesson: string; removedContainers: string[] };
}

async function me(base: string, jar: Jar): Promise<MeView | undefined> {
  const res = await get(base, '/api/workshop/me', jar);
  if (!res.ok) {
    await res.body?.cancel();
    return undefined;
  }
  return (await res.json()) as MeView;
}

async function readyz(base: string): Promise<number> {
  const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2000) });
  await res.body?.cancel();
  return res.status;
}

/** The page's socket, opened with the browser's cookies at `base`; resolves at `welcome`. */
async function connect(base: string, jar: Jar): Promise<TestClient> {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws`, {
    headers: { cookie: jar.header() },
    origin: base,
    perMessageDeflate: false,
  });
  const client = wrapClient(ws);
  await client.next('welcome', undefined, 20_000);
  return client;
}

/** Busybox containers created in the student's sandbox through their own terminal, one by one. */
async function createContainer(base: string, jar: Jar, ...names: string[]): Promise<void> {
  const client = await connect(base, jar);
  const channel = await openShell(client);
  for (const [i, name] of names.entries()) {
    client.send({
      type: 'terminal.run',
      terminal: 'main',
      command: `docker create --name ${name} busybox true`,
    });
    // Each create prints its container's id on a line of its own.
    await client.waitForOutput(channel, new RegExp(`(\\r\\n[0-9a-f]{64}\\r\\n[^]*){${i + 1}}`), 90_000);
  }
  await client.close();
}

async function containers(base: string, jar: Jar): Promise<string[]> {
  const res = await get(base, '/api/state', jar);
  expect(res.status).toBe(200);
  const snapshot = (await res.json()) as { containers: { name: string }[] };
  return snapshot.containers.map((c) => c.name);
}

/** `GET /api/session` as the page retries it until it has a session again (what it last heard in the error). */
async function sessionAgain(base: string, jar: Jar): Promise<{ session: string }> {
  let last = '';
  let found: { session: string } | undefined;
  await waitUntil(
    async () => {
      const res = await get(base, '/api/session', jar);
      const text = await res.text();
      last = `${res.status} ${text.slice(0, 300)}`;
      if (res.status === 200) found = JSON.parse(text) as { session: string };
      return found !== undefined;
    },
    'a session again',
    20_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last answer: ${last}`);
  });
  return found!;
}

/** Waits until every node serves the workshop's join page (its record reached them through Redis). */
async function everyNodeKnows(cluster: LoopbackCluster, code: string): Promise<void> {
  await waitUntil(async () => {
    for (const node of cluster.nodes) {
      const res = await fetch(`${node.url}/join/${code}`);
      await res.body?.cancel();
      if (res.status !== 200) return false;
    }
    return true;
  }, 'every node to know the workshop');
}

describe('a three-node cluster', () => {
  let cluster: LoopbackCluster;

  beforeAll(async () => {
    cluster = await startLoopbackCluster({ nodes: 3, maxSessions: 40, drainSeconds: 3 });
  }, 180_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 120_000);

  it('counts seats cluster-wide: of 8 joins at once on three nodes, exactly 3 get the 3 seats', async () => {
    const code = await startWorkshop(cluster, 'Burst', 3);
    // Every node knows the workshop before the burst (the change reaches them through Redis).
    await everyNodeKnows(cluster, code);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => join_(cluster.nodes[i % 3]!.url, code, `Student ${i + 1}`)),
    );
    const admitted = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status !== 200);
    expect(admitted).toHaveLength(3);
    for (const r of refused) {
      expect(r.status).toBe(503);
      expect(r.body.error).toEqual({ code: 'full', message: FULL(3) });
      expect(r.jar.get('layerlab_session')).toBeUndefined();
    }
    const jar = await teacher(cluster.url, cluster, code);
    for (const node of cluster.nodes) {
      await waitUntil(async () => {
        const s = await state(node.url, jar);
        return s.seatsTaken === 3 && s.students.filter((st) => st.left === undefined).length === 3;
      }, `${node.id}'s dashboard to show 3 students`);
    }
  });

  it('lets a teacher on one node reset, free and remove students another node holds', async () => {
    const code = await startWorkshop(cluster, 'Across nodes', 10);
    const [a, b] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
    await waitUntil(async () => {
      const res = await fetch(`${b.url}/join/${code}`);
      await res.body?.cancel();
      return res.status === 200;
    }, `${b.id} to know the workshop`);
    const reset = await join_(b.url, code, 'Reset Me');
    const freed = await join_(b.url, code, 'Free Me');
    const removed = await join_(b.url, code, 'Remove Me');
    for (const s of [reset, freed, removed]) expect(s.status).toBe(200);
    await createContainer(b.url, reset.jar, 'box');
    expect(await containers(b.url, reset.jar)).toEqual(['box']);

    const jar = await teacher(a.url, cluster, code);
    await waitUntil(
      async () => (await state(a.url, jar)).students.length === 3,
      `${a.id} to see the three students`,
    );
    const teacherPost = async (path: string, body: unknown) => {
      const { res } = await post(a.url, path, body, jar);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const done = await teacherPost('/api/workshop/reset-student', {
      student: reset.body.student,
      lesson: '04-writable-layer',
    });
    expect(done).toMatchObject({ status: 200, body: { student: reset.body.student } });
    expect(done.body.removedContainers).toEqual([expect.stringMatching(/^box /)]);
    expect(await containers(b.url, reset.jar)).toEqual([]);
    const view = await me(b.url, reset.jar);
    expect(view?.reset).toMatchObject({ scope: 'student', lesson: '04-writable-layer' });

    for (const [student, path] of [
      [freed, '/api/workshop/free-seat'],
      [removed, '/api/workshop/remove-student'],
    ] as const) {
      const client = await connect(b.url, student.jar);
      const res = await teacherPost(path, { student: student.body.student });
      expect(res.status).toBe(200);
      expect((await client.closed).code).toBe(4000);
      // Their session is gone: its cookie no longer opens anything.
      const session = await get(b.url, '/api/workshop/me', student.jar);
      expect(session.status).toBe(401);
      await session.body?.cancel();
    }
    await waitUntil(async () => {
      const s = await state(a.url, jar);
      return s.seatsTaken === 1 && !s.students.some((st) => st.id === removed.body.student);
    }, 'the dashboard to show one seat taken');

    // Ending the workshop on A ends the sessions B holds; signing out on A signs out on B.
    const socket = await connect(b.url, reset.jar);
    const ended = await teacherPost('/api/workshop/end', {});
    expect(ended.status).toBe(200);
    expect((await socket.closed).code).toBe(4000);
    await waitUntil(async () => {
      const res = await fetch(`${b.url}/join/${code}`);
      await res.body?.cancel();
      return res.status === 410;
    }, `${b.id} to say the workshop ended`);
    // The cookie as it was before the sign-out (which clears it in this jar).
    const signedIn = jar.header();
    const onB = () => fetch(`${b.url}/api/workshop/state`, { headers: { cookie: signedIn } });
    // As on one server, the dashboard still shows the ended class, on every node.
    const final = await onB();
    expect(final.status).toBe(200);
    expect(((await final.json()) as { ended?: string }).ended).toBeDefined();
    expect((await teacherPost('/teacher/logout', {})).status).toBe(200);
    await waitUntil(async () => (await onB()).status === 401, `the sign-out to reach ${b.id}`);
  });

  it('re-seats the students of a node killed with -9, elsewhere while it is down and there once it is back', async () => {
    const code = await startWorkshop(cluster, 'Killed node', 10);
    const victim = cluster.nodes[2]!;
    await waitUntil(async () => {
      const res = await fetch(`${victim.url}/join/${code}`);
      await res.body?.cancel();
      return res.status === 200;
    }, `${victim.id} to know the workshop`);
    const early = await join_(victim.url, code, 'Early');
    const late = await join_(victim.url, code, 'Late');
    for (const s of [early, late]) expect(s.status).toBe(200);
    const jar = await teacher(cluster.url, cluster, code);
    await cluster.kill(victim.id);

    // While it is down, its page asks two nodes at once (a retry racing the first try): one re-seats
    // it, never both.
    let winner: { session: string } | undefined;
    await waitUntil(async () => {
      const answers = await Promise.all(
        [cluster.nodes[0]!, cluster.nodes[1]!].map(async (n) => {
          const res = await fetch(`${n.url}/api/session`, { headers: { cookie: early.jar.header() } });
          return { res, status: res.status, body: (await res.json()) as { session: string } };
        }),
      );
      const won = answers.filter((a) => a.status === 200);
      expect(won.length).toBeLessThanOrEqual(1);
      // The page keeps the cookies of the answer that gave it a session.
      if (won[0]) early.jar.take(won[0].res);
      winner = won[0]?.body;
      return winner !== undefined;
    }, 'one node to re-seat the page');
    // Through the router (the cookies it now holds), the page finds the session it was given.
    const moved = await sessionAgain(cluster.url, early.jar);
    expect(moved.session).toBe(winner?.session);
    expect(moved.session).not.toBe(early.body.session);
    expect(early.jar.get('layerlab_node')).not.toBe(victim.id);
    expect(await me(cluster.url, early.jar)).toMatchObject({
      you: { name: 'Early' },
      reset: { scope: 'node' },
    });

    // A teacher's reset of a student whose machine is down says so (the page is moved when it asks).
    const { res: reset } = await post(
      cluster.url,
      '/api/workshop/reset-student',
      { student: late.body.student, lesson: '04-writable-layer' },
      jar,
    );
    expect({ status: reset.status, body: await reset.json() }).toEqual({
      status: 409,
      body: { error: { code: 'gone', message: expect.stringContaining(victim.id) } },
    });

    const back = await cluster.restart(victim.id);
    // The class is still in Redis: the restarted node serves it to the teacher signed in before.
    const kept = await state(back.url, jar);
    expect(kept.students.map((s) => s.name).sort()).toEqual(['Early', 'Late']);
    // The other page asks only now: a new session, on the node that came back or another.
    const seated = await sessionAgain(cluster.url, late.jar);
    expect(seated.session).not.toBe(late.body.session);
    expect(await me(cluster.url, late.jar)).toMatchObject({
      you: { name: 'Late' },
      reset: { scope: 'node' },
    });
    await waitUntil(async () => {
      const after = await state(cluster.url, jar);
      const sessions = new Map(after.students.map((s) => [s.name, s]));
      return (
        after.seatsTaken === 2 &&
        sessions.get('Early')?.session === moved.session &&
        sessions.get('Late')?.session === seated.session &&
        after.students.every((s) => s.left === undefined)
      );
    }, 'the dashboard to show both re-seated, two seats taken');
  });

  it('drains a node on SIGTERM and re-seats its students elsewhere with their checks', async () => {
    const code = await startWorkshop(cluster, 'Drain', 10);
    const node = cluster.nodes[1]!;
    await waitUntil(async () => {
      const res = await fetch(`${node.url}/join/${code}`);
      await res.body?.cancel();
      return res.status === 200;
    }, `${node.id} to know the workshop`);
    const students = [await join_(node.url, code, 'Drained One'), await join_(node.url, code, 'Drained Two')];
    for (const s of students) expect(s.status).toBe(200);
    const [first] = students as [Joined];
    // The lesson's check passed in the student's sandbox, through the session API.
    await createContainer(node.url, first.jar, 'one', 'two');
    const { res: checked } = await post(
      node.url,
      '/api/check',
      { lesson: '01-image-vs-container', check: 'two-containers' },
      first.jar,
    );
    expect(checked.status).toBe(200);
    expect(await checked.json()).toMatchObject({ pass: true });
    const jar = await teacher(cluster.url, cluster, code);
    await waitUntil(
      async () =>
        (await state(cluster.url, jar)).students.find((s) => s.name === 'Drained One')?.checks.length === 1,
      'the check on the dashboard',
    );
    const before = await state(cluster.url, jar);
    expect(before.seatsTaken).toBe(2);

    const sockets = await Promise.all(students.map((s) => connect(node.url, s.jar)));
    node.process.kill('SIGTERM');
    await waitUntil(async () => (await readyz(node.url)) === 503, `${node.id}'s /readyz to fail`, 1500);
    for (const s of students)
      await waitUntil(
        async () => (await me(node.url, s.jar))?.notice !== undefined,
        'the drain notice',
        2000,
      );
    // A join that reaches it anyway is sent to another node (or refused), never admitted there.
    const late = await fetch(`${node.url}/join/${code}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: node.url },
      body: JSON.stringify({ name: 'Too Late' }),
      redirect: 'manual',
    });
    await late.body?.cancel();
    expect([307, 503]).toContain(late.status);
    if (late.status === 307)
      expect(late.headers.getSetCookie().join()).not.toContain(`layerlab_node=${node.id};`);
    expect(await node.exited).toBe(0);
    // The sockets drop without "session ended" (4000), so the pages reconnect.
    for (const socket of sockets) expect((await socket.closed).code).not.toBe(4000);

    // Each student's next session request through the router re-seats them on another node.
    for (const s of students) {
      const body = await sessionAgain(cluster.url, s.jar);
      expect(body.session).not.toBe(s.body.session);
      expect(s.jar.get('layerlab_node')).not.toBe(node.id);
      const view = await me(cluster.url, s.jar);
      expect(view).toMatchObject({ reset: { scope: 'node' } });
      expect(view?.notice).toBeUndefined();
    }
    const after = await state(cluster.url, jar);
    expect(after.seatsTaken).toBe(before.seatsTaken);
    expect(after.students.find((s) => s.name === 'Drained One')?.checks).toEqual([
      expect.objectContaining({ lesson: '01-image-vs-container', check: 'two-containers', pass: true }),
    ]);
    expect(after.students.filter((s) => s.left === undefined).map((s) => s.node)).not.toContain(node.id);
  });

  it('explains bad cluster flags and a node id already in use, never printing the password', async () => {
    const root = mkdtempSync(join(tmpdir(), 'layerlab-cluster-flags-'));
    const run = (args: string[]) =>
      new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn(
          process.execPath,
          [join(REPO, 'server', 'bin.js'), '--root', root, 'serve', '--port', '0', ...args],
          {
            env: { ...process.env, LAYERLAB_ADMIN_PASSWORD: 'x'.repeat(16) },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let output = '';
        child.stdout.on('data', (d: Buffer) => {
          output += d.toString();
        });
        child.stderr.on('data', (d: Buffer) => {
          output += d.toString();
        });
        child.once('exit', (code) => resolve({ code, output }));
      });
    try {
      const unreachable = await run(['--cluster', 'redis://:hunter2secret@127.0.0.1:1', '--node-id', 'n1']);
      expect(unreachable.code).not.toBe(0);
      expect(unreachable.output).toContain(
        'cannot reach Redis at redis://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1',
      );
      expect(unreachable.output).not.toContain('hunter2secret');

      const scheme = await run(['--cluster', 'http://x', '--node-id', 'n1']);
      expect(scheme.code).not.toBe(0);
      expect(scheme.output).toMatch(/unsupported scheme "http:"/);

      const badId = await run(['--cluster', cluster.redisUrl, '--node-id', 'Bad Name']);
      expect(badId.code).not.toBe(0);
      expect(badId.output).toContain('invalid node id "Bad Name"');

      const live = cluster.nodes[0]!.id;
      const withPassword = cluster.redisUrl.replace('redis://', 'redis://:hunter2secret@');
      const taken = await run(['--cluster', withPassword, '--node-id', live]);
      expect(taken.code).not.toBe(0);
      expect(taken.output).toContain(`node id "${live}" is already in use by a live node`);
      expect(taken.output).not.toContain('hunter2secret');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('a cluster of small nodes', () => {
  let cluster: LoopbackCluster;

  beforeAll(async () => {
    cluster = await startLoopbackCluster({ nodes: 3, maxSessions: 2 });
  }, 180_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 120_000);

  it('admits a burst of joins through the router while the cluster has room, then frees it', async () => {
    const code = await startWorkshop(cluster, 'Small burst', 20);
    await everyNodeKnows(cluster, code);
    const joined = await Promise.all(
      Array.from({ length: 6 }, (_, i) => join_(cluster.url, code, `Burst ${i + 1}`)),
    );
    expect(joined.map((j) => `${j.status} ${j.body.error?.message ?? ''}`)).toEqual(Array(6).fill('200 '));
    const perNode = new Map<string, number>();
    for (const j of joined) {
      const node = j.jar.get('layerlab_node') ?? '?';
      perNode.set(node, (perNode.get(node) ?? 0) + 1);
    }
    expect(Object.fromEntries(perNode)).toEqual({ 'node-1': 2, 'node-2': 2, 'node-3': 2 });
    // The teacher, through the router, removes them all: each node ends its own students' sessions.
    const jar = await teacher(cluster.url, cluster, code);
    for (const j of joined) {
      const { res } = await post(
        cluster.url,
        '/api/workshop/remove-student',
        { student: j.body.student },
        jar,
      );
      expect(res.status).toBe(200);
      await res.body?.cancel();
    }
    for (const node of cluster.nodes)
      await waitUntil(async () => (await readyz(node.url)) === 200, `${node.id} to have room again`);
  });

  it('admits joins through the router on nodes with room, and says full when none has any', async () => {
    const code = await startWorkshop(cluster, 'Small nodes', 20);
    const [first] = cluster.nodes as [(typeof cluster.nodes)[0]];
    await everyNodeKnows(cluster, code);
    const landed = new Map<string, number>();
    const count = (joined: Joined) => {
      expect(joined.status, `${JSON.stringify(joined.body)} after ${joined.hops} redirects`).toBe(200);
      const node = joined.jar.get('layerlab_node') ?? '?';
      landed.set(node, (landed.get(node) ?? 0) + 1);
    };
    // Two students fill the first node; it is no longer ready.
    for (const name of ['Small 1', 'Small 2']) count(await join_(first.url, code, name));
    expect(await readyz(first.url)).toBe(503);
    // A join it has no room for is sent on, pinned to a node with room by the node cookie.
    await waitUntil(async () => {
      const res = await fetch(`${first.url}/join/${code}`, { redirect: 'manual' });
      await res.body?.cancel();
      return res.status === 307;
    }, `${first.id}'s join form to redirect`);
    const jar = new Jar();
    const { res: moved } = await post(cluster.url, `/join/${code}`, { name: 'Small 3' }, jar);
    const sent = await fetch(`${first.url}/join/${code}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: first.url },
      body: JSON.stringify({ name: 'Small 3b' }),
      redirect: 'manual',
    });
    expect(sent.status).toBe(307);
    await sent.body?.cancel();
    expect(sent.headers.get('location')).toBe(`/join/${code}?hop=1`);
    expect(sent.headers.getSetCookie().join()).toMatch(/layerlab_node=node-[23];/);
    count({ status: moved.status, body: (await moved.json()) as Joined['body'], jar, hops: 0 });
    // The rest join through the router, following redirects: every node ends with its two.
    let hops = 0;
    for (const name of ['Small 4', 'Small 5', 'Small 6']) {
      const joined = await join_(cluster.url, code, name);
      hops += joined.hops;
      count(joined);
    }
    expect(Object.fromEntries(landed)).toEqual({ 'node-1': 2, 'node-2': 2, 'node-3': 2 });
    expect(hops).toBeLessThanOrEqual(3);
    for (const node of cluster.nodes) expect(await readyz(node.url)).toBe(503);
    const full = await join_(cluster.url, code, 'No Room');
    expect(full.status).toBe(503);
    expect(full.body.error?.code).toBe('full');
  });
});

describe('a cluster of one-session nodes', () => {
  let cluster: LoopbackCluster;

  beforeAll(async () => {
    cluster = await startLoopbackCluster({ nodes: 3, maxSessions: 1 });
  }, 180_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 120_000);

  it('sends a student whose node died from a full node to one with room, which seats them at once', async () => {
    const code = await startWorkshop(cluster, 'One each', 5);
    await everyNodeKnows(cluster, code);
    const [first, second, third] = cluster.nodes as [
      (typeof cluster.nodes)[0],
      (typeof cluster.nodes)[0],
      (typeof cluster.nodes)[0],
    ];
    const ada = await join_(first.url, code, 'Ada');
    expect(ada.status).toBe(200);
    expect((await join_(second.url, code, 'Brian')).status).toBe(200);
    const before = ada.jar.header();
    await cluster.kill(first.id);
    // The full node answers Ada's page with the node that has room, once the dead one has lapsed.
    let answer = '';
    await waitUntil(async () => {
      const res = await get(second.url, '/api/session', ada.jar);
      answer = `${res.status} ${res.headers.getSetCookie().join()} ${await res.text()}`;
      return res.headers.getSetCookie().some((c) => c.startsWith(`layerlab_node=${third.id};`));
    }, `${second.id} to send Ada on`).catch((err: Error) => {
      throw new Error(`${err.message}; last answer: ${answer}`);
    });
    expect(answer).toMatch(/^503 .*"code":"moved"/);
    // The node with room seats her on her page's very next try: the full node let go of the re-seat.
    const res = await get(third.url, '/api/session', ada.jar);
    expect(res.status, await res.clone().text()).toBe(200);
    const view = await me(third.url, ada.jar);
    expect(view).toMatchObject({ you: { name: 'Ada' }, reset: { scope: 'node' } });
    // Her old token, replayed (a copied cookie), and a made-up one take no seat, here or elsewhere.
    const forged = `layerlab_session=${'A'.repeat(43)}; layerlab_node=${first.id}`;
    for (const cookie of [before, forged]) {
      for (const node of [second, third]) {
        const replay = await fetch(`${node.url}/api/session`, { headers: { cookie } });
        expect(replay.status, `${node.id}: ${cookie.slice(0, 30)}`).toBe(403);
        expect(((await replay.json()) as { error: { code: string } }).error.code).toBe('not_joined');
      }
    }
  });
});
