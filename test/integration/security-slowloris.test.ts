// Issue #9, finding 7: 3,300 half-sent requests blocked every new HTTP request for at least 15 s, and
// the documented 10 s header timeout freed none (Node checks it only every 30 s by default). Here the
// same attack meets a real server: one address holds only its share of connections, the ones it holds
// are closed by the header timeout on time, and another address is served all along.

import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../server/limits.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const HEADERS_TIMEOUT_MS = 2000;
const CHECK_INTERVAL_MS = 250;
/** What one address may hold: its WebSockets' cap plus room for page loads. */
const PER_ADDRESS = DEFAULT_LIMITS.ws.maxConnectionsPerIp + DEFAULT_LIMITS.http.extraConnectionsPerIp;
/** Past the server-wide cap (ws.maxConnections + 1000), which the old code let one address fill. */
const WANTED = DEFAULT_LIMITS.ws.maxConnections + 1100;

let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({
    limits: {
      http: {
        headersTimeoutMs: HEADERS_TIMEOUT_MS,
        requestTimeoutMs: 4000,
        checkIntervalMs: CHECK_INTERVAL_MS,
      },
    },
  });
});

afterAll(async () => {
  await srv?.close();
});

/** The soft limit on open files: both ends of every socket live in this process. */
function openFilesLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  return Number(line?.split(/\s+/)[3] ?? 1024);
}

interface Probe {
  status: number;
  ms: number;
  body: string;
}

/** GET `path` from `localAddress`, on a connection of its own; resolves with status, time and body. */
function timedGet(path: string, localAddress: string): Promise<Probe> {
  const start = performance.now();
  return new Promise((resolve) => {
    const req = request(`${srv.url}${path}`, { agent: false, localAddress, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - start, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: -1, ms: performance.now() - start, body: '' }));
    req.end();
  });
}

interface Loris {
  socket: Socket;
  openedAt: number;
  closedAt?: number;
  /** What the server said before closing, if anything (a 408 from the header timeout). */
  answer: string;
}

/** A connection that sends a request line and then one more header line every 500 ms, forever. */
function loris(host: string, port: number): Promise<Loris> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, localAddress: '127.0.0.1' });
    const l: Loris = { socket, openedAt: performance.now(), answer: '' };
    let drip: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      l.openedAt = performance.now();
      socket.write(`GET / HTTP/1.1\r\nHost: ${host}:${port}\r\n`);
      drip = setInterval(() => socket.write(`X-Slow-${Math.floor(Math.random() * 1e9)}: 1\r\n`), 500);
      resolve(l);
    });
    socket.on('data', (d) => {
      l.answer += d.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(drip);
      l.closedAt = performance.now();
      resolve(l);
    });
  });
}

describe('slowloris: thousands of half-sent requests from one address', () => {
  it('holds only that address’s share, times the rest out on time, and serves others throughout', async () => {
    const { hostname, port } = new URL(srv.url);
    // Each socket costs two descriptors here (client and server end): stay well inside the limit.
    const count = Math.min(WANTED, Math.floor((openFilesLimit() - 1000) / 2));
    const started = performance.now();
    // Meanwhile another address asks for /healthz and /metrics, again and again; the metrics' count
    // of open TCP connections shows how many the attacker holds at once.
    let attacking = true;
    const probes: Probe[] = [];
    const held: number[] = [];
    const prober = (async () => {
      while (attacking) {
        probes.push(await timedGet('/healthz', '127.0.0.2'));
        const metrics = await timedGet('/metrics', '127.0.0.2');
        held.push(Number(/^layerlab_http_connections (\d+)$/m.exec(metrics.body)?.[1]));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const lorises: Loris[] = [];
    for (let i = 0; i < count; i += 250) {
      const batch = Array.from({ length: Math.min(250, count - i) }, () => loris(hostname, Number(port)));
      lorises.push(...(await Promise.all(batch)));
    }
    const openedMs = performance.now() - started;

    // Every socket the server took is closed by the header timeout (+ one check interval), with 408.
    const deadline = HEADERS_TIMEOUT_MS + CHECK_INTERVAL_MS + 3000;
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (lorises.every((l) => l.closedAt !== undefined)) {
          clearInterval(timer);
          resolve();
        } else if (performance.now() - started > openedMs + deadline + 2000) {
          clearInterval(timer);
          reject(
            new Error(
              `${lorises.filter((l) => l.closedAt === undefined).length} half-sent requests still open`,
            ),
          );
        }
      }, 100);
    });
    attacking = false;
    await prober;
    const timedOut = lorises.filter((l) => l.answer.startsWith('HTTP/1.1 408'));
    const refused = lorises.filter((l) => l.answer === '');
    const heldFor = timedOut.map((l) => l.closedAt! - l.openedAt).sort((a, b) => a - b);
    const slowest = Math.max(...probes.map((p) => p.ms));
    console.log(
      `  ${count} half-sent requests in ${(openedMs / 1000).toFixed(1)} s: at most ${Math.max(...held)} connections held at once; ` +
        `${timedOut.length} timed out with 408 after ${(heldFor[0]! / 1000).toFixed(1)}–${(heldFor.at(-1)! / 1000).toFixed(1)} s, ` +
        `${refused.length} refused at once; ${probes.length} /healthz from another address, all 200: ` +
        `${probes.every((p) => p.status === 200)}, slowest ${slowest.toFixed(0)} ms`,
    );

    expect(probes.length).toBeGreaterThan(3);
    expect(probes.every((p) => p.status === 200)).toBe(true);
    expect(slowest).toBeLessThan(3000);
    // The attacker's share, plus the prober's own connection.
    expect(Math.max(...held)).toBeLessThanOrEqual(PER_ADDRESS + 1);
    expect(timedOut.length).toBeGreaterThan(0);
    expect(timedOut.length + refused.length).toBe(count);
    expect(heldFor.at(-1)!).toBeLessThan(deadline);

    // The address's count came back down: it is served again.
    expect((await timedGet('/healthz', '127.0.0.1')).status).toBe(200);
  });
});
