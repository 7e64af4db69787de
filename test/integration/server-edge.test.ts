// The server's edge against a real server on port 0 and real ws clients: sessions by cookie and
// token, upgrades refused before a socket exists, bad input answered with error frames, floods
// rate-limited, and /healthz and /metrics answering throughout.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from '../support/server.ts';

let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({ limits: { ws: { burst: 20, perSecond: 10, abuseLimit: 400 } } });
});

afterAll(async () => {
  await srv?.close();
});

/** The HTTP status a refused upgrade answered with. */
function upgradeStatus(url: string, headers: Record<string, string>, origin?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, ...(origin ? { origin } : {}) });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      ws.close();
      reject(new Error('upgrade was accepted'));
    });
    ws.on('error', () => {});
  });
}

async function healthy(): Promise<void> {
  const res = await fetch(`${srv.url}/healthz`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { ok: boolean; sessions: number };
  expect(body.ok).toBe(true);
}

describe('sessions over HTTP', () => {
  it('creates a session with an HttpOnly cookie and keeps it when the cookie comes back', async () => {
    const res = await fetch(`${srv.url}/api/session`);
    expect(res.status).toBe(200);
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^layerlab_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    const first = (await res.json()) as { session: string; token: string };
    expect(first.session).toMatch(/^[a-f0-9]{32}$/);

    const again = await fetch(`${srv.url}/api/session`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(((await again.json()) as { session: string }).session).toBe(first.session);

    const byToken = await fetch(`${srv.url}/api/session?token=${first.token}`);
    expect(((await byToken.json()) as { session: string }).session).toBe(first.session);

    const forged = await fetch(`${srv.url}/api/session`, { headers: { cookie: 'layerlab_session=forged' } });
    expect(((await forged.json()) as { session: string }).session).not.toBe(first.session);
  });

  it('accepts the token from the cookie or the URL on the WebSocket', async () => {
    const { token, session } = await srv.newSession();
    const a = await srv.connect(token, { cookie: true });
    const b = await srv.connect(token);
    expect(a.messages[0]).toEqual({ type: 'welcome', session });
    expect(b.messages[0]).toEqual({ type: 'welcome', session });
    a.send({ type: 'ping' });
    await a.next('pong');
    await Promise.all([a.close(), b.close()]);
  });

  it('serves a placeholder page while the site is not built', async () => {
    const res = await fetch(`${srv.url}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/Layerlab/);
    expect((await fetch(`${srv.url}/../../etc/passwd`)).status).toBe(404);
  });
});

describe('upgrade checks', () => {
  it('refuses a missing or wrong token with 401 and a foreign origin with 403', async () => {
    const { token } = await srv.newSession();
    const ws = `${srv.url.replace('http', 'ws')}/ws`;
    expect(await upgradeStatus(ws, {}, srv.url)).toBe(401);
    expect(await upgradeStatus(`${ws}?token=${'A'.repeat(43)}`, {}, srv.url)).toBe(401);
    expect(await upgradeStatus(`${ws}?token=${token}`, {}, 'http://evil.example')).toBe(403);
    expect(await upgradeStatus(`${ws}?token=${token}`, {})).toBe(403);
    expect(await upgradeStatus(`${srv.url.replace('http', 'ws')}/other?token=${token}`, {}, srv.url)).toBe(
      404,
    );
    await healthy();
  });
});

describe('bad input', () => {
  it('answers malformed JSON, unknown types and bad fields with error frames', async () => {
    const { token } = await srv.newSession();
    const c = await srv.connect(token);
    c.send('{not json');
    expect(await c.next('error')).toMatchObject({ code: 'bad_json' });
    c.send(JSON.stringify({ type: 'terminal.explode' }));
    const unknown = await c.next('error');
    expect(unknown.code).toBe('invalid_message');
    expect(unknown.message).toMatch(/unknown message type "terminal.explode"/);
    c.send(JSON.stringify({ type: 'terminal.open', terminal: '../x', cols: 80, rows: 24 }));
    expect((await c.next('error')).message).toMatch(/^terminal.open: terminal: /);
    c.send(JSON.stringify([1, 2]));
    expect((await c.next('error')).message).toBe('message must be a JSON object');
    c.sendInput(7, 'ls\r');
    expect(await c.next('error')).toMatchObject({ code: 'bad_frame' });
    c.send({ type: 'state.get', id: 'r1' });
    const answer = await Promise.race([
      c.next('result', (m) => m.id === 'r1'),
      c.next('error', (m) => m.id === 'r1'),
    ]);
    expect(answer.type).toBe('result');
    c.send({ type: 'ping' });
    await c.next('pong');
    await c.close();
  });

  it('closes a socket that sends more than maxPayload with 1009, and keeps serving', async () => {
    const { token } = await srv.newSession();
    const c = await srv.connect(token);
    c.send(JSON.stringify({ type: 'terminal.run', terminal: 'x', command: 'a'.repeat(70 * 1024) }));
    expect((await c.closed).code).toBe(1009);
    await healthy();
    const again = await srv.connect(token);
    again.send({ type: 'ping' });
    await again.next('pong');
    await again.close();
  });

  it('rate-limits a flood with error frames and closes persistent abuse with 1008', async () => {
    const { token } = await srv.newSession();
    const c = await srv.connect(token);
    for (let i = 0; i < 300; i++) c.send({ type: 'ping' });
    expect(await c.next('error')).toMatchObject({ code: 'rate_limited' });
    const pongs = () => c.messages.filter((m) => m.type === 'pong').length;
    await c.next('pong');
    expect(pongs()).toBeLessThan(300);
    await healthy();

    const abuser = await srv.connect(token);
    for (let i = 0; i < 1000; i++) abuser.send({ type: 'ping' });
    expect((await abuser.closed).code).toBe(1008);
    await healthy();
    await c.close();
  });
});

describe('/metrics', () => {
  it('is Prometheus text with the server series', async () => {
    const res = await fetch(`${srv.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0.0.4/);
    const text = await res.text();
    const samples = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) {
        if (line.startsWith('#')) expect(line).toMatch(/^# (HELP|TYPE) layerlab_\w+ .+$/);
        continue;
      }
      const m = /^(layerlab_\w+)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? (\S+)$/.exec(line);
      expect(m, `not a sample line: ${line}`).not.toBeNull();
      const value = Number(m![4]);
      expect(Number.isNaN(value)).toBe(false);
      samples.set(`${m![1]}${m![2] ?? ''}`, value);
    }
    expect(samples.get('layerlab_sessions')).toBeGreaterThan(0);
    expect(samples.has('layerlab_containers')).toBe(true);
    expect(samples.has('layerlab_pulls_total')).toBe(true);
    expect(samples.get('layerlab_errors_total')).toBeGreaterThan(0);
    expect(samples.get('layerlab_ws_messages_total{direction="in"}')).toBeGreaterThan(0);
    expect(samples.has('layerlab_latency_seconds_count{kind="command"}')).toBe(true);
    expect(samples.has('layerlab_latency_seconds_bucket{kind="pull",le="+Inf"}')).toBe(true);
  });
});
