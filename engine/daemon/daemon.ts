// The resident engine process of one state root: what `layerlab` (native/client.c) hands commands to,
// as `docker` hands them to dockerd, so a command costs no Node start-up, module loading, zod or koffi
// warm-up. Each command runs through the very main() the in-process CLI runs, with the client's
// environment as `cli.env` (never this process's), the client's cwd, and streams over its socket.
//
// Its socket is `<root>/engine.sock`, mode 0600, and each connection's peer must be this process's
// own uid (SO_PEERCRED). It answers "run it yourself" (the client then execs node server/bin.js)
// for what needs the caller's terminal, for a client whose engine-relevant environment differs from
// its own, for a cwd other than the one commands in flight use, and once its code is stale; it exits
// when idle or stale, removing its socket. `LAYERLAB_NO_DAEMON=1` (read by the launcher and the
// client only) keeps every command in-process.

import { closeSync, ftruncateSync, lstatSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { type ExtraCommand, main, parseGlobal } from '../cli/main.ts';
import { flock, LOCK, peerCredentials } from '../sys/libc.ts';
import { exitFrame, FRAME, FrameReader, frame, type Hello, parseHello } from './protocol.ts';
import { ClientInput, ClientOutput } from './streams.ts';

export const SOCKET_NAME = 'engine.sock';
/** How long the engine stays without a command before it exits. */
export const DEFAULT_IDLE_MS = 10 * 60_000;

/**
 * Variables the engine itself reads from its process environment (config.ts, runtime-cache.ts): a
 * client whose values differ is told to run in-process, where its own are the process's.
 */
const ENGINE_ENV = ['PATH', 'LAYERLAB_REGISTRY_PORT'] as const;

/** Commands that take over the caller's terminal (raw mode, resize) when given -t, -i or -a. */
const TERMINAL_COMMANDS = new Set(['run', 'exec', 'start', 'attach']);

export interface DaemonOptions {
  root: string;
  idleMs?: number;
  /** Commands beyond the engine's own (the server's `serve`), as the in-process CLI has them. */
  commands: readonly ExtraCommand[];
  /** Whether the code this process loaded is still what `layerlab` would load (the bundle's manifest). */
  current(): boolean;
  /** Told what happens: each command served or handed back, refusals, the stop and why. */
  log?: (line: string) => void;
}

/**
 * Why the command must run in the caller's own process, if it must: `serve` (the server hosts its
 * own engine), or a command that would take over the caller's terminal — `run`/`exec`/`start`/
 * `attach` while stdin or stdout is one, with any word that may be -t, -i or -a (a false positive
 * only costs the in-process path), and `attach` always.
 */
export function inProcessOnly(hello: Hello): 'serve' | 'terminal' | undefined {
  let rest: string[];
  try {
    rest = parseGlobal(hello.argv, hello.env).rest;
  } catch {
    return undefined; // main() reports the bad global flag
  }
  const [first, second] = rest;
  if (first === 'serve') return 'serve';
  if (!hello.ttys[0] && !hello.ttys[1]) return undefined;
  const name = first === 'container' ? second : first;
  if (name === undefined || !TERMINAL_COMMANDS.has(name)) return undefined;
  if (name === 'attach') return 'terminal';
  const takesTerminal = rest.some(
    (w) =>
      w === '--tty' ||
      w === '--interactive' ||
      w === '--attach' ||
      w.startsWith('--attach=') ||
      /^-[A-Za-z]*[tia]/.test(w),
  );
  return takesTerminal ? 'terminal' : undefined;
}

/** Runs the resident engine for `options.root` until it is idle or stale. Resolves when it stops. */
export async function runEngineDaemon(options: DaemonOptions): Promise<void> {
  const root = resolve(options.root);
  const idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  mkdirSync(root, { recursive: true });
  // One engine per root: whoever holds this lock serves the socket (another one starting gives up).
  const lockPath = join(root, `${SOCKET_NAME}.lock`);
  const lockFd = openSync(lockPath, 'a', 0o600);
  if (!flock(lockFd, LOCK.EX | LOCK.NB, lockPath)) {
    closeSync(lockFd);
    return;
  }
  // Which process is the engine, for an operator (and the tests) to find it.
  ftruncateSync(lockFd);
  writeSync(lockFd, `${process.pid}\n`);
  const log = options.log ?? (() => {});
  const socketPath = join(root, SOCKET_NAME);
  rmSync(socketPath, { force: true }); // left by an engine that died: the lock says none is alive
  const ownUid = process.getuid?.() ?? 0;
  // This process's own values, inherited from the client that started it; compared, never passed on.
  const engineEnv = Object.fromEntries(ENGINE_ENV.map((name) => [name, process.env[name] ?? '']));
  let inFlight = 0;
  // Work commands left after their status (see Cli.afterStatus): the engine stays until it is done.
  let lingering = 0;
  let lane: { cwd: string; umask: number } | undefined;
  let stopping = false;
  let idle: NodeJS.Timeout | undefined;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => {
    done = r;
  });

  const server: Server = createServer((socket) => {
    if (stopping) return void socket.destroy();
    clearTimeout(idle);
    serveConnection(socket);
  });
  // Created 0600 (no window in which another uid could connect), owned by this process's uid.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(socketPath, () => ok());
    });
  } finally {
    process.umask(umask);
  }
  const socketIno = lstatSync(socketPath).ino;
  armIdle();
  // Stale code is also noticed between commands, so an idle engine does not outlive its sources long.
  const staleCheck = setInterval(() => {
    if (!options.current()) stop('stale');
  }, 30_000);
  staleCheck.unref();
  const onTerm = () => stop('terminated');
  process.once('SIGTERM', onTerm);
  await finished;
  process.off('SIGTERM', onTerm);

  function armIdle(): void {
    clearTimeout(idle);
    if (inFlight === 0 && lingering === 0 && !stopping) idle = setTimeout(() => stop('idle'), idleMs);
  }

  /** Once stopping, the engine exits when no command runs and no work a command left is pending. */
  function doneIfQuiet(): void {
    if (stopping && inFlight === 0 && lingering === 0) done();
  }

  function linger(work: Promise<void>): void {
    lingering++;
    void work
      .catch(() => {})
      .finally(() => {
        lingering--;
        doneIfQuiet();
        armIdle();
      });
  }

  /** Stops taking commands and removes the socket; exits once the commands in flight are done. */
  function stop(why: string): void {
    if (stopping) return;
    stopping = true;
    log(`stopping: ${why}`);
    clearTimeout(idle);
    clearInterval(staleCheck);
    server.close();
    try {
      // Only our own socket: a newer engine may already have replaced it.
      if (lstatSync(socketPath).ino === socketIno) rmSync(socketPath, { force: true });
    } catch {
      // already gone
    }
    closeSync(lockFd);
    doneIfQuiet();
  }

  function serveConnection(socket: Socket): void {
    socket.on('error', () => {}); // a client that vanished; its command is aborted on 'close'
    // Node gives no API for SO_PEERCRED; the handle's fd is the accepted socket's.
    const fd = (socket as Socket & { _handle?: { fd?: number } })._handle?.fd;
    let uid: number | undefined;
    try {
      uid = fd === undefined ? undefined : peerCredentials(fd).uid;
    } catch {
      uid = undefined;
    }
    if (uid !== ownUid) {
      const who = uid === undefined ? 'an unknown user' : `uid ${uid}`;
      log(`refused ${who}`);
      socket.end(
        Buffer.concat([
          frame(
            FRAME.stderr,
            Buffer.from(`layerlab: the engine of ${root} refuses ${who}: it serves uid ${ownUid} only\n`),
          ),
          exitFrame(1),
        ]),
      );
      armIdle();
      return;
    }
    const reader = new FrameReader();
    let command: ReturnType<typeof startCommand> | undefined;
    socket.on('data', (chunk: Buffer) => {
      let frames: { type: number; payload: Buffer }[];
      try {
        frames = reader.push(chunk);
      } catch {
        return void socket.destroy();
      }
      for (const { type, payload } of frames) {
        if (command === undefined) {
          if (type !== FRAME.hello) return void socket.destroy();
          let hello: Hello;
          try {
            hello = parseHello(payload);
          } catch {
            return void socket.destroy();
          }
          const why = refusal(hello);
          if (why !== undefined) {
            log(`fallback (${why}): ${JSON.stringify(hello.argv)}`);
            socket.end(frame(FRAME.fallback, Buffer.from(why)));
            if (why === 'stale') stop('stale');
            armIdle();
            return;
          }
          log(`served: ${JSON.stringify(hello.argv)}`);
          command = startCommand(socket, hello);
        } else command.receive(type, payload);
      }
    });
    socket.on('close', () => {
      command?.abort();
      if (command === undefined) armIdle();
    });
  }

  /** Why the client should run the command itself, if it should. */
  function refusal(hello: Hello): string | undefined {
    if (stopping) return 'stopping';
    if (!options.current()) return 'stale';
    for (const name of ENGINE_ENV) {
      if ((hello.env[name] ?? '') !== engineEnv[name]) return `environment: ${name}`;
    }
    const own = inProcessOnly(hello);
    if (own !== undefined) return own;
    // cwd and umask are the process's: commands in flight keep theirs; another one runs in-process.
    if (lane === undefined || lane.cwd !== hello.cwd || lane.umask !== hello.umask) {
      if (inFlight > 0) return 'busy in another directory';
      try {
        process.chdir(hello.cwd);
      } catch {
        return 'cwd';
      }
      process.umask(hello.umask);
      lane = { cwd: hello.cwd, umask: hello.umask };
    }
    return undefined;
  }

  function startCommand(socket: Socket, hello: Hello) {
    inFlight++;
    const controller = new AbortController();
    const size = { rows: hello.rows, columns: hello.columns };
    const stdin = new ClientInput(socket, hello.ttys[0]);
    const stdout = new ClientOutput(socket, FRAME.stdout, hello.ttys[1], size);
    const stderr = new ClientOutput(socket, FRAME.stderr, hello.ttys[2], size);
    const streams = {
      stdin: stdin as unknown as NodeJS.ReadStream,
      stdout: stdout as unknown as NodeJS.WriteStream,
      stderr: stderr as unknown as NodeJS.WriteStream,
    };
    let over = false;
    void main(hello.argv, streams, controller.signal, {
      commands: options.commands,
      env: hello.env,
      afterStatus: linger,
    })
      .catch((err: unknown) => {
        stderr.write(`layerlab: ${err instanceof Error ? err.message : String(err)}\n`);
        return 1;
      })
      .then(async (status) => {
        // What the command wrote goes out before its status, as a process's pipes drain before exit.
        await Promise.all([stdout, stderr].map((s) => new Promise((r) => s.end(r))));
        if (!socket.destroyed) socket.end(exitFrame(status));
      })
      .finally(() => {
        over = true;
        stdin.destroy();
        inFlight--;
        doneIfQuiet();
        armIdle();
      });
    return {
      receive(type: number, payload: Buffer): void {
        if (type === FRAME.stdin) stdin.push(payload);
        else if (type === FRAME.stdinEnd) stdin.push(null);
        else if (type === FRAME.signal) controller.abort(); // Ctrl-C or SIGTERM: cancel, as in-process
      },
      abort(): void {
        if (!over) controller.abort();
      },
    };
  }
}
