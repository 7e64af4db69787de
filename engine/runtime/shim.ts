// The TypeScript side of native/shim.c: starts a shim per container (or exec), speaks its attach
// protocol, reads its exit file and output log, and runs the runtime's kill/state/delete verbs.
//
// Attach frames: 1 type byte + 4-byte big-endian length + payload (see native/shim.c for the whole
// protocol). Log records: 1 stream byte + 8-byte big-endian ns timestamp + 4-byte length + bytes.

import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, type FSWatcher, mkdirSync, readFileSync, rmSync, statSync, watch } from 'node:fs';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { EngineContext } from '../context.ts';
import { NotFoundError, RuntimeError } from '../errors.ts';
import { warmCgroupMigration } from '../host/cgroup-warmup.ts';
import { processExited, shimProcess } from '../host/processes.ts';
import { detectRuntime, runtimeCommand, runtimeStateDir } from './detect.ts';
import type { OciProcess } from './spec.ts';

const execFileAsync = promisify(execFile);

export type StreamName = 'stdout' | 'stderr';

/** A live attachment to a shim: bytes in, bytes out, terminal size, and the exit code at the end. */
export interface ShimConnection {
  /** Sends bytes to the process's stdin (or its terminal). */
  write(data: Buffer | string): void;
  /** Closes stdin (without a terminal) or sends the EOF character (with one). */
  closeStdin(): void;
  resize(rows: number, cols: number): void;
  /** Output; what arrived before the first listener is delivered to it. Returns an unsubscribe. */
  onData(cb: (stream: StreamName, data: Buffer) => void): () => void;
  /** The exit status (code, or 128+signal), once; immediately if it is already known. */
  onExit(cb: (code: number) => void): () => void;
  /** Detaches; the process keeps running. */
  close(): void;
  /**
   * Stops reading output until `resume()`: back-pressure for a slow reader. The shim's queue fills,
   * it stops reading the container's output, and the container blocks on write; memory stays bounded.
   */
  pause?(): void;
  resume?(): void;
  /** Resolves when the connection is gone (detached, or the shim left after the exit). */
  readonly closed: Promise<void>;
}

export interface StartShimOptions {
  /** The runtime's container id (the full container id). */
  id: string;
  /** Contains config.json; its rootfs must be mounted. */
  bundleDir: string;
  /** Short per-container dir for sockets, pid and exit files (`containerRunPath`). */
  runDir: string;
  tty: boolean;
  rows?: number;
  cols?: number;
  /** Keep stdin open for writes (docker -i); otherwise the process reads /dev/null (without a TTY). */
  stdin?: boolean;
  /** Output log file (records: see readLog); it is rotated to `<logPath>.1` past `logMaxBytes`. */
  logPath: string;
  logMaxBytes?: number;
  /**
   * Attach before the container starts, so no output is missed (docker run without -d); the result
   * then carries the connection.
   */
  attach?: boolean;
}

export interface ShimStarted {
  /** The shim's pid (it outlives the caller). */
  pid: number;
  /** The container's init as a host pid. */
  containerPid: number;
  /** Present when `attach` was asked for. */
  connection?: ShimConnection;
}

export interface ExecShimOptions {
  id: string;
  /** The container's run dir; the exec gets its own subdirectory there. */
  runDir: string;
  process: OciProcess;
  tty: boolean;
  stdin?: boolean;
  rows?: number;
  cols?: number;
}

export interface ExecShim extends ShimConnection {
  /** The exec'd process as a host pid. */
  pid: number;
  exitCode: Promise<number>;
}

export interface ExitStatus {
  exitCode: number;
  finishedAt: string;
}

export interface LogRecord {
  stream: StreamName;
  /** Nanoseconds since the epoch. */
  timeNs: bigint;
  data: Buffer;
}

export interface ReadLogOptions {
  /** Keep reading as the log grows, until the process exits (needs runDir) or the signal aborts. */
  follow?: boolean;
  /** The container's run dir: following stops once its exit file appears and the log is drained. */
  runDir?: string;
  /** Only the last N lines. */
  tail?: number;
  /** Only records at or after this time. */
  since?: Date;
  signal?: AbortSignal;
}

const FRAME = {
  stdin: 0x01,
  resize: 0x02,
  closeStdin: 0x03,
  stdout: 0x11,
  stderr: 0x12,
  exit: 0x13,
} as const;
const DEFAULT_LOG_MAX = 4 * 1024 * 1024;

const NATIVE_DIR = fileURLToPath(new URL('../../native/', import.meta.url));
/** The shim binary built by `make -C native`. */
export const SHIM_PATH = join(NATIVE_DIR, 'build', 'layerlab-shim');

/** Builds the shim when it is missing or older than its source (needs cc and make). */
export function ensureShimBuilt(): string {
  const source = join(NATIVE_DIR, 'shim.c');
  const stale =
    !existsSync(SHIM_PATH) || (existsSync(source) && statSync(source).mtimeMs > statSync(SHIM_PATH).mtimeMs);
  if (stale) {
    try {
      execFileSync('make', ['-s', '-C', NATIVE_DIR], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
      throw new RuntimeError(`layerlab-shim is not built and \`make -C native\` failed: ${stderr ?? err}`, {
        input: SHIM_PATH,
        cause: err,
      });
    }
  }
  return SHIM_PATH;
}

/**
 * Starts a shim that creates and starts the container; resolves once the container runs, rejects
 * with the runtime's own message (a `RuntimeError`) when it cannot start.
 */
export async function startShim(ctx: EngineContext, options: StartShimOptions): Promise<ShimStarted> {
  // The runtime moves the container into its cgroups ~10 ms from now: have the kernel's wait begin.
  warmCgroupMigration();
  const runtime = await detectRuntime(ctx);
  // The last run's shim reports the exit before the runtime has deleted the container: the run dir
  // and the container's name in the runtime are free for a new start only once that shim is gone.
  await waitShimGone(options.runDir);
  mkdirSync(options.runDir, { recursive: true });
  rmSync(join(options.runDir, 'exit'), { force: true });
  const args = ['-i', options.id, '-r', options.runDir, '-s', '3', '-b', options.bundleDir];
  args.push('-l', options.logPath, '-L', String(options.logMaxBytes ?? DEFAULT_LOG_MAX));
  args.push(...terminalArgs(options));
  if (options.attach) args.push('-w');
  args.push('--', ...runtimeCommand(ctx, runtime));
  const started = await launch(args, options.runDir, options.id);
  return started;
}

/**
 * Runs a process in a running container through its own shim (so the runtime's exec'd process has a
 * parent that waits for it); the connection is made before the process starts.
 */
export async function execShim(ctx: EngineContext, options: ExecShimOptions): Promise<ExecShim> {
  // The exec'd process joins the container's cgroups too (see startShim).
  warmCgroupMigration();
  const runtime = await detectRuntime(ctx);
  const execDir = join(options.runDir, `x${randomBytes(4).toString('hex')}`);
  await mkdir(execDir, { recursive: true });
  const processPath = join(execDir, 'process.json');
  await writeFile(processPath, JSON.stringify({ ...options.process, terminal: options.tty }));
  const args = [
    '-i',
    options.id,
    '-r',
    execDir,
    '-s',
    '3',
    '-e',
    processPath,
    ...terminalArgs(options),
    '-w',
  ];
  args.push('--', ...runtimeCommand(ctx, runtime));
  let started: ShimStarted;
  try {
    started = await launch(args, execDir, options.id);
  } catch (err) {
    await rm(execDir, { recursive: true, force: true });
    throw err;
  }
  const connection = started.connection!;
  const exitCode = new Promise<number>((resolve, reject) => {
    connection.onExit(resolve);
    void connection.closed.then(async () => {
      const status = await readExitStatus(execDir);
      if (status) resolve(status.exitCode);
      else reject(new RuntimeError(`exec in ${options.id.slice(0, 12)}: the shim went away`));
    });
  });
  // The exec's directory is only the shim's scratch space; remove it once the result is known.
  void exitCode.then(
    () => connection.closed.then(() => rm(execDir, { recursive: true, force: true })),
    () => rm(execDir, { recursive: true, force: true }),
  );
  return Object.assign(connection, { pid: started.containerPid, exitCode });
}

function terminalArgs(options: { tty: boolean; stdin?: boolean; rows?: number; cols?: number }): string[] {
  const args: string[] = [];
  if (options.tty) {
    args.push('-t');
    if (options.rows && options.cols) args.push('-R', String(options.rows), '-C', String(options.cols));
  }
  if (options.stdin) args.push('-I');
  return args;
}

/** Spawns the shim and follows its status pipe (P pid, L listening, R running, E error). */
async function launch(args: string[], runDir: string, id: string): Promise<ShimStarted> {
  const shim = ensureShimBuilt();
  const child = spawn(shim, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], detached: true });
  const statusPipe = child.stdio[3] as Readable;
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.unref();
  let connection: ShimConnection | undefined;
  let attaching: Promise<ShimConnection> | undefined;
  let shimPid = 0;
  return new Promise<ShimStarted>((resolve, reject) => {
    let text = '';
    let settled = false;
    let running = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      connection?.close();
      reject(new RuntimeError(`${id.slice(0, 12)}: ${message}`, { input: id }));
    };
    child.on('error', (err) => fail(`cannot run ${shim}: ${err.message}`));
    statusPipe.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      for (;;) {
        if (text.startsWith('E ')) return; // the message runs to EOF
        const nl = text.indexOf('\n');
        if (nl < 0) return;
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        if (line.startsWith('P ')) {
          shimPid = Number(line.slice(2));
        } else if (line === 'L') {
          attaching = attachShim(runDir);
          attaching.then(
            (c) => {
              connection = c;
            },
            (err: Error) => fail(err.message),
          );
        } else if (line.startsWith('R ')) {
          const containerPid = Number(line.slice(2));
          running = true;
          // With attach the shim went on only after accepting us, so the connection is made or close.
          void (attaching ?? Promise.resolve(undefined)).then(
            (c) => {
              if (settled) return;
              settled = true;
              resolve({ pid: shimPid, containerPid, ...(c ? { connection: c } : {}) });
            },
            () => {},
          );
        }
      }
    });
    statusPipe.on('end', () => {
      if (running) return; // the shim closes the pipe once the container runs
      if (text.startsWith('E ')) fail(runtimeMessage(text.slice(2)));
      else fail(stderr.trim() || 'the shim exited before the container started');
    });
  });
}

/** Connects to a running shim. Rejects with a `RuntimeError` when nothing listens there. */
export function attachShim(runDir: string): Promise<ShimConnection> {
  const path = join(runDir, 'attach.sock');
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    socket.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new RuntimeError(`attach: container is not running (${err.code ?? err.message})`, { input: runDir }),
      );
    });
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(connectionOver(socket, runDir));
    });
  });
}

function frame(type: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header[0] = type;
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

function connectionOver(socket: Socket, runDir: string): ShimConnection {
  const dataListeners = new Set<(stream: StreamName, data: Buffer) => void>();
  const exitListeners = new Set<(code: number) => void>();
  const pending: [StreamName, Buffer][] = [];
  let exitCode: number | undefined;
  let buffered: Buffer = Buffer.alloc(0);

  const emitExit = (code: number) => {
    if (exitCode !== undefined) return;
    exitCode = code;
    for (const cb of exitListeners) cb(code);
  };
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 5) {
      const length = buffered.readUInt32BE(1);
      if (buffered.length < 5 + length) break;
      const type = buffered[0];
      const payload = buffered.subarray(5, 5 + length);
      buffered = buffered.subarray(5 + length);
      if (type === FRAME.stdout || type === FRAME.stderr) {
        const stream: StreamName = type === FRAME.stdout ? 'stdout' : 'stderr';
        if (dataListeners.size === 0) pending.push([stream, Buffer.from(payload)]);
        for (const cb of dataListeners) cb(stream, payload);
      } else if (type === FRAME.exit && length === 4) {
        emitExit(payload.readInt32BE(0));
      }
    }
  });
  socket.on('error', () => {}); // 'close' follows; a reset shim is reported through `closed`
  const closed = new Promise<void>((resolve) => {
    socket.once('close', () => {
      if (exitCode !== undefined) return resolve();
      // The shim may have written the exit file and gone before we read the frame.
      readExitStatus(runDir).then(
        (status) => {
          if (status) emitExit(status.exitCode);
          resolve();
        },
        () => resolve(),
      );
    });
  });
  const send = (buf: Buffer) => {
    if (!socket.destroyed && socket.writable) socket.write(buf);
  };
  return {
    write(data) {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      // Frames of at most 64 KiB (the shim refuses larger ones).
      for (let off = 0; off < bytes.length; off += 65536) {
        send(frame(FRAME.stdin, bytes.subarray(off, off + 65536)));
      }
    },
    closeStdin() {
      send(frame(FRAME.closeStdin, Buffer.alloc(0)));
    },
    resize(rows, cols) {
      const payload = Buffer.alloc(4);
      payload.writeUInt16BE(Math.max(1, Math.min(rows, 0xffff)), 0);
      payload.writeUInt16BE(Math.max(1, Math.min(cols, 0xffff)), 2);
      send(frame(FRAME.resize, payload));
    },
    onData(cb) {
      dataListeners.add(cb);
      for (const [stream, data] of pending.splice(0)) cb(stream, data);
      return () => dataListeners.delete(cb);
    },
    onExit(cb) {
      if (exitCode !== undefined) cb(exitCode);
      else exitListeners.add(cb);
      return () => exitListeners.delete(cb);
    },
    close() {
      socket.end();
      socket.destroy();
    },
    pause() {
      socket.pause();
    },
    resume() {
      socket.resume();
    },
    closed,
  };
}

/**
 * The exit status the shim recorded, or undefined while the process runs (or never ran). Read
 * synchronously: a file of a few dozen bytes, read on every wake of a wait for the exit.
 */
export async function readExitStatus(runDir: string): Promise<ExitStatus | undefined> {
  let text: string;
  try {
    text = readFileSync(join(runDir, 'exit'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = JSON.parse(text) as ExitStatus;
  return { exitCode: parsed.exitCode, finishedAt: parsed.finishedAt };
}

/** The shim's pid if it is still running (checked against /proc, so a reused pid is not mistaken). */
export function runningShimPid(runDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(runDir, 'shim.pid'), 'utf8').trim());
  } catch {
    return undefined;
  }
  return shimProcess(pid)?.pid;
}

/**
 * Resolves once the shim of `runDir` is gone, true then, false after `timeoutMs`. The shim writes the
 * exit file first (so waiters learn the status at once), then has the runtime delete the container,
 * and removes shim.pid last: from then on the runtime's state and the run dir are free to go or to
 * be reused by the next start. An inotify watch on the run dir wakes the wait when shim.pid goes; a
 * backed-off poll covers a shim that died without removing it.
 */
export async function waitShimGone(runDir: string, options: { timeoutMs?: number } = {}): Promise<boolean> {
  const pid = runningShimPid(runDir);
  if (pid === undefined) return true;
  // shim.pid goes a moment before the process exits: gone means both, so nothing outlives a removal.
  const gone = () => runningShimPid(runDir) === undefined && processExited(pid);
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(runDir, { persistent: false }, () => wake?.());
    watcher.on('error', () => {});
  } catch {
    watcher = undefined; // the run dir is gone: the poll below sees the shim gone too
  }
  try {
    for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
      if (gone()) return true;
      if (Date.now() >= deadline) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(delay, Math.max(0, deadline - Date.now())));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  } finally {
    watcher?.close();
  }
}

/** Removes a run dir the shim has left (sockets, pid and exit files). */
export async function removeRunDir(runDir: string): Promise<void> {
  await rm(runDir, { recursive: true, force: true });
}

const HEADER = 13;

/** Parses complete records from `buf`; returns them and how many bytes they used. */
export function parseLogRecords(buf: Buffer): { records: LogRecord[]; used: number } {
  const records: LogRecord[] = [];
  let off = 0;
  while (buf.length - off >= HEADER) {
    const length = buf.readUInt32BE(off + 9);
    if (buf.length - off < HEADER + length) break;
    records.push({
      stream: buf[off] === 2 ? 'stderr' : 'stdout',
      timeNs: buf.readBigUInt64BE(off + 1),
      data: Buffer.from(buf.subarray(off + HEADER, off + HEADER + length)),
    });
    off += HEADER + length;
  }
  return { records, used: off };
}

async function readWhole(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw err;
  }
}

/** Splits records into one record per line (a line keeps its '\n'), for `tail`. */
function byLines(records: LogRecord[]): LogRecord[] {
  const out: LogRecord[] = [];
  for (const record of records) {
    let start = 0;
    for (let i = 0; i < record.data.length; i++) {
      if (record.data[i] === 0x0a) {
        out.push({ ...record, data: record.data.subarray(start, i + 1) });
        start = i + 1;
      }
    }
    if (start < record.data.length) out.push({ ...record, data: record.data.subarray(start) });
  }
  return out;
}

/** The container's output from its log: all of it (or the tail), then, with `follow`, what comes. */
export async function* readLog(logPath: string, options: ReadLogOptions = {}): AsyncGenerator<LogRecord> {
  const sinceNs = options.since ? BigInt(options.since.getTime()) * 1_000_000n : 0n;
  const keep = (r: LogRecord) => r.timeNs >= sinceNs;
  const older = parseLogRecords(await readWhole(`${logPath}.1`)).records;
  const current = await readWhole(logPath);
  const parsed = parseLogRecords(current);
  let records = [...older, ...parsed.records].filter(keep);
  if (options.tail !== undefined) records = options.tail <= 0 ? [] : byLines(records).slice(-options.tail);
  yield* records;
  if (!options.follow) return;

  let offset = parsed.used;
  for (;;) {
    if (options.signal?.aborted) return;
    const done = options.runDir ? existsSync(join(options.runDir, 'exit')) : false;
    const chunk = await readFrom(logPath, offset);
    if (chunk.rotated) {
      // The shim renamed the log to .1 and started a new one: finish the old file, then restart.
      const rest = parseLogRecords((await readWhole(`${logPath}.1`)).subarray(offset));
      yield* rest.records.filter(keep);
      offset = 0;
      continue;
    }
    const fresh = parseLogRecords(chunk.data);
    offset += fresh.used;
    yield* fresh.records.filter(keep);
    if (fresh.records.length === 0) {
      if (done) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function readFrom(path: string, offset: number): Promise<{ data: Buffer; rotated: boolean }> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { data: Buffer.alloc(0), rotated: false };
    throw err;
  }
  try {
    const { size } = await handle.stat();
    if (size < offset) return { data: Buffer.alloc(0), rotated: true };
    const data = Buffer.alloc(size - offset);
    if (data.length > 0) await handle.read(data, 0, data.length, offset);
    return { data, rotated: false };
  } finally {
    await handle.close();
  }
}

async function runtime(ctx: EngineContext, args: string[]): Promise<{ stdout: string }> {
  const command = runtimeCommand(ctx, await detectRuntime(ctx));
  try {
    return await execFileAsync(command[0]!, [...command.slice(1), ...args], { timeout: 30_000 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new RuntimeError(`${args[0]}: ${stderr ? runtimeMessage(stderr) : (err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * The runtime's complaint as a sentence: runc logs through logrus (`time=… level=error msg="…"`),
 * crun prints plain lines; either way keep only the messages.
 */
export function runtimeMessage(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((line) => {
      const logrus = /\blevel=(\w+)\s+msg="((?:[^"\\]|\\.)*)"/.exec(line);
      if (!logrus) return line.trim();
      if (logrus[1] !== 'error' && logrus[1] !== 'fatal') return '';
      return JSON.parse(`"${logrus[2]}"`) as string;
    })
    .filter((line) => line.length > 0);
  return [...new Set(lines)].join('; ');
}

function isMissing(err: unknown): boolean {
  return /does not exist|not found|no such file/i.test((err as Error).message);
}

/** Sends a signal (`SIGTERM`, `KILL`, `9`) to the container's init through the runtime. */
export async function runtimeKill(
  ctx: EngineContext,
  id: string,
  signal: string | number = 'SIGTERM',
): Promise<void> {
  try {
    await runtime(ctx, ['kill', id, String(signal)]);
  } catch (err) {
    if (isMissing(err)) throw new NotFoundError(`No such container: ${id.slice(0, 12)} is not running`, id);
    throw err;
  }
}

export interface RuntimeState {
  status: 'creating' | 'created' | 'running' | 'stopped' | 'paused';
  pid: number;
}

/** The runtime's view of the container, or undefined when it does not know it. */
export async function runtimeState(ctx: EngineContext, id: string): Promise<RuntimeState | undefined> {
  try {
    const { stdout } = await runtime(ctx, ['state', id]);
    const state = JSON.parse(stdout) as RuntimeState;
    return { status: state.status, pid: state.pid };
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

/** Deletes the runtime's record of the container (killing it if it runs); quiet when already gone. */
export async function runtimeDelete(ctx: EngineContext, id: string): Promise<void> {
  // The shim deletes the container itself once it exits; with no state dir left (crun and runc
  // both keep it at <root>/<id>) there is nothing to delete, and a runtime exec is saved.
  if (!existsSync(join(runtimeStateDir(ctx, await detectRuntime(ctx)), id))) return;
  try {
    await runtime(ctx, ['delete', '--force', id]);
  } catch (err) {
    if (!isMissing(err)) throw err;
  }
}
