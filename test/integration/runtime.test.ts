// The runtime layer end to end on the real kernel and OCI runtime: a busybox rootfs through overlay,
// a spec from buildSpec, the shim starting, attaching, exec'ing, resizing and reporting exit codes.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../engine/errors.ts';
import { isMountPoint } from '../../engine/host/mounts.ts';
import { detectRuntime } from '../../engine/runtime/detect.ts';
import { mountRootfs, unmountOverlay } from '../../engine/runtime/overlay.ts';
import {
  execShim,
  readExitStatus,
  readLog,
  runtimeKill,
  runtimeState,
  type ShimConnection,
  startShim,
  waitShimGone,
} from '../../engine/runtime/shim.ts';
import { buildProcess } from '../../engine/runtime/spec.ts';
import { makeBusyboxLowerDir, mountBundle, removeBundle, writeBundleSpec } from '../support/containers.ts';
import { freshContext, type TestContext } from '../support/context.ts';

let t: TestContext;
let lower: string;
const containers: string[] = [];

interface Started {
  id: string;
  runDir: string;
  containerDir: string;
  pid: number;
  containerPid: number;
  connection?: ShimConnection;
}

async function prepare(args: string[], opts: { tty?: boolean; seccomp?: boolean } = {}) {
  const bundle = await mountBundle(t.ctx, lower, args, opts);
  containers.push(bundle.id);
  return bundle;
}

async function run(
  args: string[],
  opts: {
    tty?: boolean;
    stdin?: boolean;
    attach?: boolean;
    rows?: number;
    cols?: number;
    seccomp?: boolean;
  } = {},
): Promise<Started & { logPath: string }> {
  const p = await prepare(args, opts);
  const started = await startShim(t.ctx, {
    id: p.id,
    bundleDir: p.bundleDir,
    runDir: p.runDir,
    logPath: p.logPath,
    tty: opts.tty ?? false,
    stdin: opts.stdin ?? false,
    attach: opts.attach ?? true,
    ...(opts.rows ? { rows: opts.rows, cols: opts.cols ?? 80 } : {}),
  });
  return { ...p, ...started };
}

/** Everything a connection prints until the exit, with the exit code. */
function collect(connection: ShimConnection): Promise<{ stdout: string; stderr: string; code: number }> {
  let stdout = '';
  let stderr = '';
  connection.onData((stream, data) => {
    if (stream === 'stdout') stdout += data.toString();
    else stderr += data.toString();
  });
  return new Promise((resolve) => connection.onExit((code) => resolve({ stdout, stderr, code })));
}

/** Resolves once the output so far matches. */
function waitFor(connection: ShimConnection, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  let seen = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${pattern}; saw ${JSON.stringify(seen)}`)),
      timeoutMs,
    );
    const off = connection.onData((_s, data) => {
      seen += data.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        off();
        resolve(seen);
      }
    });
  });
}

// Everything runs under both runtimes: they differ in how they pass stdio, terminals and errors.
describe.each(['crun', 'runc'] as const)('with %s', (runtimeName) => {
  beforeAll(async () => {
    t = freshContext();
    t.ctx.config.runtime = runtimeName;
    expect((await detectRuntime(t.ctx)).name).toBe(runtimeName);
    lower = join(t.root, 'layers', 'busybox', 'diff');
    makeBusyboxLowerDir(lower, t.ctx.config.usernsBase);
  });

  afterAll(async () => {
    for (const id of containers) await removeBundle(t.ctx, id);
    containers.length = 0;
    t.cleanup();
  });

  describe('a container without a terminal', () => {
    it('prints to stdout and exits 0', async () => {
      const c = await run(['echo', 'hi']);
      const result = await collect(c.connection!);
      expect(result).toEqual({ stdout: 'hi\n', stderr: '', code: 0 });
      expect((await readExitStatus(c.runDir))?.exitCode).toBe(0);
    });

    it('keeps stdout and stderr apart, in the stream and in the log', async () => {
      const c = await run(['sh', '-c', 'echo out; echo err >&2; exit 3']);
      const result = await collect(c.connection!);
      expect(result).toEqual({ stdout: 'out\n', stderr: 'err\n', code: 3 });
      const records = [];
      for await (const r of readLog(c.logPath)) records.push(`${r.stream}:${r.data.toString()}`);
      expect(records.sort()).toEqual(['stderr:err\n', 'stdout:out\n']);
      expect(await readExitStatus(c.runDir)).toMatchObject({ exitCode: 3 });
    });

    it('receives signals sent through the runtime', async () => {
      const c = await run([
        'sh',
        '-c',
        'trap "echo got TERM; exit 42" TERM; echo ready; while :; do sleep 0.05; done',
      ]);
      const result = collect(c.connection!);
      await waitFor(c.connection!, /ready/);
      await runtimeKill(t.ctx, c.id, 'TERM');
      expect(await result).toMatchObject({ stdout: 'ready\ngot TERM\n', code: 42 });
    });

    it('passes stdin through and closes it', async () => {
      const c = await run(['cat'], { stdin: true });
      const result = collect(c.connection!);
      c.connection!.write('abc\n');
      c.connection!.closeStdin();
      expect(await result).toMatchObject({ stdout: 'abc\n', code: 0 });
    });

    it('fails to start with the runtime message when the executable is missing', async () => {
      const p = await prepare(['/no/such/binary']);
      const start = startShim(t.ctx, { ...p, tty: false });
      await expect(start).rejects.toBeInstanceOf(RuntimeError);
      await expect(start).rejects.toThrow(/no\/such\/binary/);
      await expect(start).rejects.not.toThrow(/level=error/); // runc's logrus noise is removed
      expect(await runtimeState(t.ctx, p.id)).toBeUndefined();
    });
  });

  describe('the sandbox', () => {
    it('maps container root to the userns base on the host', async () => {
      const c = await run(['sleep', '100'], { attach: false });
      const status = readFileSync(`/proc/${c.containerPid}/status`, 'utf8');
      expect(status).toMatch(/^Uid:\s+100000\s+100000\s+100000\s+100000$/m);
      expect(status).toMatch(/^Gid:\s+100000\s/m);
      expect(await runtimeState(t.ctx, c.id)).toEqual({ status: 'running', pid: c.containerPid });
      await runtimeKill(t.ctx, c.id, 'KILL');
      await waitUntil(async () => (await readExitStatus(c.runDir)) !== undefined);
      expect((await readExitStatus(c.runDir))?.exitCode).toBe(137);
      // The exit is reported first; the shim then deletes the container and leaves.
      expect(await waitShimGone(c.runDir)).toBe(true);
      expect(await runtimeState(t.ctx, c.id)).toBeUndefined(); // the shim deleted it
    });

    it('has only loopback in its network namespace', async () => {
      const c = await run(['ls', '/sys/class/net']);
      expect((await collect(c.connection!)).stdout.trim()).toBe('lo');
    });

    it('is called by its short id', async () => {
      const c = await run(['hostname']);
      expect((await collect(c.connection!)).stdout).toBe(`${c.id.slice(0, 12)}\n`);
    });

    it('filters syscalls with seccomp: a new user namespace only works without the profile', async () => {
      const script = 'grep Seccomp: /proc/self/status; unshare -U true && echo unshared || echo refused';
      const withProfile = await run(['sh', '-c', script]);
      expect((await collect(withProfile.connection!)).stdout).toMatch(/Seccomp:\s+2\n[\s\S]*refused/);
      const without = await run(['sh', '-c', script], { seccomp: false });
      expect((await collect(without.connection!)).stdout).toMatch(/Seccomp:\s+0\n[\s\S]*unshared/);
    });

    it('keeps the container changes in the tmpfs across a second start', async () => {
      const p = await prepare(['sh', '-c', 'echo kept > /note']);
      const first = await startShim(t.ctx, { ...p, tty: false, attach: true });
      expect((await collect(first.connection!)).code).toBe(0);
      expect(readFileSync(join(p.containerDir, 'rw', 'upper', 'note'), 'utf8')).toBe('kept\n');
      await unmountOverlay(p.containerDir);
      expect(isMountPoint(join(p.containerDir, 'merged'))).toBe(false);
      const { merged } = await mountRootfs({
        lowerDirs: [lower],
        containerDir: p.containerDir,
        sizeBytes: 16 * 1024 * 1024,
        rootUid: t.ctx.config.usernsBase,
      });
      writeBundleSpec(t.ctx, p.id, p.bundleDir, merged, ['cat', '/note']);
      const second = await startShim(t.ctx, { ...p, tty: false, attach: true });
      expect(await collect(second.connection!)).toMatchObject({ stdout: 'kept\n', code: 0 });
    });
  });

  describe('a container with a terminal', () => {
    it('runs on /dev/pts/0', async () => {
      const c = await run(['tty'], { tty: true });
      const { stdout, code } = await collect(c.connection!);
      expect(stdout.trim()).toBe('/dev/pts/0');
      expect(code).toBe(0);
    });

    it('takes its initial size and later resizes', async () => {
      const c = await run(['sh'], { tty: true, stdin: true, rows: 24, cols: 80 });
      const conn = c.connection!;
      const result = collect(conn);
      conn.write('stty size\n');
      await waitFor(conn, /24 80/);
      conn.resize(33, 101);
      conn.write('stty size\n');
      await waitFor(conn, /33 101/);
      conn.write('exit 4\n');
      expect((await result).code).toBe(4);
    });

    it('turns Ctrl-C into SIGINT for the foreground process of a shell', async () => {
      const c = await run(['sh'], { tty: true, stdin: true });
      const conn = c.connection!;
      const result = collect(conn);
      conn.write('sleep 100\n');
      await waitUntil(() => childNames(c.containerPid).includes('sleep'));
      const before = Date.now();
      conn.write('\x03');
      conn.write('echo "after $?"\n');
      await waitFor(conn, /after 130/);
      expect(Date.now() - before).toBeLessThan(5000);
      conn.write('exit\n');
      expect((await result).code).toBe(0);
    });
  });

  describe('exec', () => {
    it('runs a process with a terminal in a running container', async () => {
      const c = await run(['sleep', '100'], { attach: false });
      const exec = await execShim(t.ctx, {
        id: c.id,
        runDir: c.runDir,
        tty: true,
        stdin: true,
        rows: 20,
        cols: 60,
        process: buildProcess({ args: ['sh'], env: ['PATH=/bin'], cwd: '/', uid: 0, gid: 0, terminal: true }),
      });
      const result = collect(exec);
      exec.write('tty; stty size; exit 7\n');
      const { stdout, code } = await result;
      expect(stdout).toMatch(/\/dev\/pts\/\d+/);
      expect(stdout).toContain('20 60');
      expect(code).toBe(7);
      expect(await exec.exitCode).toBe(7);
      expect((await runtimeState(t.ctx, c.id))?.status).toBe('running');
      await runtimeKill(t.ctx, c.id, 'KILL');
    });

    it('runs a process without a terminal and reports its exit code', async () => {
      const c = await run(['sleep', '100'], { attach: false });
      const exec = await execShim(t.ctx, {
        id: c.id,
        runDir: c.runDir,
        tty: false,
        process: buildProcess({
          args: ['sh', '-c', 'echo in-container; exit 5'],
          env: ['PATH=/bin'],
          cwd: '/',
          uid: 0,
          gid: 0,
          terminal: false,
        }),
      });
      expect(await collect(exec)).toMatchObject({ stdout: 'in-container\n', code: 5 });
      await runtimeKill(t.ctx, c.id, 'KILL');
    });
  });
});

function childNames(pid: number): string {
  try {
    return execFileSync('ps', ['-o', 'comm=', '--ppid', String(pid)]).toString();
  } catch {
    return ''; // ps exits 1 when there are none
  }
}

async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
