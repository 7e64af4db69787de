// Issue #9, finding 6: session exhaustion. One address made 186 sessions in 3.8 s and everyone else
// got 503 "server full" for half an hour; in workshop mode, 192 anonymous sessions made a student's
// join fail with 27 seats free. Now sessions are capped per client address (a live count and a token
// bucket, 429 with Retry-After), a session that never opens a socket goes after a short grace, and a
// workshop's free seats are kept out of the capacity readers without a seat may take.

import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../server/limits.ts';
import { rawRequest } from '../support/http.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startWorkshopServer } from '../support/workshop.ts';

const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

async function until(probe: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const newSession = (
  srv: TestServer,
  options: { localAddress?: string; headers?: Record<string, string> } = {},
) => rawRequest(`${srv.url}/api/session`, options);

describe('one address asking for sessions as fast as it can', () => {
  it('is capped with 429 and Retry-After, and a reader from another address is still served', async () => {
    // The default caps, with the refill slowed so that a slow run cannot earn a token half-way.
    const limits = { ...DEFAULT_LIMITS.sessionsPerAddress, perMinute: 1 };
    const srv = await startTestServer({ limits: { sessionsPerAddress: limits } });
    servers.push(srv);
    const { max, burst } = limits;
    // The attack: 200 requests at once from 127.0.0.1, each a new visitor as far as the server knows.
    const answers = await Promise.all(Array.from({ length: 200 }, () => newSession(srv)));
    const served = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    expect(served.length + refused.length).toBe(200);
    expect(served.length).toBeGreaterThan(0);
    expect(served.length).toBeLessThanOrEqual(Math.min(max, burst));
    expect(srv.server.sessions.count).toBe(served.length);
    const sample = refused[0]!;
    expect(Number(sample.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(sample.body)).toEqual({
      error: {
        code: 'too_many_sessions',
        message: expect.stringMatching(/too many .*sessions from your address/),
      },
    });

    // Forged forwarding headers do not make it someone else: no proxy is trusted.
    for (let i = 0; i < 5; i++) {
      const spoofed = await newSession(srv, {
        headers: { 'x-forwarded-for': `203.0.113.${i}`, forwarded: `for=198.51.100.${i}` },
      });
      expect(spoofed.status).toBe(429);
    }

    // Another reader, from another address, gets a session at once.
    const other = await newSession(srv, { localAddress: '127.0.0.2' });
    expect(other.status).toBe(200);
  });

  it('gets its share back as its sessions end', async () => {
    const srv = await startTestServer({
      limits: { sessionsPerAddress: { max: 2, burst: 10, perMinute: 600 } },
    });
    servers.push(srv);
    const first = JSON.parse((await newSession(srv)).body) as { session: string };
    expect((await newSession(srv)).status).toBe(200);
    expect((await newSession(srv)).status).toBe(429);
    await srv.server.sessions.dispose(first.session);
    expect((await newSession(srv)).status).toBe(200);
  });
});

describe('sessions that never open a socket', () => {
  it('are disposed after the grace; a session with a page open is kept', async () => {
    const srv = await startTestServer({ limits: { connectGraceMs: 500 } });
    servers.push(srv);
    const abandoned = await srv.newSession();
    const root = srv.server.sessions.get(abandoned.session)!.root;
    const kept = await srv.newSession();
    const client = await srv.connect(kept.token);
    await until(
      () => srv.server.sessions.get(abandoned.session) === undefined,
      30_000,
      'the abandoned session to go',
    );
    await until(() => !existsSync(root), 30_000, 'its root to be removed');
    expect(srv.server.sessions.get(kept.session)).toBeDefined();
    client.send({ type: 'ping' });
    await client.next('pong');
    await client.close();
    // The session with a page stays after its socket closes: the idle timeout (30 min) applies to it.
    await new Promise((r) => setTimeout(r, 1000));
    expect(srv.server.sessions.get(kept.session)).toBeDefined();
  });
});

describe('a workshop’s free seats', () => {
  it('are kept for students: anonymous sessions cannot take them', async () => {
    const { srv, service, code } = await startWorkshopServer(
      { name: 'Seats kept', seats: 4, teacherPassword: 'chalk-and-cheese' },
      { server: { limits: { maxSessions: 8 } } },
    );
    servers.push(srv);
    // The attack: anonymous readers from many addresses ask for every session the node has.
    const anonymous = await Promise.all(
      Array.from({ length: 24 }, (_, i) => newSession(srv, { localAddress: `127.0.0.${10 + (i % 6)}` })),
    );
    const statuses = anonymous.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(8 - 4);
    expect(statuses.filter((s) => s === 503)).toHaveLength(24 - 4);
    expect(JSON.parse(anonymous.find((a) => a.status === 503)!.body).error.message).toMatch(
      /full .*kept for workshop students/,
    );

    // Every student with the code still gets a seat.
    for (const name of ['Ada', 'Brian', 'Cleo', 'Dmitri']) {
      const join = await rawRequest(`${srv.url}/join/${code}`, {
        method: 'POST',
        headers: { origin: srv.url, 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      expect(join.status, name).toBe(200);
    }
    expect(srv.server.sessions.count).toBe(8);
    // The fifth finds the workshop full, as it should.
    const late = await rawRequest(`${srv.url}/join/${code}`, {
      method: 'POST',
      headers: { origin: srv.url, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Eve' }),
    });
    expect(late.status).toBe(503);
    expect(JSON.parse(late.body).error.message).toMatch(/This workshop is full/);
    service.close();
  });
});
