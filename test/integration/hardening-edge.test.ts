// The network edge under abuse, against a real server on port 0 and real ws clients: fuzzed frames,
// messages out of order, another session's terminals and containers, wrong origins and tokens, and
// two thousand idle sockets held against the per-address and server-wide caps. Every abuse gets an
// error frame, a close code or a refused upgrade; the server keeps answering a normal session.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CLOSE, parseClientMessage, type ServerMessage } from '../../server/protocol.ts';
import { fuzz } from '../fuzz/budget.ts';
import { frame } from '../fuzz/ws-frames.ts';
import { startTestServer, type TestClient, type TestServer } from '../support/server.ts';

let srv: TestServer;

beforeAll(async () => {
  // Generous rate limits: the fuzzer's frames must reach validation, not the token bucket.
  srv = await startTestServer({ limits: { ws: { burst: 5000, perSecond: 5000 } } });
});

afterAll(async () => {
  await srv?.close();
});

async function healthy(server: TestServer = srv): Promise<void> {
  const res = await fetch(`${server.url}/healthz`);
  expect(res.status).toBe(200);
  expect(((await res.json()) as { ok: boolean }).ok).toBe(true);
}

/** The HTTP status and body a refused upgrade answered with. */
function refusedUpgrade(
  url: string,
  options: { headers?: Record<string, string>; origin?: string; localAddress?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('open', () => {
      ws.close();
      reject(new Error(`upgrade to ${url} was accepted`));
    });
    ws.on('error', () => {});
  });
}

let marks = 0;

/**
 * Waits until every frame sent before has been handled: a `state.get` with an id of its own, answered
 * after the (synchronous) refusals of the frames before it. A fuzzed `ping` makes pongs of its own,
 * so a pong would not tell which one came back.
 */
async function roundTrip(c: TestClient): Promise<void> {
  const id = `mark-${++marks}`;
  c.send({ type: 'state.get', id });
  await Promise.race([c.next('result', (m) => m.id === id), c.next('error', (m) => m.id === id)]);
}

describe('fuzzed frames through a real socket', () => {
  it('answers every invalid frame with an error frame and never drops the socket or the server', async () => {
    const { token } = await srv.newSession();
    const c = await srv.connect(token);
    // Counted as frames arrive, and the client's list emptied after each run, so a long budget
    // costs the same per run at the end as at the start.
    let errors = 0;
    const codes = new Set<string>();
    const open = new Map<string, number>();
    c.ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const m = JSON.parse(data.toString()) as ServerMessage;
      if (m.type === 'error') {
        errors++;
        codes.add(m.code);
      }
      if (m.type === 'terminal.opened') open.set(m.terminal, m.channel);
      if (m.type === 'terminal.closed') open.delete(m.terminal);
    });
    let invalid = 0;
    await fuzz(
      'ws/frames-through-socket',
      150,
      fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 5 }), async (frames) => {
        const before = errors;
        const channels = new Set(open.values());
        let opening = false;
        let expected = 0;
        for (const f of frames) {
          if ('text' in f) {
            c.send(f.text);
            const parsed = parseClientMessage(f.text);
            if (!parsed.ok) expected++;
            else if (parsed.message.type === 'terminal.open') opening = true;
          } else {
            c.ws.send(f.binary, { binary: true });
            // Refused unless its channel is open, or may be by an open earlier in this batch.
            if (f.binary.length === 0 || (!opening && !channels.has(f.binary[0]!))) expected++;
          }
        }
        await roundTrip(c);
        c.messages.length = 0;
        expect(errors - before).toBeGreaterThanOrEqual(expected);
        invalid += expected;
      }),
    );
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    expect(invalid).toBeGreaterThan(0);
    for (const code of codes) {
      expect(['bad_json', 'invalid_message', 'bad_frame', 'no_such_terminal', 'limit']).toContain(code);
    }
    expect(srv.logs.filter((l) => /internal|TypeError|RangeError/.test(l))).toEqual([]);
    await c.close();
    await healthy();
  });

  it('closes a text frame that is not UTF-8 with 1007 and keeps serving', async () => {
    const { token } = await srv.newSession();
    const c = await srv.connect(token);
    c.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await c.closed).code).toBe(1007);
    const again = await srv.connect(token);
    await roundTrip(again);
    await again.close();
    await healthy();
  });
});

describe('messages out of order', () => {
  it('refuses input, resize, run and close of terminals that are not (or no longer) open', async () => {
    const { token } = await srv.newSession();
    const c = await srv.connect(token);
    // Terminal input before any terminal.open.
    c.sendInput(0, 'ls\r');
    expect(await c.next('error')).toMatchObject({ code: 'bad_frame' });
    c.send({ type: 'terminal.resize', terminal: 'main', cols: 80, rows: 24 });
    expect(await c.next('error')).toMatchObject({ code: 'no_such_terminal' });
    c.send({ type: 'terminal.run', terminal: 'main', command: 'docker ps' });
    expect(await c.next('error')).toMatchObject({ code: 'no_such_terminal' });
    c.send({ type: 'terminal.close', terminal: 'main' });
    expect(await c.next('error')).toMatchObject({ code: 'no_such_terminal' });

    c.send({ type: 'terminal.open', terminal: 'main', cols: 80, rows: 24 });
    const opened = await c.next('terminal.opened');
    c.send({ type: 'terminal.close', terminal: 'main' });
    await c.next('terminal.closed');
    // Everything addressed to the closed terminal, by name or by its old channel.
    c.send({ type: 'terminal.resize', terminal: 'main', cols: 100, rows: 30 });
    expect(await c.next('error')).toMatchObject({ code: 'no_such_terminal' });
    c.send({ type: 'terminal.close', terminal: 'main' });
    expect(await c.next('error')).toMatchObject({ code: 'no_such_terminal' });
    c.sendInput(opened.channel, 'x');
    expect(await c.next('error')).toMatchObject({ code: 'bad_frame' });
    // A request without its id, and a second open racing the first, are answered too.
    c.send(JSON.stringify({ type: 'state.get' }));
    expect((await c.next('error')).message).toMatch(/^state.get: id: /);
    c.send({ type: 'terminal.open', terminal: 'race', cols: 80, rows: 24 });
    c.send({ type: 'terminal.open', terminal: 'race', cols: 80, rows: 24 });
    const first = await c.next('terminal.opened', (m) => m.terminal === 'race');
    const second = await c.next('terminal.opened', (m) => m.terminal === 'race');
    expect(second.channel).toBe(first.channel);
    await roundTrip(c);
    await c.close();
    await healthy();
  });
});

describe("another session's ids", () => {
  it("cannot reach another session's terminals or containers, by name, id or channel", async () => {
    const a = await srv.newSession();
    const b = await srv.newSession();
    const ca = await srv.connect(a.token);
    const cb = await srv.connect(b.token);
    ca.send({ type: 'terminal.open', terminal: 'main', cols: 200, rows: 24 });
    const ta = await ca.next('terminal.opened');
    ca.send({ type: 'terminal.run', terminal: 'main', command: 'docker create --name secret busybox true' });
    // The id alone on its line (the pull before it prints a digest too).
    const idLine = /(?:^|\n)([a-f0-9]{64})\r?\n/;
    const id = idLine.exec(await ca.waitForOutput(ta.channel, idLine, 90_000))![1]!;

    // A's terminal name means nothing on B's socket, and A's channel number is not B's.
    cb.send({ type: 'terminal.run', terminal: 'main', command: `docker rm -f ${id}` });
    expect(await cb.next('error')).toMatchObject({ code: 'no_such_terminal' });
    cb.sendInput(ta.channel, `docker rm -f ${id}\r`);
    expect(await cb.next('error')).toMatchObject({ code: 'bad_frame' });

    // B's own terminal called "main" is B's: A's container does not exist there by id, prefix or name.
    cb.send({ type: 'terminal.open', terminal: 'main', cols: 200, rows: 24 });
    const tb = await cb.next('terminal.opened');
    const refusals: [string, string][] = [
      [`docker rm -f ${id}`, id],
      [`docker start ${id.slice(0, 12)}`, id.slice(0, 12)],
      ['docker stop secret', 'secret'],
      ['docker diff secret', 'secret'],
      [`docker commit ${id.slice(0, 12)} stolen`, id.slice(0, 12)],
    ];
    for (const [i, [command]] of refusals.entries()) {
      cb.send({ type: 'terminal.run', terminal: 'main', command });
      await cb.waitForOutput(tb.channel, new RegExp(`(?:[\\s\\S]*?No such container){${i + 1}}`), 30_000);
    }
    const seen = cb.output(tb.channel);
    for (const [, shown] of refusals) expect(seen).toContain(`No such container: ${shown}`);
    // A's screen never reached B.
    expect(seen).not.toContain('docker create --name secret');

    // The state API answers for the caller's session only.
    const res = await fetch(
      `${srv.url}/api/state/which-layer?container=${id}&path=/&token=${encodeURIComponent(b.token)}`,
    );
    expect(res.status).toBe(404);
    const file = await fetch(`${srv.url}/api/state/file?container=secret&path=/etc/passwd`, {
      headers: { cookie: b.cookie },
    });
    expect(file.status).toBe(404);

    // A's container is untouched.
    const own = await fetch(`${srv.url}/api/state/which-layer?container=${id}&path=/bin/sh`, {
      headers: { cookie: a.cookie },
    });
    expect(own.status, await own.clone().text()).toBe(200);
    expect(srv.server.sessions.get(b.session)).toBeDefined();
    await Promise.all([ca.close(), cb.close()]);
  });
});

describe('origins and tokens', () => {
  it('refuses wrong origins with 403 and missing, wrong or ended tokens with 401', async () => {
    const ws = `${srv.url.replace('http', 'ws')}/ws`;
    const { token, cookie } = await srv.newSession();
    const origin = srv.url;
    const host = new URL(srv.url).host;
    for (const bad of [
      'http://evil.example',
      'null',
      'not a url',
      `http://${host}.evil.example`,
      `http://evil.example/${host}`,
      `file://${host}`,
      `ws://${host}`,
    ]) {
      expect((await refusedUpgrade(`${ws}?token=${token}`, { origin: bad })).status, bad).toBe(403);
    }
    // A right token in a cookie does not make a foreign page's socket acceptable.
    expect((await refusedUpgrade(ws, { origin: 'http://evil.example', headers: { cookie } })).status).toBe(
      403,
    );
    expect((await refusedUpgrade(`${ws}?token=${token}`, {})).status).toBe(403);

    for (const bad of [
      '',
      token.toUpperCase(),
      `${token}x`,
      token.slice(0, -1),
      'A'.repeat(43),
      '%00',
      'a'.repeat(5000),
    ]) {
      const r = await refusedUpgrade(`${ws}?token=${encodeURIComponent(bad)}`, { origin });
      expect(r.status, `token ${bad.slice(0, 20)}`).toBe(401);
      expect(r.body).toMatch(/no valid session token/);
    }
    expect(
      (await refusedUpgrade(ws, { origin, headers: { cookie: 'layerlab_session=forged' } })).status,
    ).toBe(401);

    // A session that ended (reaped, reset by a teacher) keeps no door open.
    const ended = await srv.newSession();
    const live = await srv.connect(ended.token);
    await srv.server.internals.endSession(ended.session);
    expect((await live.closed).code).toBe(CLOSE.sessionEnded);
    expect((await refusedUpgrade(`${ws}?token=${ended.token}`, { origin })).status).toBe(401);
    await healthy();
  });
});

describe('thousands of idle connections', () => {
  const SESSIONS = 40;
  const PER_SESSION = 50;
  const GLOBAL = 1500;
  const PER_IP = 600;
  let capped: TestServer;

  beforeAll(async () => {
    capped = await startTestServer({
      limits: {
        maxSocketsPerSession: PER_SESSION,
        ws: { maxConnections: GLOBAL, maxConnectionsPerIp: PER_IP },
      },
    });
  });

  afterAll(async () => {
    await capped?.close();
  });

  interface Outcome {
    ws: WebSocket;
    accepted: boolean;
    status?: number;
    body?: string;
  }

  function open(url: string, token: string, localAddress: string): Promise<Outcome> {
    return new Promise((resolve) => {
      const ws = new WebSocket(`${url.replace('http', 'ws')}/ws?token=${token}`, {
        origin: url,
        localAddress,
        perMessageDeflate: false,
      });
      ws.on('open', () => resolve({ ws, accepted: true }));
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ ws, accepted: false, status: res.statusCode ?? 0, body }));
      });
      ws.on('error', (err) => resolve({ ws, accepted: false, status: -1, body: err.message }));
    });
  }

  function memory(): { heapMB: number; rssMB: number } {
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
    const m = process.memoryUsage();
    return { heapMB: m.heapUsed / 2 ** 20, rssMB: m.rss / 2 ** 20 };
  }

  it('accepts up to the caps, refuses the rest with 503 and a reason, and still serves a normal session', async () => {
    const normal = await capped.newSession();
    const client = await capped.connect(normal.token);
    client.send({ type: 'terminal.open', terminal: 'main', cols: 120, rows: 24 });
    const term = await client.next('terminal.opened');
    const tokens: string[] = [];
    for (let i = 0; i < SESSIONS; i++) tokens.push((await capped.newSession()).token);

    const before = memory();
    const started = performance.now();
    // 800 from one address (over its cap), then 400 from each of three more (over the server's).
    const plan: [string, number][] = [
      ['127.0.0.2', 800],
      ['127.0.0.3', 400],
      ['127.0.0.4', 400],
      ['127.0.0.5', 400],
    ];
    const outcomes: { address: string; outcome: Outcome }[] = [];
    let k = 0;
    for (const [address, count] of plan) {
      for (let done = 0; done < count; done += 100) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(100, count - done) }, () =>
            open(capped.url, tokens[Math.floor(k++ / PER_SESSION)]!, address),
          ),
        );
        outcomes.push(...batch.map((outcome) => ({ address, outcome })));
      }
    }
    const openMs = performance.now() - started;
    const accepted = outcomes.filter((o) => o.outcome.accepted);
    const refused = outcomes.filter((o) => !o.outcome.accepted);
    const perIp = refused.filter((o) =>
      /too many connections from 127\.0\.0\.2 \(at most 600 per address\)/.test(o.outcome.body ?? ''),
    );
    const global = refused.filter((o) =>
      /the server has too many connections \(at most 1500\)/.test(o.outcome.body ?? ''),
    );

    // While they sit there: the normal session's socket, terminal and HTTP all answer.
    const rtt = performance.now();
    await roundTrip(client);
    const pingMs = performance.now() - rtt;
    client.send({ type: 'terminal.run', terminal: 'main', command: 'docker version' });
    await client.waitForOutput(term.channel, /Version/, 30_000);
    await healthy(capped);
    const peak = memory();

    const metrics = await (await fetch(`${capped.url}/metrics`)).text();
    const gauge = Number(/^layerlab_ws_connections (\d+)$/m.exec(metrics)?.[1]);

    for (const o of outcomes) o.outcome.ws.terminate();
    await new Promise((r) => setTimeout(r, 500));
    const after = memory();
    const leftOpen = capped.server.internals.sessions.list().length;

    const perSocketKB = ((peak.heapMB - before.heapMB) * 1024) / accepted.length;
    process.stdout.write(
      `idle connections: ${outcomes.length} attempted in ${(openMs / 1000).toFixed(1)}s; ` +
        `${accepted.length} accepted, ${perIp.length} refused by the per-address cap, ${global.length} by the server cap; ` +
        `normal session round trip ${pingMs.toFixed(0)} ms; heap ${before.heapMB.toFixed(1)} → ${peak.heapMB.toFixed(1)} → ${after.heapMB.toFixed(1)} MB ` +
        `(${perSocketKB.toFixed(1)} KB per accepted socket, both ends, one process); ` +
        `rss ${before.rssMB.toFixed(0)} → ${peak.rssMB.toFixed(0)} → ${after.rssMB.toFixed(0)} MB\n`,
    );

    expect(outcomes).toHaveLength(2000);
    // The normal session's socket counts against the server cap too.
    expect(accepted).toHaveLength(GLOBAL - 1);
    expect(perIp).toHaveLength(800 - PER_IP);
    expect(global).toHaveLength(2000 - PER_IP - (GLOBAL - 1 - PER_IP) - (800 - PER_IP));
    expect(refused.every((o) => o.outcome.status === 503)).toBe(true);
    expect(accepted.filter((o) => o.address === '127.0.0.2')).toHaveLength(PER_IP);
    expect(gauge).toBe(GLOBAL);
    expect(leftOpen).toBe(SESSIONS + 1);
    // Bounded: a generous ceiling per socket, and the memory comes back once they are gone.
    expect(perSocketKB).toBeLessThan(256);
    expect(after.heapMB - before.heapMB).toBeLessThan(32);

    // The caps count down as sockets close: the busiest address and the server take new ones again.
    const again = await open(capped.url, tokens[0]!, '127.0.0.2');
    expect(again.accepted).toBe(true);
    again.ws.close();
    await roundTrip(client);
    await client.close();
  });
});
