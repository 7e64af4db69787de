// Records the lessons' terminals for the replay mode of a site without an engine. For each lesson
// (content/lessons/**/*.mdx) it starts a session on a real server (port 0, a temporary state root),
// resets it to the lesson's starting state, runs every runnable code block (```sh run / run=<name>)
// in its terminal in order, and saves per terminal the output, the session events and the state
// after each step to site/recordings/<lesson>/<terminal>.json.
//
// Needs what `layerlab serve` needs: root, a container runtime, and the seeded registry.
//   npx node site/scripts/record.ts [--registry 127.0.0.1:5000] [lesson-id …]
// Run it after `npm run setup` (which starts the registry), then rebuild the site.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { engineConfigSchema } from '../../engine/config.ts';
import { createServer } from '../../server/app.ts';
import type { ServerMessage, SessionEvent } from '../../server/protocol.ts';
import type { RecordedStep, Recording } from '../src/client/recording.ts';

const REPO = join(import.meta.dirname, '..', '..');
const LESSONS = join(REPO, 'content', 'lessons');
const OUT = join(REPO, 'site', 'recordings');
const COLS = 100;
/** A step ends when its command reports done, the terminal enters a container, or output stops. */
const QUIET_MS = 1500;
const STEP_MAX_MS = 120_000;

interface Block {
  terminal: string;
  command: string;
}

function lessonFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return lessonFiles(full);
    return /\.mdx?$/.test(name) ? [full] : [];
  });
}

/** The runnable code blocks of a lesson, in order, and the rows of each `<Terminal>`. */
export function parseLesson(source: string): { blocks: Block[]; rows: Map<string, number> } {
  const blocks: Block[] = [];
  for (const m of source.matchAll(/^(`{3,})[\w-]*([^\n]*)\n([\s\S]*?)\n\1\s*$/gm)) {
    const meta = m[2] ?? '';
    const run = /(?:^|\s)run(?:=([A-Za-z0-9_.-]+))?(?=\s|$)/.exec(meta);
    if (!run) continue;
    const command = (m[3] ?? '')
      .split('\n')
      .map((l) => l.replace(/^\$ /, ''))
      .join('\n')
      .trim();
    blocks.push({ terminal: run[1] ?? 'main', command });
  }
  const rows = new Map<string, number>();
  for (const m of source.matchAll(/<Terminal\b([^>]*)\/?>/g)) {
    const attrs = m[1] ?? '';
    const name = /name=["']([^"']+)["']/.exec(attrs)?.[1] ?? 'main';
    const r = /rows=\{?["']?(\d+)/.exec(attrs)?.[1];
    rows.set(name, r ? Number(r) : 14);
  }
  return { blocks, rows };
}

function lessonId(file: string): string {
  return relative(LESSONS, file)
    .replace(/\.mdx?$/, '')
    .toLowerCase();
}

async function recordLesson(url: string, id: string, source: string): Promise<void> {
  const { blocks, rows } = parseLesson(source);
  if (blocks.length === 0) return;
  const session = (await (await fetch(`${url}/api/session`)).json()) as { token: string };
  const q = `token=${encodeURIComponent(session.token)}`;

  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws?${q}`, {
    origin: url,
    perMessageDeflate: false,
  });
  const start = Date.now();
  const channels = new Map<string, number>();
  const listeners = new Set<(m: ServerMessage | { binary: number; text: string }) => void>();
  ws.on('message', (data, isBinary) => {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
    const msg = isBinary
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
    const r = rows.get(name) ?? 14;
    let screen = '';
    const opened = new Promise<void>((resolve) => {
      const l = (m: ServerMessage | { binary: number; text: string }) => {
        if ('type' in m && m.type === 'terminal.opened' && m.terminal === name) {
          channels.set(name, m.channel);
          screen = m.replay;
          listeners.delete(l);
          resolve();
        }
      };
      listeners.add(l);
    });
    ws.send(JSON.stringify({ type: 'terminal.open', terminal: name, cols: COLS, rows: r }));
    await opened;
    const channel = channels.get(name)!;
    const collect = (m: ServerMessage | { binary: number; text: string }) => {
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
      rows: r,
      recordedAt: new Date().toISOString(),
      screen,
      snapshot: (await state()) as Recording['snapshot'],
      steps: [],
    });
  }

  for (const block of blocks) {
    const channel = channels.get(block.terminal)!;
    const step: RecordedStep = { command: block.command, output: [], events: [] };
    const t0 = Date.now();
    await new Promise<void>((resolve) => {
      let quiet: ReturnType<typeof setTimeout> | undefined;
      let inContainer = false;
      const finish = () => {
        clearTimeout(quiet);
        clearTimeout(limit);
        listeners.delete(l);
        resolve();
      };
      const limit = setTimeout(finish, STEP_MAX_MS);
      const l = (m: ServerMessage | { binary: number; text: string }) => {
        const at = Date.now() - t0;
        if ('binary' in m) {
          if (m.binary !== channel) return;
          step.output.push([at, m.text]);
          if (inContainer) {
            clearTimeout(quiet);
            quiet = setTimeout(finish, QUIET_MS);
          }
          return;
        }
        if (m.type === 'event') {
          const event = m.event as SessionEvent;
          step.events.push([at, event]);
          if (event.type === 'terminal.command' && event.terminal === block.terminal) setTimeout(finish, 200);
        } else if (m.type === 'terminal.mode' && m.terminal === block.terminal) {
          inContainer = m.mode === 'container';
          clearTimeout(quiet);
          quiet = setTimeout(finish, QUIET_MS);
        }
      };
      listeners.add(l);
      ws.send(JSON.stringify({ type: 'terminal.run', terminal: block.terminal, command: block.command }));
    });
    step.snapshot = (await state()) as RecordedStep['snapshot'];
    recordings.get(block.terminal)!.steps.push(step);
    console.log(`  ${id} [${block.terminal}] ${block.command.split('\n')[0]} (${Date.now() - t0} ms)`);
  }
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
  const root = mkdtempSync(join(tmpdir(), 'layerlab-record-'));
  const config = engineConfigSchema.parse({ mirrors: { 'docker.io': [`http://${values.registry}`] } });
  const server = createServer({
    root,
    config,
    siteDir: join(root, 'no-site'),
    log: (m) => console.error(`server: ${m}`),
  });
  await server.listen(0, '127.0.0.1');
  try {
    for (const file of lessonFiles(LESSONS)) {
      const id = lessonId(file);
      if (positionals.length > 0 && !positionals.includes(id)) continue;
      await recordLesson(server.url, id, readFileSync(file, 'utf8'));
    }
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.main) await main();
