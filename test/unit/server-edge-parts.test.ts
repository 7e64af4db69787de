// The small parts of the server's edge: the token bucket, cookie and token reading, the router's
// matching and errors, origin checks, limits merging, and the Prometheus rendering.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createRouter, HttpError, parseCookies, sendJson } from '../../server/http/router.ts';
import { resolveLimits } from '../../server/limits.ts';
import { Metrics } from '../../server/metrics.ts';
import type { Session } from '../../server/sessions/session.ts';
import { TokenBucket } from '../../server/ws/rate-limit.ts';
import { originAllowed } from '../../server/ws/upgrade.ts';

describe('TokenBucket', () => {
  it('allows a burst, refills over time, and counts refusals in a row', () => {
    const bucket = new TokenBucket(3, 10, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(bucket.take(0)).toBe(false);
    expect(bucket.refusedInARow).toBe(2);
    expect(bucket.take(100)).toBe(true); // 100 ms at 10/s: one token back
    expect(bucket.refusedInARow).toBe(0);
    expect(bucket.take(100)).toBe(false);
    expect(bucket.take(10_000)).toBe(true);
    expect([bucket.take(10_000), bucket.take(10_000), bucket.take(10_000)]).toEqual([true, true, false]);
  });
});

describe('cookies and origins', () => {
  it('parses cookies, first value winning, ignoring broken escapes', () => {
    const c = parseCookies('a=1; layerlab_session=tok%2Den; a=2; bad=%E0%A4%A');
    expect(c.get('a')).toBe('1');
    expect(c.get('layerlab_session')).toBe('tok-en');
    expect(c.has('bad')).toBe(false);
    expect(parseCookies(undefined).size).toBe(0);
  });

  it('allows the server’s own origin and listed ones only', () => {
    const req = (origin: string | undefined, host = '127.0.0.1:8080') =>
      ({ headers: { host, ...(origin ? { origin } : {}) } }) as IncomingMessage;
    expect(originAllowed(req('http://127.0.0.1:8080'), [])).toBe(true);
    expect(originAllowed(req('https://127.0.0.1:8080'), [])).toBe(true);
    expect(originAllowed(req('http://127.0.0.1:8081'), [])).toBe(false);
    expect(originAllowed(req('http://evil.example'), [])).toBe(false);
    expect(originAllowed(req('http://localhost:4321'), ['http://localhost:4321'])).toBe(true);
    expect(originAllowed(req(undefined), [])).toBe(false);
    expect(originAllowed(req('null'), [])).toBe(false);
  });
});

describe('limits', () => {
  it('merges overrides into the defaults, nested groups too', () => {
    const limits = resolveLimits({ maxSessions: 3, ws: { burst: 5 }, container: { pids: 64 } });
    expect(limits.maxSessions).toBe(3);
    expect(limits.ws.burst).toBe(5);
    expect(limits.ws.maxPayload).toBe(64 * 1024);
    expect(limits.container.pids).toBe(64);
    expect(limits.container.memoryBytes).toBe(256 * 1024 * 1024);
  });
});

describe('router', () => {
  async function serve(router: ReturnType<typeof createRouter>) {
    const server = createServer(async (req, res) => {
      if (!(await router.handle(req, res))) sendJson(res, 404, { unmatched: true });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url, close: () => new Promise<void>((r) => server.close(() => r())) };
  }

  it('matches params, resolves sessions, caps bodies and turns errors into JSON', async () => {
    const session = { id: 's1', touch() {} } as unknown as Session;
    const errors: unknown[] = [];
    const router = createRouter({
      resolveSession: (token) => (token === 'good' ? session : undefined),
      maxBodyBytes: 100,
      onError: (err) => errors.push(err),
    });
    router.get('/api/containers/:id/files', (_req, res, ctx) =>
      sendJson(res, 200, { id: ctx.params.id, path: ctx.query.get('path'), session: ctx.session?.id }),
    );
    router.post('/api/echo', (_req, res, ctx) => sendJson(res, 200, { body: ctx.body }));
    router.get('/api/public', (_req, res, ctx) => sendJson(res, 200, { session: ctx.session?.id ?? null }), {
      auth: 'none',
    });
    router.get('/api/teapot', () => {
      throw new HttpError(418, 'teapot', 'short and stout');
    });
    router.get('/api/bug', () => {
      throw new Error('secret internals');
    });
    const { url, close } = await serve(router);
    try {
      const cookie = { cookie: 'layerlab_session=good' };
      const files = await fetch(`${url}/api/containers/a%20b/files?path=/etc`, { headers: cookie });
      expect(await files.json()).toEqual({ id: 'a b', path: '/etc', session: 's1' });
      expect((await fetch(`${url}/api/containers/x/files?token=good`)).status).toBe(200);
      const denied = await fetch(`${url}/api/containers/x/files`);
      expect(denied.status).toBe(401);
      expect(((await denied.json()) as { error: { code: string } }).error.code).toBe('no_session');
      expect(await (await fetch(`${url}/api/public`)).json()).toEqual({ session: null });

      // As a page of the server posts: its Origin, a JSON body (origin.ts refuses anything else).
      const post = { ...cookie, origin: url, 'content-type': 'application/json' };
      const echo = await fetch(`${url}/api/echo`, { method: 'POST', headers: post, body: '{"a":1}' });
      expect(await echo.json()).toEqual({ body: { a: 1 } });
      const big = await fetch(`${url}/api/echo`, { method: 'POST', headers: post, body: 'x'.repeat(200) });
      expect(big.status).toBe(413);
      const bad = await fetch(`${url}/api/echo`, { method: 'POST', headers: post, body: '{' });
      expect(bad.status).toBe(400);
      expect((await fetch(`${url}/api/echo`, { headers: cookie })).status).toBe(405);

      const teapot = await fetch(`${url}/api/teapot`, { headers: cookie });
      expect(teapot.status).toBe(418);
      expect(await teapot.json()).toEqual({ error: { code: 'teapot', message: 'short and stout' } });
      const bug = await fetch(`${url}/api/bug`, { headers: cookie });
      expect(bug.status).toBe(500);
      expect(await bug.text()).not.toMatch(/secret/);
      expect(errors).toHaveLength(1);
      expect(await (await fetch(`${url}/elsewhere`)).json()).toEqual({ unmatched: true });
    } finally {
      await close();
    }
  });
});

describe('Metrics', () => {
  it('renders gauges, counters and a cumulative histogram', () => {
    const m = new Metrics();
    let sessions = 2;
    m.gauge('layerlab_sessions', 'Sessions.', () => sessions);
    m.pullsTotal = 3;
    m.error();
    m.observe('pull', 0.3);
    m.observe('pull', 4);
    sessions = 5;
    const text = m.render();
    expect(text).toMatch(
      /^# HELP layerlab_sessions Sessions\.\n# TYPE layerlab_sessions gauge\nlayerlab_sessions 5\n/,
    );
    expect(text).toMatch(/\nlayerlab_pulls_total 3\n/);
    expect(text).toMatch(/\nlayerlab_errors_total 1\n/);
    expect(text).toMatch(/\nlayerlab_latency_seconds_bucket\{kind="pull",le="0.25"\} 0\n/);
    expect(text).toMatch(/\nlayerlab_latency_seconds_bucket\{kind="pull",le="0.5"\} 1\n/);
    expect(text).toMatch(/\nlayerlab_latency_seconds_bucket\{kind="pull",le="5"\} 2\n/);
    expect(text).toMatch(/\nlayerlab_latency_seconds_bucket\{kind="pull",le="\+Inf"\} 2\n/);
    expect(text).toMatch(/\nlayerlab_latency_seconds_sum\{kind="pull"\} 4.3\n/);
    expect(text.endsWith('\n')).toBe(true);
  });
});
