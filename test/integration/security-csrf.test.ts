// Issue #9, finding 10: cross-site request forgery. A page on another site posted `text/plain` (a
// "simple" request, no preflight) to /api/reset and /api/check, and the browser attached the
// reader's session cookie: the reader's work was wiped. Now the router refuses every state-changing
// request that does not come from this server's origin with a JSON body, on every route at once.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pull } from '../../engine/pull.ts';
import { listImages } from '../../engine/store/images.ts';
import type { WorkshopService } from '../../server/workshop/service.ts';
import { rawRequest } from '../support/http.ts';
import type { TestServer } from '../support/server.ts';
import { startWorkshopServer } from '../support/workshop.ts';

const TEACHER_PASSWORD = 'chalk-and-cheese';

let srv: TestServer;
let service: WorkshopService;
let code: string;
let victim: { session: string; token: string; cookie: string };

beforeAll(async () => {
  ({ srv, service, code } = await startWorkshopServer({
    name: 'CSRF class',
    seats: 5,
    teacherPassword: TEACHER_PASSWORD,
  }));
  victim = await srv.newSession();
});

afterAll(async () => {
  service?.close();
  await srv?.close();
});

const victimImages = async () => {
  const session = srv.server.sessions.get(victim.session)!;
  return (await listImages(session.ctx)).flatMap((r) => r.repoTags);
};

/** A POST as a hostile page (or a program) would send it. */
const post = (path: string, headers: Record<string, string>, body = '{"to":{"images":[]}}') =>
  rawRequest(`${srv.url}${path}`, { method: 'POST', headers, body });

describe('a cross-site POST with the reader’s cookie', () => {
  beforeAll(async () => {
    await pull(srv.server.sessions.get(victim.session)!.ctx, 'busybox');
    expect(await victimImages()).toContain('docker.io/library/busybox:latest');
  });

  it('is refused on /api/reset and /api/check, as text/plain from another origin, and changes nothing', async () => {
    for (const path of ['/api/reset', '/api/check']) {
      const res = await post(path, {
        cookie: victim.cookie,
        origin: 'http://attacker.test',
        'content-type': 'text/plain',
      });
      expect(res.status, path).toBe(403);
      expect(JSON.parse(res.body)).toEqual({ error: { code: 'cross_origin', message: expect.any(String) } });
    }
    expect(await victimImages()).toContain('docker.io/library/busybox:latest');
  });

  it('is refused in every other shape a browser or a form can give it', async () => {
    const shapes: [string, Record<string, string>, number][] = [
      [
        'JSON from another origin',
        { origin: 'http://attacker.test', 'content-type': 'application/json' },
        403,
      ],
      ['a null origin (sandboxed frame)', { origin: 'null', 'content-type': 'application/json' }, 403],
      [
        'no Origin, Sec-Fetch-Site cross-site',
        { 'sec-fetch-site': 'cross-site', 'content-type': 'text/plain' },
        403,
      ],
      [
        'no Origin, Sec-Fetch-Site same-site',
        { 'sec-fetch-site': 'same-site', 'content-type': 'application/json' },
        403,
      ],
      ['neither header, with the cookie', { 'content-type': 'application/json' }, 403],
      ['same origin, text/plain', { origin: srv.url, 'content-type': 'text/plain' }, 415],
      [
        'same origin, a form post',
        { origin: srv.url, 'content-type': 'application/x-www-form-urlencoded' },
        415,
      ],
      ['same origin, multipart', { origin: srv.url, 'content-type': 'multipart/form-data; boundary=x' }, 415],
      ['same origin, no content type', { origin: srv.url }, 415],
    ];
    for (const [what, headers, status] of shapes) {
      const res = await post('/api/reset', { cookie: victim.cookie, ...headers });
      expect(res.status, what).toBe(status);
    }
    expect(await victimImages()).toContain('docker.io/library/busybox:latest');
  });

  it('is refused on every state-changing route the server has, workshop routes included', async () => {
    const routes = srv.server.router.list().filter((r) => r.method !== 'GET');
    expect(routes.map((r) => r.path)).toEqual(
      expect.arrayContaining([
        '/api/reset',
        '/api/check',
        '/join/:code',
        '/teacher/login',
        '/api/workshop/end',
      ]),
    );
    for (const route of routes) {
      const path = route.path.replace(/:[a-z]+/g, code);
      const res = await post(path, {
        cookie: victim.cookie,
        origin: 'http://attacker.test',
        'content-type': 'text/plain',
      });
      expect(res.status, route.path).toBe(403);
    }
    // The join above did not seat anyone.
    expect(service.workshops.active()[0]!.students.size).toBe(0);
  });

  it('is refused for the teacher’s cookie too: the workshop is not ended from another site', async () => {
    const login = await post(
      '/teacher/login',
      { origin: srv.url, 'content-type': 'application/json' },
      JSON.stringify({ code, password: TEACHER_PASSWORD }),
    );
    expect(login.status).toBe(200);
    const teacher = String(login.headers['set-cookie']?.[0] ?? '').split(';')[0]!;
    const res = await post('/api/workshop/end', {
      cookie: teacher,
      origin: 'http://attacker.test',
      'content-type': 'text/plain',
    });
    expect(res.status).toBe(403);
    expect(service.workshops.active()).toHaveLength(1);
  });
});

describe('the server’s own pages', () => {
  it('still post JSON from their origin: /api/check and /api/reset work', async () => {
    const check = await post(
      '/api/check',
      { cookie: victim.cookie, origin: srv.url, 'content-type': 'application/json' },
      JSON.stringify({ lesson: 'images', check: 'x' }),
    );
    expect([403, 415]).not.toContain(check.status);
    const reset = await post('/api/reset', {
      cookie: victim.cookie,
      origin: srv.url,
      'content-type': 'application/json; charset=utf-8',
    });
    expect(reset.status).toBe(200);
    // The same request from another origin would have done this: the reader's image is gone.
    expect(await victimImages()).not.toContain('docker.io/library/busybox:latest');
  });

  it('may omit Origin when the browser says Sec-Fetch-Site: same-origin', async () => {
    const res = await post('/api/reset', {
      cookie: victim.cookie,
      'sec-fetch-site': 'same-origin',
      'content-type': 'application/json',
    });
    expect(res.status).toBe(200);
  });
});

describe('GET /api/session', () => {
  it('creates no session for another site’s page (an <img> on a hostile page)', async () => {
    const before = srv.server.sessions.count;
    const hostile: Record<string, string>[] = [
      { 'sec-fetch-site': 'cross-site' },
      { origin: 'http://attacker.test' },
    ];
    for (const headers of hostile) {
      const res = await rawRequest(`${srv.url}/api/session`, { headers });
      expect(res.status).toBe(403);
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    expect(srv.server.sessions.count).toBe(before);
    const own = await rawRequest(`${srv.url}/api/session`, { headers: { 'sec-fetch-site': 'same-origin' } });
    expect(own.status).toBe(200);
  });
});
