// The in-page editor's requests against a real server over the WebSocket: a file written by
// `workspace.write` is what `docker build ~/app` in the session's terminal builds; `workspace.read`
// and `workspace.list` see the terminal's files; paths out of the workspace (`../`, host paths,
// a planted symlink, NUL bytes), files over the cap, binaries and too many files are refused with
// the workspace's typed errors, never an internal error; a seed copies a lesson context once.

import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestInput, RequestName, RequestResults } from '../../server/requests.ts';
import { EDIT_FILE_MAX_BYTES, WORKSPACE_MAX_ENTRIES } from '../../server/sessions/workspace-limits.ts';
import { startTestServer, type TestClient, type TestServer } from '../support/server.ts';

let server: TestServer;
let client: TestClient;
let cookie: string;
let channel: number;
let sequence = 0;

beforeAll(async () => {
  server = await startTestServer();
  const session = await server.newSession();
  cookie = session.cookie;
  client = await server.connect(session.token);
  client.send({ type: 'terminal.open', terminal: 'main', cols: 160, rows: 40 });
  channel = (await client.next('terminal.opened')).channel;
}, 60_000);

afterAll(async () => {
  await client?.close();
  await server?.close();
});

type Answer<K extends RequestName> =
  | { ok: true; data: RequestResults[K] }
  | { ok: false; code: string; message: string };

/** Sends request `name` over the socket and waits for its result. */
async function request<K extends RequestName>(name: K, input: RequestInput<K>): Promise<Answer<K>> {
  const id = `w${++sequence}`;
  client.send({ type: name, id, ...input } as Parameters<TestClient['send']>[0]);
  const result = await client.next('result', (m) => m.id === id, 30_000);
  if (result.ok) return { ok: true, data: result.data as RequestResults[K] };
  return { ok: false, code: result.error?.code ?? '', message: result.error?.message ?? '' };
}

async function ok<K extends RequestName>(name: K, input: RequestInput<K>): Promise<RequestResults[K]> {
  const answer = await request(name, input);
  if (!answer.ok) throw new Error(`${name} ${JSON.stringify(input).slice(0, 200)}: ${answer.message}`);
  return answer.data;
}

/** A refusal: a typed error the workspace raised (`failed`), never the server's `internal`. */
async function refused<K extends RequestName>(name: K, input: RequestInput<K>): Promise<string> {
  const answer = await request(name, input);
  if (answer.ok) throw new Error(`${name} was not refused: ${JSON.stringify(answer.data).slice(0, 200)}`);
  expect(answer.code).toBe('failed');
  return answer.message;
}

/** Runs a command line in the session's terminal, the way the editor's Build button does. */
async function run(command: string): Promise<{ exitCode: number; output: string }> {
  const id = `run${++sequence}`;
  const from = client.output(channel).length;
  client.send({ type: 'terminal.run', terminal: 'main', command, id });
  await client.next('terminal.ran', (m) => m.id === id && m.status === 'done', 180_000);
  const event = await client.next(
    'event',
    (m) => m.event.type === 'terminal.command' && m.event.command === command,
    10_000,
  );
  return { exitCode: Number(event.event.exitCode), output: client.output(channel).slice(from) };
}

/** The session's workspace on the host (one session on this server). */
function workspaceDir(): string {
  const sessions = join(server.root, 'sessions');
  const found = readdirSync(sessions)
    .map((id) => join(sessions, id, 'workspace'))
    .filter((dir) => existsSync(dir));
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe('the editor’s workspace requests', () => {
  it('writes files that `docker build ~/app` in the terminal then builds', async () => {
    const dockerfile = 'FROM busybox\nCOPY app.txt /app.txt\nCMD ["cat", "/app.txt"]\n';
    await ok('workspace.write', { path: '~/app/Dockerfile', content: dockerfile });
    const first = await ok('workspace.write', { path: '~/app/app.txt', content: 'first version\n' });
    expect(first).toEqual({ path: '~/app/app.txt', size: 14, created: true });
    expect((await ok('workspace.read', { path: '/workspace/app/app.txt' })).text).toBe('first version\n');
    const listing = await ok('workspace.list', { path: '~/app' });
    expect(listing.entries.map((e) => `${e.kind} ${e.path} ${e.size}`)).toEqual([
      `file Dockerfile ${dockerfile.length}`,
      'file app.txt 14',
    ]);

    let built = await run('docker build -t editor-demo ~/app');
    expect(built.exitCode, built.output).toBe(0);
    expect((await run('docker run --rm editor-demo')).output).toContain('first version');

    // The editor saves again; the next build sees the new content, not a cached layer of the old.
    const second = await ok('workspace.write', { path: '~/app/app.txt', content: 'edited in the page\n' });
    expect(second.created).toBe(false);
    built = await run('docker build -t editor-demo ~/app');
    expect(built.exitCode, built.output).toBe(0);
    const ran = await run('docker run --rm editor-demo');
    expect(ran.output).toContain('edited in the page');
    expect(ran.output).not.toContain('first version');
  }, 300_000);

  it('sees what the terminal wrote, and refuses to open an archive as text', async () => {
    expect((await run('docker save -o ~/app/image.tar editor-demo')).exitCode).toBe(0);
    const listing = await ok('workspace.list', { path: '~/app' });
    const tar = listing.entries.find((e) => e.path === 'image.tar');
    expect(tar?.size).toBeGreaterThan(EDIT_FILE_MAX_BYTES);
    expect(await refused('workspace.read', { path: '~/app/image.tar' })).toMatch(
      /image\.tar is .* the editor opens and saves files up to/,
    );
    // A small binary: refused for what it is.
    writeFileSync(join(workspaceDir(), 'app', 'small.bin'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]));
    expect(await refused('workspace.read', { path: '~/app/small.bin' })).toMatch(/binary file/);
    expect((await run('rm ~/app/image.tar')).exitCode).toBe(0);
    expect((await run('rm ~/app/small.bin')).exitCode).toBe(0);
  }, 120_000);

  it('refuses paths out of the workspace, NUL bytes and the read-only lesson contexts', async () => {
    const outside = /outside this terminal's workspace/;
    for (const path of [
      '../../etc/passwd',
      '~/../../../etc/shadow',
      '/etc/passwd',
      server.root,
      `${server.root}/x`,
    ]) {
      expect(await refused('workspace.read', { path }), path).toMatch(outside);
      expect(await refused('workspace.write', { path, content: 'x' }), path).toMatch(outside);
      expect(await refused('workspace.list', { path }), path).toMatch(outside);
    }
    expect(await refused('workspace.write', { path: '~/app/a\0b', content: 'x' })).toMatch(/invalid path/);
    expect(await refused('workspace.write', { path: '~/app/a\u001bb', content: 'x' })).toMatch(
      /control characters/,
    );
    expect(
      await refused('workspace.write', { path: '/lessons/hello-build/Dockerfile', content: 'x' }),
    ).toMatch(/read-only/);
    expect((await ok('workspace.read', { path: '/lessons/hello-build/Dockerfile' })).writable).toBe(false);
    expect(readFileSync('/etc/passwd', 'utf8')).toContain('root:');
  });

  it('never follows a symlink planted in the workspace', async () => {
    // The browser terminal has no `ln`: a symlink is planted on the host, as a future command might.
    const dir = workspaceDir();
    const secret = join(server.root, 'secret.txt');
    writeFileSync(secret, 'host secret\n');
    symlinkSync(server.root, join(dir, 'escape'));
    symlinkSync(secret, join(dir, 'app', 'secret-link'));
    for (const message of [
      await refused('workspace.read', { path: '~/escape/secret.txt' }),
      await refused('workspace.read', { path: '~/app/secret-link' }),
      await refused('workspace.list', { path: '~/escape' }),
      await refused('workspace.write', { path: '~/escape/secret.txt', content: 'pwned' }),
      await refused('workspace.write', { path: '~/app/secret-link', content: 'pwned' }),
      await refused('workspace.write', { path: '~/escape/new/file', content: 'pwned' }),
    ]) {
      expect(message).toMatch(/symbolic link/);
      expect(message).not.toContain(server.root);
    }
    expect(readFileSync(secret, 'utf8')).toBe('host secret\n');
    expect(existsSync(join(server.root, 'new'))).toBe(false);
    const listing = await ok('workspace.list', { path: '~' });
    expect(listing.entries.filter((e) => e.kind === 'symlink').map((e) => e.path)).toEqual([
      'app/secret-link',
      'escape',
    ]);
    expect((await run('rm ~/escape')).exitCode).toBe(0);
    expect((await run('rm ~/app/secret-link')).exitCode).toBe(0);
  });

  it('refuses a file over the size cap, over both transports', async () => {
    // Multibyte text under the schema's character cap but over the byte cap.
    const wide = 'é'.repeat(EDIT_FILE_MAX_BYTES / 2 + 10);
    expect(await refused('workspace.write', { path: '~/app/wide.txt', content: wide })).toMatch(
      /the editor opens and saves files up to/,
    );
    // Over the cap in characters too: the message itself is refused by its schema, as any bad message is.
    client.send({
      type: 'workspace.write',
      id: 'long',
      path: '~/app/long.txt',
      content: 'x'.repeat(EDIT_FILE_MAX_BYTES + 1),
    });
    const invalid = await client.next('error', (m) => m.code === 'invalid_message');
    expect(invalid.message).toMatch(/^workspace\.write: content: Too big/i);
    const post = (content: string) =>
      fetch(`${server.url}/api/workspace/file`, {
        method: 'POST',
        headers: { cookie, origin: server.url, 'content-type': 'application/json' },
        body: JSON.stringify({ path: '~/app/wide.txt', content }),
      });
    const tooLarge = await post(wide);
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.text()).toMatch(/the editor opens and saves files up to/);
    const fine = await post('small\n');
    expect(fine.status).toBe(200);
    expect(await fine.json()).toMatchObject({ path: '~/app/wide.txt', created: true });
    const read = await fetch(
      `${server.url}/api/workspace/file?path=${encodeURIComponent('~/app/wide.txt')}`,
      {
        headers: { cookie },
      },
    );
    expect(await read.json()).toMatchObject({ text: 'small\n' });
    expect(existsSync(join(workspaceDir(), 'app', 'long.txt'))).toBe(false);
  });

  it('refuses a new file past the workspace’s entry limit, and still saves existing ones', async () => {
    const before = (await ok('workspace.list', { path: '~' })).entries.length;
    const many = join(workspaceDir(), 'many');
    mkdirSync(many);
    // Made on the host (500 saves would only be slower): the workspace is then exactly full.
    for (let i = 0; i < WORKSPACE_MAX_ENTRIES - before - 1; i++) writeFileSync(join(many, `f${i}`), '');
    expect(await refused('workspace.write', { path: '~/many/one-more', content: '' })).toMatch(
      /its limit is 500; remove some with 'rm FILE'/,
    );
    expect((await ok('workspace.write', { path: '~/app/app.txt', content: 'still saved\n' })).created).toBe(
      false,
    );
    for (let i = 0; i < 20; i++) expect((await run(`rm ~/many/f${i}`)).exitCode).toBe(0);
    expect((await ok('workspace.write', { path: '~/many/one-more', content: '' })).created).toBe(true);
  }, 120_000);

  it('seeds a directory from a lesson context once, keeping the reader’s edits after', async () => {
    const seeded = await ok('workspace.seed', { context: 'hello-build', dir: '~/hello' });
    expect(seeded.kept).toBe(false);
    expect(seeded.copied).toContain('Dockerfile');
    const original = (await ok('workspace.read', { path: '/lessons/hello-build/Dockerfile' })).text;
    expect((await ok('workspace.read', { path: '~/hello/Dockerfile' })).text).toBe(original);
    await ok('workspace.write', { path: '~/hello/Dockerfile', content: `${original}# mine\n` });
    expect(await ok('workspace.seed', { context: 'hello-build', dir: '~/hello' })).toEqual({
      path: '~/hello',
      copied: [],
      kept: true,
    });
    expect((await ok('workspace.read', { path: '~/hello/Dockerfile' })).text).toContain('# mine');
    expect(await refused('workspace.seed', { context: 'no-such-context', dir: '~/x' })).toMatch(
      /no lesson context/,
    );
    expect(await refused('workspace.seed', { context: '..', dir: '~/x' })).toMatch(
      /outside|invalid lesson context/,
    );
  });
});
