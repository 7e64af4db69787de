// Issue #9, finding 11: DNS rebinding. A page on attacker.test re-points its own name at 127.0.0.1
// and talks to a local Layerlab as its own origin: its requests say `Host: attacker.test` and
// `Origin: http://attacker.test:PORT`, so an Origin-equals-Host check waves them through. The server
// answers only host names it was configured for (loopback names, IP literals, its public URLs); every
// other HTTP request and WebSocket upgrade gets 421 before anything else looks at it.

import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../server/app.ts';
import { rawRequest, rawUpgrade } from '../support/http.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

let srv: TestServer;
let publicSrv: TestServer;
let port: string;

beforeAll(async () => {
  srv = await startTestServer();
  port = new URL(srv.url).port;
  publicSrv = await startTestServer({ publicUrls: ['https://layerlab.example.org'] });
});

afterAll(async () => {
  await srv?.close();
  await publicSrv?.close();
});

const wsPath = (server: TestServer, token: string) => `${server.url}/ws?token=${encodeURIComponent(token)}`;

describe('a foreign Host (DNS rebinding)', () => {
  it('is refused with 421 on every HTTP request: pages, the API and session creation', async () => {
    const before = srv.server.sessions.count;
    const rebound = { host: `attacker.test:${port}`, origin: `http://attacker.test:${port}` };
    for (const path of ['/', '/healthz', '/api/session', '/api/state', '/teacher']) {
      const res = await rawRequest(`${srv.url}${path}`, { headers: rebound });
      expect(res.status, path).toBe(421);
      expect(res.body).toMatch(/does not answer for the host name "attacker\.test".*--public-url/s);
    }
    const post = await rawRequest(`${srv.url}/api/reset`, {
      method: 'POST',
      headers: { ...rebound, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(post.status).toBe(421);
    expect(srv.server.sessions.count).toBe(before);
  });

  it('is refused with 421 on a WebSocket upgrade, even with a valid token and an Origin that matches it', async () => {
    const { token } = await srv.newSession();
    const res = await rawUpgrade(wsPath(srv, token), {
      host: `attacker.test:${port}`,
      origin: `http://attacker.test:${port}`,
    });
    expect(res.status).toBe(421);
    expect(res.body).toMatch(/attacker\.test/);
    // The teacher's watch sockets are behind the same check.
    const watch = await rawUpgrade(`${srv.url}/teacher/watch/${'a'.repeat(32)}/main/ws`, {
      host: `attacker.test:${port}`,
      origin: `http://attacker.test:${port}`,
    });
    expect(watch.status).toBe(421);
  });

  it('is refused for look-alikes of the loopback names', async () => {
    for (const host of ['localhost.attacker.test', '127.0.0.1.nip.io', 'attacker.test.', 'xn--localhost']) {
      const res = await rawRequest(`${srv.url}/healthz`, { headers: { host: `${host}:${port}` } });
      expect(res.status, host).toBe(421);
    }
  });
});

describe('the server’s own names', () => {
  it('answers localhost:PORT, 127.0.0.1:PORT and [::1]:PORT, over HTTP and WebSocket', async () => {
    const { token } = await srv.newSession();
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `LocalHost:${port}`]) {
      const res = await rawRequest(`${srv.url}/healthz`, { headers: { host } });
      expect(res.status, host).toBe(200);
      const ws = await rawUpgrade(wsPath(srv, token), { host, origin: `http://${host}` });
      expect(ws.status, host).toBe(101);
    }
  });

  it('answers a configured public host, and still refuses others', async () => {
    const { token } = await publicSrv.newSession();
    const ok = await rawRequest(`${publicSrv.url}/healthz`, { headers: { host: 'layerlab.example.org' } });
    expect(ok.status).toBe(200);
    const ws = await rawUpgrade(wsPath(publicSrv, token), {
      host: 'layerlab.example.org',
      origin: 'https://layerlab.example.org',
    });
    expect(ws.status).toBe(101);
    const other = await rawRequest(`${publicSrv.url}/healthz`, { headers: { host: 'attacker.test' } });
    expect(other.status).toBe(421);
  });
});

describe('listening on every address with no public URL', () => {
  it('answers IP addresses and this machine’s name, refuses other names, and tells the operator', async () => {
    const root = mkdtempSync(join(tmpdir(), 'layerlab-srv-'));
    const logs: string[] = [];
    const server = createServer({ root, cleanup: false, log: (m) => logs.push(m) });
    try {
      await server.listen(0, '0.0.0.0');
      const url = `http://127.0.0.1:${new URL(server.url).port}`;
      expect(logs.join('\n')).toMatch(/listening on 0\.0\.0\.0 with no --public-url/);
      for (const host of ['127.0.0.1', '192.0.2.10', hostname()]) {
        expect((await rawRequest(`${url}/healthz`, { headers: { host } })).status, host).toBe(200);
      }
      expect((await rawRequest(`${url}/healthz`, { headers: { host: 'attacker.test' } })).status).toBe(421);
    } finally {
      await server.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
