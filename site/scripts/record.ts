// Records the lessons' terminals for the replay mode of a site without an engine. For each lesson
// (content/lessons/**/*.mdx) it starts a session on a real server (port 0, a temporary state root),
// resets it to the lesson's starting state (what the page's Reset restores), runs every runnable code
// block (```sh run / run=<name>) in its terminal in order, as the browser walk does (each finishes
// before the next in its terminal; a block for another terminal starts while it runs), and saves per
// terminal the output, the session events and the state after each step to
// site/recordings/<lesson>/<terminal>.json.
//
// Needs what `layerlab serve` needs: root, a container runtime, and the seeded registry.
//   npx node site/scripts/record.ts [--registry 127.0.0.1:5000] [lesson-id …]
// Run it after `npm run setup` (which starts the registry), then rebuild the site.

import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { engineConfigSchema } from '../../engine/config.ts';
import { DEFAULT_ROOT } from '../../engine/default-root.ts';
import { createServer } from '../../server/app.ts';
import type { ServerMessage, SessionEvent } from '../../server/protocol.ts';
import type { RecordedStep, Recording } from '../src/client/recording.ts';
import { type LessonSource, type RunBlock, readLessons } from './lesson-source.ts';

const OUT = join(import.meta.dirname, '..', 'recordings');
const COLS = 100;
/** A step in a container's shell ends when its output stops for this long. */
const QUIET_MS = 1500;
const STEP_MAX_MS = 120_000;
/** Before a block for another terminal is sent, the running one has printed and had this long. */
const OVERLAP_MS = 1000;

type Incoming = ServerMessage | { binary: number; text: string };

/** One block being recorded: its step, and a promise that settles when the block is done. */
interface Running {
  block: RunBlock;
  step: RecordedStep;
  t0: number;
  commands: number;
  started: Promise<void>;
  done: Promise<void>;
}

async function recordLesson(url: string, lesson: LessonSource): Promise<void> {
  const { id, blocks } = lesson;
  if (blocks.length === 0) return;
  const made = await fetch(`${url}/api/session`);
  if (!made.ok) throw new Error(`${id}: no session: ${made.status} ${await made.text()}`);
  const session = (await made.json()) as { token: string };
  const q = `token=${encodeURIComponent(session.token)}`;
  const reset = await fetch(`${url}/api/reset?${q}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ to: lesson.start }),
  });
  if (!reset.ok)
    throw new Error(`${id}: reset to ${JSON.stringify(lesson.start)}: ${reset.status} ${await reset.text()}`);

  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws?${q}`, {
    origin: url,
    perMessageDeflate: false,
  });
  const start = Date.now();
  const channels = new Map<string, number>();
  const listeners = new Set<(m: Incoming) => void>();
  ws.on('message', (data, isBinary) => {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
    const msg: Incoming = isBinary
      ? { binary: buf[0]!, text: buf.subarray(1).toString('utf8') }
      : (JSON.parse(buf.toString('utf8')) as ServerMessage);
    for (const l of [...listeners]) l(msg);
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const state = async () => (await fetch(`${url}/api/state?${q}`)).json();

  const recordings = new Map<string, Recording>();
  for (const name of new Set(blocks.map((b) => b.terminal))) {
    const rows = lesson.terminals.get(name) ?? 14;
    let screen = '';
    const opened = new Promise<void>((resolve) => {
      const l = (m: Incoming) => {
        if ('type' in m && m.type === 'terminal.opened' && m.terminal === name) {
          channels.set(name, m.channel);
          screen = m.replay;
          listeners.delete(l);
          resolve();
        }
      };
      listeners.add(l);
    });
    ws.send(JSON.stringify({ type: 'terminal.open', terminal: name, cols: COLS, rows }));
    await opened;
    const channel = channels.get(name)!;
    const collect = (m: Incoming) => {
      if ('binary' in m && m.binary === channel) screen += m.text;
    };
    listeners.add(collect);
    await new Promise((res) => setTimeout(res, 500));
    listeners.delete(collect);
    recordings.set(name, {
      version: 1,
      lesson: id,
      terminal: name,
      cols: COLS,
      rows,
      recordedAt: new Date().toISOString(),
      screen,
      snapshot: (await state()) as Recording['snapshot'],
      steps: [],
    });
  }

  /** The blocks still running, by terminal; session events go to the one started last. */
  const running = new Map<string, Running>();
  let latest: Running | undefined;

  const begin = (block: RunBlock): Running => {
    const channel = channels.get(block.terminal)!;
    const step: RecordedStep = { command: block.command, output: [], events: [] };
    const t0 = Date.now();
    let markStarted = () => {};
    const started = new Promise<void>((r) => {
      markStarted = r;
    });
    const run: Running = { block, step, t0, commands: 0, started, done: Promise.resolve() };
    run.done = new Promise<void>((resolve) => {
      let quiet: ReturnType<typeof setTimeout> | undefined;
      let inContainer = false;
      const finish = () => {
        clearTimeout(quiet);
        clearTimeout(limit);
        listeners.delete(l);
        markStarted();
        resolve();
      };
      const limit = setTimeout(finish, STEP_MAX_MS);
      const l = (m: Incoming) => {
        const at = Date.now() - t0;
        if ('binary' in m) {
          if (m.binary !== channel) return;
          step.output.push([at, m.text]);
          if (step.output.length > 1) markStarted(); // past the echo of the command line
          if (inContainer) {
            clearTimeout(quiet);
            quiet = setTimeout(finish, QUIET_MS);
          }
          return;
        }
        if (m.type === 'event') {
          const event = m.event as SessionEvent;
          const mine = event.type === 'terminal.command' ? event.terminal === block.terminal : latest === run;
          if (!mine) return;
          step.events.push([at, event]);
          // Every line of the block reports once; the last one's trailing output comes just after.
          if (event.type === 'terminal.command' && ++run.commands >= block.lines.length)
            setTimeout(finish, 200);
        } else if (m.type === 'terminal.mode' && m.terminal === block.terminal) {
          inContainer = m.mode === 'container';
          clearTimeout(quiet);
          quiet = setTimeout(finish, QUIET_MS);
        }
      };
      listeners.add(l);
      ws.send(JSON.stringify({ type: 'terminal.run', terminal: block.terminal, command: block.command }));
    });
    return run;
  };

  const complete = async (run: Running) => {
    await run.done;
    run.step.snapshot = (await state()) as RecordedStep['snapshot'];
    recordings.get(run.block.terminal)!.steps.push(run.step);
    if (running.get(run.block.terminal) === run) running.delete(run.block.terminal);
    console.log(`  ${id} [${run.block.terminal}] ${run.block.lines[0]} (${Date.now() - run.t0} ms)`);
  };

  for (const [index, block] of blocks.entries()) {
    const before = running.get(block.terminal);
    if (before) await complete(before);
    const run = begin(block);
    running.set(block.terminal, run);
    latest = run;
    const next = blocks[index + 1];
    if (next && next.terminal !== block.terminal) {
      // The lesson shows this one from another terminal while it runs (a build watched with ps).
      await run.started;
      await new Promise((r) => setTimeout(r, OVERLAP_MS));
    } else {
      await complete(run);
    }
  }
  for (const run of [...running.values()]) await complete(run);
  ws.close();
  for (const rec of recordings.values()) {
    mkdirSync(join(OUT, id), { recursive: true });
    writeFileSync(join(OUT, id, `${rec.terminal}.json`), `${JSON.stringify(rec)}\n`);
  }
  console.log(`${id}: ${blocks.length} steps in ${Date.now() - start} ms`);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      registry: { type: 'string', default: `127.0.0.1:${process.env.LAYERLAB_REGISTRY_PORT ?? 5000}` },
    },
  });
  // Short: a session's attach sockets live under <root>/sessions/<id>/run/…, and unix socket paths
  // are capped at 108 bytes.
  const root = mkdtempSync(join(tmpdir(), 'llrec-'));
  // The seeded registry wants the credential setup made; the server hands its sessions the one in
  // its own root, so the setup root's is lent to this temporary one.
  const setupRoot = process.env.LAYERLAB_ROOT ?? DEFAULT_ROOT;
  const credentials = join(setupRoot, 'registry', 'credentials.json');
  if (existsSync(credentials)) {
    mkdirSync(join(root, 'registry'), { recursive: true, mode: 0o700 });
    copyFileSync(credentials, join(root, 'registry', 'credentials.json'));
    chmodSync(join(root, 'registry', 'credentials.json'), 0o600);
  }
  const config = engineConfigSchema.parse({ mirrors: { 'docker.io': [`http://${values.registry}`] } });
  const server = createServer({
    root,
    config,
    siteDir: join(root, 'no-site'),
    // One session per lesson from one address, faster than a visitor's per-minute quota allows.
    limits: { sessionsPerAddress: { max: 1_000, burst: 1_000, perMinute: 1_000 } },
    log: (m) => console.error(`server: ${m}`),
  });
  await server.listen(0, '127.0.0.1');
  try {
    for (const lesson of readLessons()) {
      if (positionals.length > 0 && !positionals.includes(lesson.id)) continue;
      await recordLesson(server.url, lesson);
    }
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.main) await main();
