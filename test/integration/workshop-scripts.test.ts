// The classroom pages' scripts as a real server serves them: each one the pages load is JavaScript a
// browser runs as a classic script, bundled from its TypeScript source in site/src/workshop/, with the
// same headers as before; and those sources are in the site's tsc project, where the DOM types are.

import { join } from 'node:path';
import { Script } from 'node:vm';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dashboardPage,
  joinPage,
  teacherLoginPage,
  wallPage,
  watchPage,
} from '../../server/workshop/pages.ts';
import { workshopPlugin } from '../../server/workshop/plugin.ts';
import { WORKSHOP_SCRIPTS, WORKSHOP_SCRIPTS_DIR, workshopScripts } from '../../server/workshop/scripts.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const repoRoot = join(import.meta.dirname, '..', '..');

let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({
    plugins: [
      workshopPlugin({ name: 'Scripts', seats: 2, teacherPassword: 'chalk-and-cheese', out: () => {} }),
    ],
  });
});

afterAll(async () => {
  await srv?.close();
});

describe('served workshop scripts', () => {
  it.each(WORKSHOP_SCRIPTS)('/workshop/%s.js is browser JavaScript bundled from its source', async (name) => {
    const res = await fetch(`${srv.url}/workshop/${name}.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const body = await res.text();
    expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(body));

    // Parsed as a classic script, as `<script src defer>` loads it: a type annotation, an `import`
    // or an `export` left in the output would be a SyntaxError here.
    expect(() => new Script(body, { filename: `${name}.js` })).not.toThrow();
    // Built from the TypeScript file (esbuild names each bundled module), not a hand-written copy.
    expect(body).toContain(`// site/src/workshop/${name}.ts`);
    expect(body).toBe((await workshopScripts()).get(`${name}.js`)?.toString('utf8'));
  });

  it('serves exactly the scripts the pages load, and 404 for any other name', async () => {
    const pages = [
      joinPage({ name: 'W', code: 'ABCD' }),
      teacherLoginPage(),
      dashboardPage({ name: 'W', code: 'ABCD', seats: 2 }, 'http://localhost/join/ABCD', '<svg></svg>', []),
      watchPage('Ada', 'session', 'main'),
      wallPage({ name: 'W' }),
    ];
    const loaded = new Set(
      pages.flatMap((html) => [...html.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1])),
    );
    expect([...loaded].sort()).toEqual(WORKSHOP_SCRIPTS.map((name) => `/workshop/${name}.js`).sort());
    for (const name of ['page.js', 'forms.ts', 'nope.js', 'classroom.js']) {
      expect((await fetch(`${srv.url}/workshop/${name}`)).status).toBe(404);
    }
    // The wall's stylesheet (xterm.js's, imported by wall.ts) is served as CSS, as its page links it.
    const links = [...wallPage({ name: 'W' }).matchAll(/<link rel="stylesheet" href="([^"]+)"/g)].map(
      (m) => m[1],
    );
    expect(links).toEqual(['/workshop/wall.css']);
    const css = await fetch(`${srv.url}/workshop/wall.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await css.text()).toContain('.xterm');
  });

  it('runs forms.js against a page without forms (no module or Node globals left in the bundle)', async () => {
    const body = (await workshopScripts()).get('forms.js')?.toString('utf8') ?? '';
    const document = { querySelectorAll: () => [] };
    expect(() => new Script(body).runInNewContext({ document })).not.toThrow();
  });
});

describe('workshop script sources', () => {
  it("are in the site's tsc project, which has the DOM types", () => {
    const configPath = join(repoRoot, 'site', 'tsconfig.json');
    const config = ts.getParsedCommandLineOfConfigFile(configPath, undefined, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    });
    expect(config?.errors).toEqual([]);
    for (const name of WORKSHOP_SCRIPTS) {
      expect(config?.fileNames).toContain(join(WORKSHOP_SCRIPTS_DIR, `${name}.ts`));
    }
    expect(config?.options.lib).toContain('lib.dom.d.ts');
  });
});
