// Issue #9, finding 4: a visitor could make the server connect to any host:port (a pull, a push, a
// Bearer realm, a redirect) and read status codes and error texts back, probing internal services.
// Here a session of a real server tries each; a listener that stands for an internal service records
// every connection, and must record none.

import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openShell, startTestServer, type TestServer } from '../support/server.ts';
import { shellCommand } from '../support/shell-command.ts';

/** An HTTP server that counts connections and answers with a body that must never reach a visitor. */
interface Listener {
  host: string;
  connections: number;
  close(): Promise<void>;
}

async function listen(
  handler: (req: { url?: string }, res: import('node:http').ServerResponse) => void,
): Promise<Listener & { server: Server }> {
  const server = createHttpServer((req, res) => handler(req, res));
  const sockets = new Set<Socket>();
  const listener = {
    server,
    host: '',
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  server.on('connection', (socket: Socket) => {
    listener.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  listener.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return listener;
}

const SECRET = 'internal-service-secret-body';

let internal: Listener;
/** An allowed registry that sends its clients elsewhere: a realm, then a redirect, at the internal one. */
let hostile: Listener;
let mode: 'realm' | 'redirect' = 'realm';
let srv: TestServer;

beforeAll(async () => {
  internal = await listen((_req, res) => {
    res.writeHead(418, { 'Content-Type': 'text/plain' });
    res.end(SECRET);
  });
  hostile = await listen((req, res) => {
    if (mode === 'realm') {
      res.writeHead(401, {
        'WWW-Authenticate': `Bearer realm="http://${internal.host}/token",service="hostile"`,
        'Content-Type': 'application/json',
      });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"token please"}]}');
      return;
    }
    if (req.url === '/v2/' || req.url === '/v2') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{}');
      return;
    }
    res.writeHead(307, { Location: `http://${internal.host}/admin?${SECRET}` });
    res.end();
  });
  // The operator allows the hostile registry (as one might allow a registry of their own), not the
  // internal service it points at.
  srv = await startTestServer({ limits: { allowedRegistries: [hostile.host] } });
});

afterAll(async () => {
  await srv?.close();
  await internal?.close();
  await hostile?.close();
});

async function shell() {
  const { token } = await srv.newSession();
  const client = await srv.connect(token);
  const channel = await openShell(client);
  return { client, sh: (command: string) => shellCommand(client, channel, command) };
}

describe('registries a session may reach', () => {
  it('refuses a pull or push to a host:port the operator did not allow, before any connection', async () => {
    const { client, sh } = await shell();
    const pulled = await sh(`docker pull ${internal.host}/probe:latest`);
    expect(pulled).toContain(`Error response from daemon: registry "${internal.host}" is not allowed here`);
    expect(pulled).toContain('allowed: docker.io via the local mirror');

    expect(await sh('docker pull busybox')).toMatch(/Status: /);
    expect(await sh(`docker tag busybox ${internal.host}/probe:latest`)).toBe('');
    const pushed = await sh(`docker push ${internal.host}/probe:latest`);
    expect(pushed).toMatch(/Error response from daemon: denied/);

    // Addresses that would take a connect timeout if they were tried answer at once.
    const blackhole = await sh('docker pull 10.255.255.1:8080/probe');
    expect(blackhole).toContain('registry "10.255.255.1:8080" is not allowed here');
    expect(internal.connections).toBe(0);
    for (const out of [pulled, pushed, blackhole]) {
      expect(out).not.toContain(SECRET);
      // The internal service's status as a word: a port number may well contain the digits 418.
      expect(out).not.toMatch(/\b418\b|teapot/i);
    }
    await client.close();
  });

  it("does not follow an allowed registry's Bearer realm or redirect to a host that is not allowed", async () => {
    const { client, sh } = await shell();
    mode = 'realm';
    const viaRealm = await sh(`docker pull ${hostile.host}/app:latest`);
    expect(viaRealm).toContain(`registry "${internal.host}" is not allowed here`);
    mode = 'redirect';
    const viaRedirect = await sh(`docker pull ${hostile.host}/app:v2`);
    expect(viaRedirect).toContain(`registry "${internal.host}" is not allowed here`);
    expect(hostile.connections).toBeGreaterThan(0);
    expect(internal.connections).toBe(0);
    for (const out of [viaRealm, viaRedirect]) {
      expect(out).not.toContain(SECRET);
      // The internal service's status as a word: a port number may well contain the digits 418.
      expect(out).not.toMatch(/\b418\b|teapot/i);
    }
    await client.close();
  });
});
