// Issue #9, finding 8: the teacher login limiter was read before the slow password hash and written
// after it, so 100 concurrent guesses were all evaluated (limit 10 a minute) and the hashes took the
// thread pool from the site. Here the same burst meets a real server: the limit holds, the site
// answers meanwhile, and the right password still works from another address.

import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workshopPlugin } from '../../server/workshop/plugin.ts';
import type { WorkshopService } from '../../server/workshop/service.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const TEACHER_PASSWORD = 'chalk-and-cheese';
const GUESSES = 100;
/** TeacherAuth's default: tries per address per minute. */
const LIMIT = 10;

let srv: TestServer;
let service: WorkshopService;
let code: string;

beforeAll(async () => {
  srv = await startTestServer({
    plugins: [
      workshopPlugin({
        name: 'Login burst',
        teacherPassword: TEACHER_PASSWORD,
        out: () => {},
        onReady: (s) => {
          service = s;
        },
      }),
    ],
  });
  code = service.workshops.active()[0]!.code;
  // Warm: the first fetch in a process loads its HTTP client, which is not what is measured here.
  await (await fetch(`${srv.url}/`)).arrayBuffer();
});

afterAll(async () => {
  service?.close();
  await srv?.close();
});

/** POST /teacher/login from `localAddress` (any 127.0.0.0/8 address reaches the loopback server). */
function login(password: string, localAddress = '127.0.0.1'): Promise<number> {
  const url = new URL('/teacher/login', srv.url);
  const body = JSON.stringify({ code, password });
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        localAddress,
        agent: false,
        headers: {
          'content-type': 'application/json',
          origin: srv.url,
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('teacher login under a burst of concurrent guesses', () => {
  it('evaluates at most the limit, refuses the rest with 429 at once, and the site answers meanwhile', async () => {
    const burst = Promise.all(Array.from({ length: GUESSES }, (_, i) => login(`wrong-${i}`)));
    // A page of the site while the guesses are being hashed: file reads share the hashes' thread pool.
    const start = performance.now();
    const page = await fetch(`${srv.url}/`);
    await page.arrayBuffer();
    const pageMs = performance.now() - start;
    const statuses = await burst;
    const evaluated = statuses.filter((s) => s === 401).length;
    const refused = statuses.filter((s) => s === 429).length;
    console.log(
      `  ${GUESSES} guesses: ${evaluated} evaluated, ${refused} refused; a page took ${pageMs.toFixed(0)} ms`,
    );
    expect(page.status).toBe(200);
    expect(evaluated).toBeLessThanOrEqual(LIMIT);
    expect(evaluated + refused).toBe(GUESSES);
    expect(pageMs).toBeLessThan(1000);
  });

  it('refuses even the right password from that address until the window ends', async () => {
    expect(await login(TEACHER_PASSWORD)).toBe(429);
  });

  it('signs in with the right password from another address', async () => {
    expect(await login(TEACHER_PASSWORD, '127.0.0.2')).toBe(200);
  });
});
