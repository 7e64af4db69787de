// Issue #9 (low): cookies are marked Secure when the page was served over HTTPS, which behind a
// TLS-terminating proxy only the proxy knows. Its X-Forwarded-Proto / X-Forwarded-For / Forwarded
// headers are believed only from a configured trusted proxy: from anyone else they are ignored, for
// the cookie's flags and for the per-address session caps alike.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkshopService } from '../../server/workshop/service.ts';
import { rawRequest } from '../support/http.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startWorkshopServer } from '../support/workshop.ts';

const TEACHER_PASSWORD = 'chalk-and-cheese';
const PER_ADDRESS = { max: 3, burst: 3, perMinute: 1 };

let behindProxy: TestServer;
let direct: TestServer;
let service: WorkshopService;

beforeAll(async () => {
  ({ srv: behindProxy, service } = await startWorkshopServer(
    { name: 'Behind a proxy', seats: 5, teacherPassword: TEACHER_PASSWORD },
    { server: { trustedProxies: ['127.0.0.1'], limits: { sessionsPerAddress: PER_ADDRESS } } },
  ));
  direct = await startTestServer({ limits: { sessionsPerAddress: PER_ADDRESS } });
});

afterAll(async () => {
  service?.close();
  await behindProxy?.close();
  await direct?.close();
});

const cookieOf = (res: { headers: { 'set-cookie'?: string[] } }) => res.headers['set-cookie']?.[0] ?? '';

describe('Secure cookies', () => {
  it('are Secure when a trusted proxy says the request came over HTTPS', async () => {
    const res = await rawRequest(`${behindProxy.url}/api/session`, {
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.10' },
    });
    expect(res.status).toBe(200);
    expect(cookieOf(res)).toMatch(/^layerlab_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Secure$/);
    const plain = await rawRequest(`${behindProxy.url}/api/session`, {
      headers: { 'x-forwarded-for': '203.0.113.10' },
    });
    expect(cookieOf(plain)).not.toMatch(/Secure/);
    const rfc7239 = await rawRequest(`${behindProxy.url}/api/session`, {
      headers: { forwarded: 'for=203.0.113.11;proto=https' },
    });
    expect(cookieOf(rfc7239)).toMatch(/; Secure$/);
  });

  it('are Secure for the student’s and the teacher’s cookies of a workshop behind HTTPS', async () => {
    const code = service.workshops.active()[0]!.code;
    const https = {
      'x-forwarded-proto': 'https',
      'x-forwarded-for': '203.0.113.20',
      origin: `https://${new URL(behindProxy.url).host}`,
      'content-type': 'application/json',
    };
    const join = await rawRequest(`${behindProxy.url}/join/${code}`, {
      method: 'POST',
      headers: https,
      body: JSON.stringify({ name: 'Ada' }),
    });
    expect(join.status).toBe(200);
    expect(cookieOf(join)).toMatch(/^layerlab_session=.*; Secure$/);
    const login = await rawRequest(`${behindProxy.url}/teacher/login`, {
      method: 'POST',
      headers: https,
      body: JSON.stringify({ code, password: TEACHER_PASSWORD }),
    });
    expect(login.status).toBe(200);
    expect(cookieOf(login)).toMatch(/^layerlab_teacher=.*; Secure$/);
  });

  it('are not Secure when the forwarding header comes from anyone else', async () => {
    const res = await rawRequest(`${direct.url}/api/session`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(res.status).toBe(200);
    expect(cookieOf(res)).not.toMatch(/Secure/);
    // 127.0.0.2 is not the trusted proxy of the other server either.
    const untrusted = await rawRequest(`${behindProxy.url}/api/session`, {
      localAddress: '127.0.0.2',
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(cookieOf(untrusted)).not.toMatch(/Secure/);
  });
});

describe('per-address session caps behind a proxy', () => {
  it('count the client the trusted proxy names, so readers behind it do not share one cap', async () => {
    const from = (client: string) =>
      rawRequest(`${behindProxy.url}/api/session`, { headers: { 'x-forwarded-for': client } });
    for (let i = 0; i < PER_ADDRESS.max; i++) expect((await from('198.51.100.1')).status).toBe(200);
    expect((await from('198.51.100.1')).status).toBe(429);
    expect((await from('198.51.100.2')).status).toBe(200);
  });

  it('ignore X-Forwarded-For from an address that is not a trusted proxy: rotating it escapes nothing', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await rawRequest(`${behindProxy.url}/api/session`, {
        localAddress: '127.0.0.3',
        headers: { 'x-forwarded-for': `192.0.2.${i}`, forwarded: `for=192.0.2.${100 + i}` },
      });
      statuses.push(res.status);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(PER_ADDRESS.max);
    expect(statuses.slice(PER_ADDRESS.max).every((s) => s === 429)).toBe(true);
  });
});
