// `npm run bench:server` (also called by `npm run bench`): keystroke echo latency through the whole
// server path (ws client → server → terminal → container PTY → echo → client) with 1 and 40 live
// sessions, and the server's RSS with 40 idle sessions. The server runs in a child process on
// loopback (port 0, fresh root, a bench registry seeded with busybox), so its RSS is its own.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { engineConfigSchema } from '../../engine/config.ts';
import { createContext } from '../../engine/context.ts';
import { LESSON_IMAGES, seedRegistry } from '../../engine/image/seed.ts';
import { buildNative } from '../../scripts/setup/native.ts';
import { createServer } from '../../server/app.ts';
import { decodeTerminalFrame, encodeTerminalFrame, type ServerMessage } from '../../server/protocol.ts';
import { startTestRegistry } from '../support/registry.ts';
import { keystroke, percentile, sleep } from './keystroke.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 40);
const KEYSTROKES = Number(process.env.BENCH_KEYSTROKES ?? 200);
/** Mean gap between one session's keystrokes (a fast typist: ~12 keys a second). */
const GAP_MS = 80;
const ECHO_TIMEOUT_MS = 2000;
/** Keys each session types before the measured ones. */
const WARMUP = 20;
const PROMPT = '/ # ';

// ---- the server child ------------------------------------------------------------------------

/** `node test/bench/server.ts --serve ROOT REGISTRY`: the server under test, printing its URL. */
async function serveChild(root: string, registryHost: string): Promise<void> {
  const config = engineConfigSchema.parse({ mirrors: { 'docker.io': [`http://${registryHost}`] } });
  const server = createServer({
    root,
    config,
    log: () => {},
    limits: { maxSessions: SESSIONS + 10, ws: { heartbeatMs: 60_000 } },
  });
  await server.listen(0, '127.0.0.1');
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await server.close();
  process.exit(0);
}

// ---- the client side -------------------------------------------------------------------------

interface LiveSession {
  ws: WebSocket;
  channel: number;
  /** Resolves the pending keystroke's echo. */
  onOutput: ((data: Buffer) => void) | undefined;
  screen: string;
}

async function openSession(url: string): Promise<LiveSession> {
  const res = await fetch(`${url}/api/session`);
  if (res.status !== 200) throw new Error(`GET /api/session: ${res.status} ${await res.text()}`);
  const { token } = (await res.json()) as { token: string };
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`, {
    origin: url,
    perMessageDeflate: false,
  });
  const live: LiveSession = { ws, channel: -1, onOutput: undefined, screen: '' };
  const opened = new Promise<void>((resolve, reject) => {
    ws.on('message', (data, binary) => {
      const buf = data as Buffer;
      if (binary) {
        const frame = decodeTerminalFrame(buf);
        if (!frame || frame.channel !== live.channel) return;
        // ash asks where the cursor is (DSR) at its prompt; a terminal answers, so the client does.
        if (frame.payload.includes('\x1b[6n')) {
          ws.send(encodeTerminalFrame(live.channel, Buffer.from('\x1b[24;5R')));
        }
        if (live.onOutput) live.onOutput(frame.payload);
        else live.screen = (live.screen + frame.payload.toString('utf8')).slice(-4096);
        return;
      }
      const message = JSON.parse(buf.toString('utf8')) as ServerMessage;
      if (message.type === 'welcome')
        ws.send(JSON.stringify({ type: 'terminal.open', terminal: 'main', cols: 80, rows: 24 }));
      if (message.type === 'terminal.opened') {
        live.channel = message.channel;
        resolve();
      }
      if (message.type === 'error') reject(new Error(`${message.code}: ${message.message}`));
    });
    ws.on('error', reject);
  });
  await opened;
  // A real shell in a real container, started the way a learner starts one.
  ws.send(encodeTerminalFrame(live.channel, Buffer.from('docker run -it busybox sh\r')));
  const deadline = Date.now() + 60_000;
  while (!live.screen.includes(PROMPT)) {
    if (Date.now() > deadline)
      throw new Error(`no container prompt; screen: ${JSON.stringify(live.screen.slice(-200))}`);
    await sleep(20);
  }
  return live;
}

/** Each session types KEYSTROKES keys (a letter, then its deletion, …) at jittered intervals. */
async function typeAll(sessions: LiveSession[]): Promise<{ samples: number[]; lost: number }> {
  const samples: number[] = [];
  let lost = 0;
  await Promise.all(
    sessions.map(async (session, i) => {
      await sleep((GAP_MS * i) / sessions.length); // spread the sessions' phases
      for (let k = -WARMUP; k < KEYSTROKES; k++) {
        const ms = await keystroke(session, k % 2 === 0 ? 'x' : '\x7f', ECHO_TIMEOUT_MS);
        if (k < 0) {
          // warm-up keys (JIT, first allocations) are typed but not counted
        } else if (ms === undefined) lost++;
        else samples.push(ms);
        // Let any rest of the echo (backspace is several bytes) arrive before the next key.
        await sleep(GAP_MS / 2 + Math.random() * GAP_MS);
      }
    }),
  );
  return { samples, lost };
}

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb * 1024;
}

function summary(label: string, r: { samples: number[]; lost: number }): string {
  const sorted = [...r.samples].sort((a, b) => a - b);
  return `${label}: p50 ${percentile(sorted, 50).toFixed(2)} ms, p99 ${percentile(sorted, 99).toFixed(2)} ms, max ${sorted.at(-1)?.toFixed(2)} ms (${sorted.length} keystrokes${r.lost ? `, ${r.lost} without echo in ${ECHO_TIMEOUT_MS} ms` : ''})`;
}

export async function benchServer(): Promise<string[]> {
  buildNative(repoRoot, { quiet: true });
  // Short names: a shim's attach socket lives under <root>/sessions/<id>/run/, and unix socket paths stop at 108 bytes.
  const scratch = mkdtempSync(join(tmpdir(), 'llb-'));
  const registry = await startTestRegistry();
  let child: ChildProcess | undefined;
  const lines: string[] = [];
  const sessions: LiveSession[] = [];
  try {
    const seedRoot = join(scratch, 'seed');
    const seedCtx = createContext(seedRoot, { config: engineConfigSchema.parse({ mirrors: {} }) });
    await seedRegistry(seedCtx, {
      registry: registry.host,
      images: LESSON_IMAGES.filter((i) => i.repository === 'library/busybox'),
    });

    child = spawn(process.execPath, [import.meta.filename, '--serve', join(scratch, 'r'), registry.host], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child!.stdout! }).once('line', resolve);
      child!.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const { url } = JSON.parse(first) as { url: string };
    const pid = child.pid!;
    const rssStart = rssBytes(pid);

    sessions.push(await openSession(url));
    const one = await typeAll(sessions);
    lines.push(summary('keystroke echo, 1 live session', one));

    // The other sessions start a few at a time, as a class trickles in.
    while (sessions.length < SESSIONS) {
      const batch = Math.min(8, SESSIONS - sessions.length);
      sessions.push(...(await Promise.all(Array.from({ length: batch }, () => openSession(url)))));
    }
    const load = loadavg()[0]!;
    const many = await typeAll(sessions);
    lines.push(summary(`keystroke echo, ${SESSIONS} live sessions`, many));

    await sleep(5000); // idle: every socket open, every terminal at its container prompt
    const rssIdle = rssBytes(pid);
    lines.push(
      `server RSS: ${(rssStart / 2 ** 20).toFixed(0)} MB at start, ${(rssIdle / 2 ** 20).toFixed(0)} MB with ${SESSIONS} idle sessions (socket + terminal in a running container each)`,
    );
    lines.push(
      `machine: ${cpus().length} cores, load average ${load.toFixed(2)} when the ${SESSIONS}-session run began`,
    );
  } finally {
    for (const s of sessions) s.ws.terminate();
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(60_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await registry.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
  return lines;
}

if (process.argv[2] === '--serve') {
  await serveChild(process.argv[3]!, process.argv[4]!);
} else if (import.meta.filename === process.argv[1]) {
  for (const line of await benchServer()) console.log(line);
}
