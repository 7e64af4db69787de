// Issue #9, low findings: no response said how it may be framed, sniffed or referred, and `/metrics`
// answered anyone. Every kind of response of a real server — site pages and assets, API JSON, errors,
// health and metrics — now carries the security headers, and `/metrics` answers this machine only,
// or whoever holds the operator's token.

import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECURITY_HEADERS } from '../../server/http/security-headers.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const TOKEN = 'scrape-me-7f3a9c';

let srv: TestServer;
let tokened: TestServer;

beforeAll(async () => {
  srv = await startTestServer();
  tokened = await startTestServer({ metricsToken: TOKEN });
});

afterAll(async () => {
  await srv?.close();
  await tokened?.close();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request over its own connection, from `localAddress` when given. */
function get(
  url: string,
  options: { method?: string; localAddress?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        agent: false,
        headers: options.headers ?? {},
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * An address of this machine that is not loopback, so a client bound to it is remote to the server.
 * A TEST-NET address added to `lo` for the test, so the case runs on any machine, networked or not.
 */
const EXTERNAL = '192.0.2.77';

function addExternalAddress(): void {
  execFileSync('ip', ['addr', 'replace', `${EXTERNAL}/32`, 'dev', 'lo']);
}

function removeExternalAddress(): void {
  execFileSync('ip', ['addr', 'del', `${EXTERNAL}/32`, 'dev', 'lo'], { stdio: 'ignore' });
}

describe('security headers', () => {
  it('are on every kind of response: pages, assets, API JSON, errors, health and metrics', async () => {
    const asset = readdirSync(join(import.meta.dirname, '../../site/dist/_astro')).find((f) =>
      f.endsWith('.js'),
    );
    const cases: [string, string, number, string?][] = [
      ['a lesson page', '/', 200],
      ['a missing page', '/no-such-page/', 404],
      ['a static POST', '/', 405, 'POST'],
      ['the session API', '/api/session', 200],
      ['an API error (no session)', '/api/state', 401],
      ['health', '/healthz', 200],
      ['metrics', '/metrics', 200],
    ];
    if (asset) cases.push(['a script asset', `/_astro/${asset}`, 200]);
    for (const [what, path, status, method] of cases) {
      const res = await get(`${srv.url}${path}`, method ? { method } : {});
      expect(res.status, what).toBe(status);
      for (const [name, value] of Object.entries(SECURITY_HEADERS))
        expect(res.headers[name], `${what}: ${name}`).toBe(value);
    }
  });

  it('forbid framing and plugins, and keep scripts, connections and the base URL to this origin', async () => {
    const csp = String((await get(`${srv.url}/`)).headers['content-security-policy']);
    const directives = new Map(
      csp.split(';').map((d) => {
        const [name = '', ...values] = d.trim().split(/\s+/);
        return [name, values] as const;
      }),
    );
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(directives.get('object-src')).toEqual(["'none'"]);
    expect(directives.get('default-src')).toEqual(["'self'"]);
    expect(directives.get('base-uri')).toEqual(["'self'"]);
    expect(directives.get('script-src')).not.toContain('*');
    expect(directives.get('script-src')).not.toContain("'unsafe-eval'");
  });
});

describe('/metrics', () => {
  beforeAll(addExternalAddress);
  afterAll(removeExternalAddress);

  it('answers a scraper on this machine', async () => {
    const res = await get(`${srv.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/^layerlab_sessions \d+$/m);
  });

  it('refuses a client on another address with 403', async () => {
    const res = await get(`${srv.url}/metrics`, { localAddress: EXTERNAL });
    expect(res.status).toBe(403);
    expect(res.body).not.toMatch(/layerlab_/);
  });

  it('refuses a request a proxy forwarded (a same-host proxy makes every visitor look local)', async () => {
    const forwardings: Record<string, string>[] = [
      { 'x-forwarded-for': '203.0.113.9' },
      { forwarded: 'for=203.0.113.9' },
    ];
    for (const headers of forwardings) {
      const res = await get(`${srv.url}/metrics`, { headers });
      expect(res.status).toBe(403);
    }
  });

  it('asks for the operator token when one is set, from this machine too', async () => {
    expect((await get(`${tokened.url}/metrics`)).status).toBe(401);
    const wrong = await get(`${tokened.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}x` } });
    expect(wrong.status).toBe(401);
    const right = await get(`${tokened.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(right.status).toBe(200);
    expect(right.body).toMatch(/^layerlab_sessions \d+$/m);
    const remote = await get(`${tokened.url}/metrics`, {
      localAddress: EXTERNAL,
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(remote.status).toBe(200);
  });
});
