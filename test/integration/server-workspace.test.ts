// The browser terminal's workspace against a real session and engine: a lesson context builds and
// runs, `save -o` / `load -i` round-trip through the session's workspace, paths outside it (and a
// symlink out of it) are refused with a clear message, and disposing the session removes it.
import { existsSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import xtermHeadless from '@xterm/headless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineConfigSchema } from '../../engine/config.ts';
import { resolveLimits } from '../../server/limits.ts';
import { type ServerSession, SessionManager } from '../../server/sessions/manager.ts';
import { sessionWorkspace } from '../../server/sessions/workspace.ts';
import { createTerminal, type Terminal } from '../../server/terminal/terminal.ts';
import { testRegistryHost, writeServerRegistryCredentials } from '../support/context.ts';

let root: string;
let manager: SessionManager;
let session: ServerSession;
let terminal: Terminal;
let client: InstanceType<typeof xtermHeadless.Terminal>;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'layerlab-ws-'));
  writeServerRegistryCredentials(root);
  const host = testRegistryHost();
  manager = new SessionManager({
    root,
    config: engineConfigSchema.parse({ mirrors: host ? { 'docker.io': [`http://${host}`] } : {} }),
    limits: resolveLimits(),
  });
  session = await manager.create();
  terminal = createTerminal(session, { cols: 240, rows: 40 });
  client = new xtermHeadless.Terminal({ cols: 240, rows: 40, scrollback: 5000, allowProposedApi: true });
  client.write(terminal.replay());
  terminal.onOutput((data) => client.write(data));
});

afterAll(async () => {
  terminal.dispose();
  await manager.disposeAll();
  rmSync(root, { recursive: true, force: true });
});

async function screen(): Promise<string> {
  await new Promise<void>((resolve) => client.write('', resolve));
  const buffer = client.buffer.active;
  const lines: string[] = [];
  for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i)!.translateToString(true));
  return lines.join('\n');
}

/** Runs one command line and returns what it printed (the screen after the previous command). */
async function command(line: string, timeoutMs = 90_000): Promise<{ out: string; exitCode: number }> {
  const before = (await screen()).trimEnd().length;
  let exitCode = -1;
  const off = session.events.on((e) => {
    if (e.type === 'terminal.command' && e.command === line) exitCode = e.exitCode;
  });
  terminal.run(line);
  await Promise.race([
    terminal.idle(),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${line}: still running`)), timeoutMs)),
  ]);
  off();
  const out = (await screen()).trimEnd().slice(before);
  return { out, exitCode };
}

const OUTSIDE =
  "is outside this terminal's workspace: use /lessons/<name> for the lesson build contexts, or a relative path for your workspace";

describe('the terminal workspace', () => {
  it('builds a lesson context and runs the image it made', async () => {
    const built = await command('docker build -t hello /lessons/hello-build');
    expect(built.exitCode, built.out).toBe(0);
    // BuildKit's progress, Docker's default builder's.
    expect(built.out).toMatch(/\[1\/\d\] FROM docker\.io\/library\/busybox:latest/);
    expect(built.out).toContain('naming to docker.io/library/hello:latest done');
    const ran = await command('docker run --rm hello');
    expect(ran.exitCode, ran.out).toBe(0);
    expect(ran.out).toContain('Hello from a file that COPY put into the image.');
    expect(ran.out).toContain('This line was written by a RUN step during the build.');
  });

  it('saves busybox into the workspace and loads it back after rmi', async () => {
    const saved = await command('docker save -o image.tar busybox');
    expect(saved.exitCode, saved.out).toBe(0);
    const ws = sessionWorkspace(session.ctx);
    expect(ws.dir).toBe(join(session.root, 'workspace'));
    expect(statSync(join(ws.dir, 'image.tar')).size).toBeGreaterThan(100_000);
    const listed = await command('ls');
    expect(listed.out).toMatch(/\d+ {2}image\.tar/);
    expect((await command('ls /lessons')).out).toContain('hello-build/');

    expect((await command('docker rmi busybox')).exitCode).toBe(0);
    expect((await command('docker images busybox')).out).not.toMatch(/^busybox\s/m);
    const loaded = await command('docker load -i ~/image.tar');
    expect(loaded.exitCode, loaded.out).toBe(0);
    expect(loaded.out).toContain('Loaded image: busybox:latest');
    expect((await command('docker images busybox')).out).toMatch(/^busybox\s+latest/m);
    expect((await command('docker run --rm busybox echo back')).out).toContain('back');
  });

  it('refuses paths outside the workspace and the lesson contexts', async () => {
    for (const [line, path] of [
      ['docker build /etc', '/etc'],
      ['docker save -o ../../x.tar busybox', '../../x.tar'],
      ['docker load -i /etc/passwd', '/etc/passwd'],
      ['docker image build -f /etc/passwd /lessons/hello-build', '/etc/passwd'],
    ] as const) {
      const result = await command(line);
      expect(result.exitCode, line).toBe(1);
      expect(result.out.replace(/\s*\n\s*/g, ' '), line).toContain(`path ${path} ${OUTSIDE}`);
    }
    expect(existsSync(join(root, 'sessions', 'x.tar'))).toBe(false);
    // An engine error about a mapped path names it as the reader does, never by its host path.
    const noDockerfile = await command('docker build /lessons');
    expect(noDockerfile.exitCode).toBe(1);
    expect(noDockerfile.out).toContain('/lessons');
    expect(noDockerfile.out).not.toContain(sessionWorkspace(session.ctx).contexts);
    const readonly = await command('docker save -o /lessons/hello-build/x.tar busybox');
    expect(readonly.out).toContain('is read-only');
    expect((await command('docker --root /tmp images')).out).toContain('--root is not available');
  });

  it('refuses a symlink that leads out of the workspace', async () => {
    const ws = sessionWorkspace(session.ctx);
    symlinkSync('/etc', join(ws.dir, 'etc'));
    symlinkSync('/etc/hostname', join(ws.dir, 'hostname.tar'));
    for (const line of [
      'docker build etc',
      'docker load -i hostname.tar',
      'docker save -o etc/x.tar busybox',
    ]) {
      const result = await command(line);
      expect(result.exitCode, line).toBe(1);
      expect(result.out, line).toContain('leads outside your workspace through a symbolic link');
    }
    expect(existsSync('/etc/x.tar')).toBe(false);
  });

  it('removes the workspace with the session', async () => {
    const dir = sessionWorkspace(session.ctx).dir;
    expect(existsSync(dir)).toBe(true);
    await manager.dispose(session.id);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(session.root)).toBe(false);
  });
});
