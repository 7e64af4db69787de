// The shim as a process on its own: it outlives its starter, serves several clients with the framed
// protocol, holds back a flood of output when a client does not read, and bounds its log.

import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectRuntime } from '../../engine/runtime/detect.ts';
import {
  attachShim,
  type LogRecord,
  readExitStatus,
  readLog,
  runningShimPid,
  runtimeKill,
  runtimeState,
  type ShimConnection,
  startShim,
} from '../../engine/runtime/shim.ts';
import { makeBusyboxLowerDir, mountBundle, removeBundle } from '../support/containers.ts';
import { freshContext, type TestContext } from '../support/context.ts';

let t: TestContext;
let lower: string;
const ids: string[] = [];

beforeAll(async () => {
  t = freshContext();
  await detectRuntime(t.ctx);
  lower = join(t.root, 'layers', 'busybox', 'diff');
  makeBusyboxLowerDir(lower, t.ctx.config.usernsBase);
});

afterAll(async () => {
  for (const id of ids) await removeBundle(t.ctx, id);
  t.cleanup();
});

/** A mounted rootfs and a bundle for `args`; returns what startShim takes. */
async function bundle(args: string[]) {
  const b = await mountBundle(t.ctx, lower, args, { env: ['PATH=/bin'], sizeBytes: 8 * 1024 * 1024 });
  ids.push(b.id);
  return b;
}

function exited(runDir: string): Promise<number> {
  return new Promise((resolve) => {
    const timer = setInterval(async () => {
      const status = await readExitStatus(runDir);
      if (status) {
        clearInterval(timer);
        resolve(status.exitCode);
      }
    }, 20);
  });
}

function output(connection: ShimConnection): { text: () => string } {
  let text = '';
  connection.onData((_s, d) => {
    text += d.toString();
  });
  return { text: () => text };
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a detached container', () => {
  it('outlives the process that started it', async () => {
    const b = await bundle(['sleep', '100']);
    // Another Node process starts the container and exits, as `layerlab run -d` does.
    const script = join(t.root, 'start.ts');
    writeFileSync(
      script,
      [
        `import { createContext } from ${JSON.stringify(new URL('../../engine/context.ts', import.meta.url).pathname)};`,
        `import { startShim } from ${JSON.stringify(new URL('../../engine/runtime/shim.ts', import.meta.url).pathname)};`,
        `const ctx = createContext(${JSON.stringify(t.root)}, { config: ${JSON.stringify(t.ctx.config)} });`,
        `const started = await startShim(ctx, ${JSON.stringify({ ...b, tty: false })});`,
        'console.log(JSON.stringify(started));',
      ].join('\n'),
    );
    const child = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 30_000 });
    expect(child.status, child.stderr).toBe(0);
    const started = JSON.parse(child.stdout) as { pid: number; containerPid: number };

    // The starter is gone; the shim and the container run on, the shim re-parented away from it.
    expect(runningShimPid(b.runDir)).toBe(started.pid);
    const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${started.pid}/status`, 'utf8'))![1]);
    expect(ppid).not.toBe(child.pid);
    expect(await runtimeState(t.ctx, b.id)).toEqual({ status: 'running', pid: started.containerPid });
    const parentOfContainer = /^PPid:\s+(\d+)/m.exec(
      readFileSync(`/proc/${started.containerPid}/status`, 'utf8'),
    )![1];
    expect(Number(parentOfContainer)).toBe(started.pid); // the subreaper owns the container

    const connection = await attachShim(b.runDir);
    const code = new Promise<number>((resolve) => connection.onExit(resolve));
    await runtimeKill(t.ctx, b.id, 'SIGKILL');
    expect(await code).toBe(137);
    await until(() => runningShimPid(b.runDir) === undefined);
  });
});

describe('attach', () => {
  it('sends output to every client and takes input from any', async () => {
    const b = await bundle(['sh', '-c', 'while read line; do echo "echo:$line"; done']);
    const started = await startShim(t.ctx, { ...b, tty: false, stdin: true, attach: true });
    const first = started.connection!;
    const second = await attachShim(b.runDir);
    const a = output(first);
    const c = output(second);
    second.write('one\n');
    await until(() => a.text() === 'echo:one\n' && c.text() === 'echo:one\n');
    second.close(); // detaching one client leaves the other attached
    first.write('two\n');
    await until(() => a.text() === 'echo:one\necho:two\n');
    const code = new Promise<number>((resolve) => first.onExit(resolve));
    first.closeStdin();
    expect(await code).toBe(0);
  });

  it('hangs up gracefully: a client may still write after the exit frame, then reads the end', async () => {
    const b = await bundle(['sh', '-c', 'read go; echo last-words']);
    const started = await startShim(t.ctx, { ...b, tty: false, stdin: true });
    const socket = createConnection(join(b.runDir, 'attach.sock'));
    const frames = readFrames(socket);
    const errors: string[] = [];
    socket.on('error', (err: NodeJS.ErrnoException) => errors.push(err.code ?? err.message));
    await new Promise((r) => socket.once('connect', r));
    socket.write(Buffer.concat([Buffer.from([0x01, 0, 0, 0, 3]), Buffer.from('go\n')]));
    await until(() => frames.list.some((f) => f.type === 0x13));
    // A client that sends a resize just as the container exits (a browser resizing, the end of the
    // user's stdin): a shim that closed outright made this write fail with EPIPE, and a client that
    // fails a write may throw away output it had not read yet.
    const resize = Buffer.from([0x02, 0, 0, 0, 4, 0, 30, 0, 100]);
    socket.write(resize);
    await new Promise((r) => setTimeout(r, 100));
    socket.write(resize);
    const received = await frames.untilClosed;
    expect(errors).toEqual([]);
    expect(received.map((f) => f.type)).toEqual([0x11, 0x13]);
    expect(received[0]!.payload.toString()).toBe('last-words\n');
    expect(started.pid).toBeGreaterThan(0);
  });

  it('speaks the documented frame format to a raw client', async () => {
    const b = await bundle(['sh', '-c', 'read x; echo "[$x]"; exit 9']);
    const started = await startShim(t.ctx, { ...b, tty: false, stdin: true });
    const socket = createConnection(join(b.runDir, 'attach.sock'));
    const frames = readFrames(socket);
    await new Promise((r) => socket.once('connect', r));
    socket.write(Buffer.concat([Buffer.from([0x01, 0, 0, 0, 3]), Buffer.from('hi\n')]));
    const received = await frames.untilClosed;
    expect(received).toEqual([
      { type: 0x11, payload: Buffer.from('[hi]\n') },
      { type: 0x13, payload: Buffer.from([0, 0, 0, 9]) },
    ]);
    expect(started.containerPid).toBeGreaterThan(0);
  });
});

function readFrames(socket: Socket) {
  const frames: { type: number; payload: Buffer }[] = [];
  let buf = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(1)) {
      const length = buf.readUInt32BE(1);
      frames.push({ type: buf[0]!, payload: Buffer.from(buf.subarray(5, 5 + length)) });
      buf = buf.subarray(5 + length);
    }
  });
  return {
    list: frames,
    untilClosed: new Promise<typeof frames>((resolve) => socket.on('close', () => resolve(frames))),
  };
}

describe('back-pressure', () => {
  it('pauses the container instead of buffering for a client that does not read', async () => {
    const total = 32 * 1024 * 1024;
    // The flood starts only once our raw client is attached (and not reading): it sends "go".
    const b = await bundle(['sh', '-c', `read go; head -c ${total} /dev/zero; echo done >&2`]);
    const started = await startShim(t.ctx, { ...b, tty: false, stdin: true, logMaxBytes: 1024 * 1024 });
    const socket = createConnection(join(b.runDir, 'attach.sock'));
    await new Promise((r) => socket.once('connect', r));
    socket.pause(); // read nothing
    socket.write(Buffer.concat([Buffer.from([0x01, 0, 0, 0, 3]), Buffer.from('go\n')]));
    await new Promise((r) => setTimeout(r, 1000));
    // The container is still writing: it is held back, not finished.
    expect(await readExitStatus(b.runDir)).toBeUndefined();
    const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${started.pid}/status`, 'utf8'))![1]);
    expect(rssKb).toBeLessThan(16 * 1024);
    // Reading again lets everything through, in full.
    let stdout = 0;
    let pending = Buffer.alloc(0);
    let exitCode: number | undefined;
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
        const length = pending.readUInt32BE(1);
        if (pending[0] === 0x11) stdout += length;
        if (pending[0] === 0x13) exitCode = pending.readInt32BE(5);
        pending = pending.subarray(5 + length);
      }
    });
    socket.resume();
    await new Promise((r) => socket.once('close', r));
    expect(stdout).toBe(total);
    expect(exitCode).toBe(0);
    // The log kept only its bound: the current file and one rotated file.
    expect(statSync(b.logPath).size).toBeLessThanOrEqual(1024 * 1024);
    expect(statSync(`${b.logPath}.1`).size).toBeLessThanOrEqual(1024 * 1024);
  });
});

describe('the log', () => {
  it('reads all, the tail, and follows until the exit', async () => {
    const b = await bundle([
      'sh',
      '-c',
      'for i in 1 2 3 4 5; do echo "line $i"; sleep 0.05; done; echo oops >&2',
    ]);
    const records: LogRecord[] = [];
    const starting = startShim(t.ctx, { ...b, tty: false });
    await starting;
    for await (const r of readLog(b.logPath, { follow: true, runDir: b.runDir })) records.push(r);
    const text = records.map((r) => `${r.stream}:${r.data}`).join('');
    expect(text).toBe(
      'stdout:line 1\nstdout:line 2\nstdout:line 3\nstdout:line 4\nstdout:line 5\nstderr:oops\n',
    );
    expect(records.every((r, i) => i === 0 || r.timeNs >= records[i - 1]!.timeNs)).toBe(true);

    const tail: string[] = [];
    for await (const r of readLog(b.logPath, { tail: 2 })) tail.push(r.data.toString());
    expect(tail).toEqual(['line 5\n', 'oops\n']);
    expect(await exited(b.runDir)).toBe(0);
  });

  it('keeps the newest output when it rotates', async () => {
    const b = await bundle(['sh', '-c', 'i=0; while [ $i -lt 20000 ]; do echo "line $i"; i=$((i+1)); done']);
    await startShim(t.ctx, { ...b, tty: false, logMaxBytes: 64 * 1024 });
    await exited(b.runDir);
    let text = '';
    for await (const r of readLog(b.logPath)) text += r.data.toString();
    expect(text.endsWith('line 19999\n')).toBe(true);
    expect(text.length).toBeLessThanOrEqual(128 * 1024);
    const numbers = text
      .trim()
      .split('\n')
      .slice(1) // the first may start mid-line
      .map((l) => Number(l.split(' ')[1]));
    expect(numbers.every((n, i) => i === 0 || n === numbers[i - 1]! + 1)).toBe(true);
  });
});
