// Sessions on a real server: isolation of containers between sessions, idle reaping that frees
// every mount, cgroup, process and directory, the session limit, and the start-up cleanup of a
// previous run's leftover session with a running container.

import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { engineConfigSchema } from '../../engine/config.ts';
import { resolveContainer, runContainer } from '../../engine/container/index.ts';
import { runDir } from '../../engine/container/state.ts';
import { createContext, type EngineContext } from '../../engine/context.ts';
import { containerCgroupDirs as cgroupDirsOf } from '../../engine/host/cgroups.ts';
import { mountsUnder } from '../../engine/host/mounts.ts';
import { pull } from '../../engine/pull.ts';
import { runningShimPid } from '../../engine/runtime/shim.ts';
import { sessionRoot } from '../../engine/store/paths.ts';
import type { ServerSession } from '../../server/sessions/manager.ts';
import { testRegistryCredentials, testRegistryHost } from '../support/context.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

async function until(
  probe: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A detached `sleep` in the session, and what it holds on the host. */
async function busyContainer(ctx: EngineContext, name: string) {
  await pull(ctx, 'busybox');
  const { record } = await runContainer(ctx, { image: 'busybox', name, cmd: ['sleep', '300'], detach: true });
  const shim = runningShimPid(runDir(ctx, record.id));
  expect(shim).toBeDefined();
  expect(mountsUnder(ctx.root).length).toBeGreaterThan(0);
  expect(cgroupDirsOf(record.id).length).toBeGreaterThan(0);
  return { id: record.id, shim: shim! };
}

/** Gone, or exited and waiting for its parent (this test process) to reap it. */
function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

function expectNothingLeft(root: string, container: { id: string; shim: number }): void {
  expect(mountsUnder(root)).toEqual([]);
  expect(existsSync(root)).toBe(false);
  expect(cgroupDirsOf(container.id)).toEqual([]);
  expect(processGone(container.shim), `shim ${container.shim} still runs`).toBe(true);
}

describe('sessions', () => {
  it('keeps sessions apart: B cannot resolve A’s container by name or id', async () => {
    const srv = await startTestServer();
    servers.push(srv);
    const a = await srv.newSession();
    const b = await srv.newSession();
    const sa = srv.server.sessions.get(a.session)!;
    const sb = srv.server.sessions.get(b.session)!;
    const c = await busyContainer(sa.ctx, 'shared-name');
    await expect(resolveContainer(sb.ctx, 'shared-name')).rejects.toThrow(/No such container: shared-name/);
    await expect(resolveContainer(sb.ctx, c.id)).rejects.toThrow(/No such container/);
    // The same name is free in B: names are per session.
    const other = await busyContainer(sb.ctx, 'shared-name');
    expect(other.id).not.toBe(c.id);
    await srv.server.sessions.dispose(a.session);
    expectNothingLeft(sa.root, c);
    // B's container survived A's teardown.
    expect((await resolveContainer(sb.ctx, 'shared-name')).state.status).toBe('running');
    await srv.server.sessions.dispose(b.session);
    expectNothingLeft(sb.root, other);
  });

  it('reaps an idle session with everything it held, and spares one with a socket', async () => {
    // Long enough that a loaded machine connects both pages before either counts as idle.
    const srv = await startTestServer({ limits: { idleTimeoutMs: 2000, reapIntervalMs: 100 } });
    servers.push(srv);
    const idle = await srv.newSession();
    const held = await srv.newSession();
    const client = await srv.connect(held.token);
    // While its page is open the session is not idle; it starts a container, then the page goes.
    const page = await srv.connect(idle.token);
    const session = srv.server.sessions.get(idle.session) as ServerSession;
    const c = await busyContainer(session.ctx, 'idle-web');
    await page.close();
    await until(
      () => srv.server.sessions.get(idle.session) === undefined,
      20_000,
      'the idle session to be reaped',
    );
    expectNothingLeft(session.root, c);
    expect(srv.logs.filter((l) => /teardown left/.test(l))).toEqual([]);
    expect(srv.server.sessions.get(held.session)).toBeDefined();
    // Its token no longer opens anything.
    const res = await fetch(`${srv.url}/api/session?token=${idle.token}`);
    expect(((await res.json()) as { session: string }).session).not.toBe(idle.session);
    client.send({ type: 'ping' });
    await client.next('pong');
    await client.close();
  });

  it('stops a container that outlives the per-container run time, and leaves the session', async () => {
    const srv = await startTestServer({ limits: { reapIntervalMs: 100, container: { maxRunMs: 500 } } });
    servers.push(srv);
    const { session: id, token } = await srv.newSession();
    const client = await srv.connect(token);
    const session = srv.server.sessions.get(id) as ServerSession;
    const c = await busyContainer(session.ctx, 'forgotten');
    await until(
      async () => (await resolveContainer(session.ctx, c.id)).state.status === 'exited',
      20_000,
      'the overdue container to be stopped',
    );
    expect(srv.server.sessions.get(id)).toBeDefined();
    await client.close();
  });

  it('closes a disposed session’s sockets with 4000', async () => {
    const srv = await startTestServer();
    servers.push(srv);
    const s = await srv.newSession();
    const client = await srv.connect(s.token);
    await srv.server.internals.endSession(s.session, 'reset by the teacher');
    expect(await client.closed).toEqual({ code: 4000, reason: 'reset by the teacher' });
  });

  it('refuses sessions past maxSessions with 503', async () => {
    const srv = await startTestServer({ limits: { maxSessions: 2 } });
    servers.push(srv);
    await srv.newSession();
    await srv.newSession();
    const res = await fetch(`${srv.url}/api/session`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: { code: 'full', message: expect.stringMatching(/full/) } });
  });
});

describe('start-up cleanup', () => {
  it('removes a previous run’s session with a running container', async () => {
    const root = mkdtempSync(join(tmpdir(), 'layerlab-srv-'));
    const host = testRegistryHost();
    const config = engineConfigSchema.parse({ mirrors: host ? { 'docker.io': [`http://${host}`] } : {} });
    // What a crashed server leaves: a session root with a running container and its shim.
    const leftover = createContext(sessionRoot(root, 'f'.repeat(32)), {
      config,
      sharedContent: root,
      registry: { credentials: testRegistryCredentials() },
    });
    const c = await busyContainer(leftover, 'left-behind');

    const srv = await startTestServer({ root, config });
    servers.push(srv);
    expectNothingLeft(leftover.root, c);
    // The server works on the cleaned root.
    const s = await srv.newSession();
    const client = await srv.connect(s.token);
    await client.close();
  });
});
