// `npm run bench:cluster`: a class of simulated students (200 by default) on a loopback cluster (Redis,
// three `layerlab serve --cluster` nodes, HAProxy). Measures admission (join → cookies → first welcome
// through the router) and keystroke→echo latency while every student types shell lines at human pace.
// Env: BENCH_CLUSTER_SECONDS (measured typing, 60), BENCH_CLUSTER_STUDENTS (200), BENCH_CLUSTER_NODES (3).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { z } from 'zod';
import { NODE_COOKIE, SESSION_COOKIE } from '../../deploy/cluster.ts';
import { decodeTerminalFrame, encodeTerminalFrame, serverMessageSchema } from '../../server/protocol.ts';
import { type LoopbackCluster, startLoopbackCluster, waitUntil } from '../support/cluster.ts';
import globalSetup from '../support/global-setup.ts';
import { type Distribution, distribution, type EchoTarget, keystroke, sleep } from './keystroke.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const STUDENTS = positive('BENCH_CLUSTER_STUDENTS', 200);
const NODES = positive('BENCH_CLUSTER_NODES', 3);
const MEASURED_MS = positive('BENCH_CLUSTER_SECONDS', 60) * 1000;
/** The class arrives over this long, as a room fills up. */
const ARRIVAL_MS = 30_000;
/** Sessions per node: room for the class even when the router's spread is uneven. */
const MAX_SESSIONS = Math.ceil((STUDENTS / NODES) * 1.5) + 5;
/** Human typing: each student's keys come 3 to 6 a second. */
const KEYS_PER_SECOND = { min: 3, max: 6 };
/** After a command's prompt returns: reading its output before typing the next line. */
const THINK_MS = { min: 1000, max: 4000 };
/** Every tenth student runs one container, at a random moment of the measured period. */
const CONTAINER_EVERY = 10;
const ECHO_TIMEOUT_MS = 5000;
const PROMPT_TIMEOUT_MS = { builtin: 20_000, container: 120_000 };
const SHELL_LINES = [
  'help',
  'docker images',
  'docker ps',
  'docker ps -a',
  'ls',
  'env',
  'export GREETING=hello',
  'history',
];
const PROMPT = 'reader@layerlab:~$ ';
const RESULT_FILE = join(repoRoot, 'test-results', 'bench-cluster.json');

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}: not a positive integer: ${raw}`);
  return value;
}

/** CPU seconds (user + system) a process has used, from /proc/PID/stat (clock ticks of 1/100 s on Linux). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is the 3rd field, utime the 14th, stime the 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Share of one core each of the nodes' server processes and this client used since `cpuAt` was called. */
function cpuAt(cluster: LoopbackCluster): () => Record<string, number> {
  const started = performance.now();
  const nodes = cluster.nodes.map((n) => ({ id: n.id, pid: n.process.pid!, at: cpuSeconds(n.process.pid!) }));
  const client = process.cpuUsage();
  return () => {
    const seconds = (performance.now() - started) / 1000;
    const used: Record<string, number> = {};
    for (const n of nodes) used[n.id] = (cpuSeconds(n.pid) - n.at) / seconds;
    const own = process.cpuUsage(client);
    used.client = (own.user + own.system) / 1e6 / seconds;
    return used;
  };
}

const workshopCreated = z.object({ code: z.string() });
const joinAnswer = z.object({ session: z.string(), student: z.string() });
const workshopState = z.object({
  students: z.array(z.object({ name: z.string(), node: z.string().optional(), left: z.string().optional() })),
});

type CommandKind = 'builtin' | 'docker' | 'container';

interface Student extends EchoTarget {
  name: string;
  node: string;
  /** Terminal output since the last Enter (or since the terminal opened). */
  text: string;
  /** Set when a `terminal.opened` arrives; the student starts at the prompt. */
  opened: Promise<void>;
  /** Called after output is appended to `text`, and when the socket closes. */
  onText: (() => void) | undefined;
}

interface BenchError {
  student: string;
  what: 'join' | 'socket' | 'prompt' | 'echo' | 'dashboard';
  message: string;
}

/** Everything measured; the JSON result is this. */
interface Measured {
  joinMs: number[];
  welcomeMs: number[];
  redirects: number;
  keystrokes: Map<string, number[]>;
  commands: Record<CommandKind, number[]>;
  containersRun: number;
  errors: BenchError[];
}

const measured: Measured = {
  joinMs: [],
  welcomeMs: [],
  redirects: 0,
  keystrokes: new Map(),
  commands: { builtin: [], docker: [], container: [] },
  containersRun: 0,
  errors: [],
};

/** The measured window, in performance.now() time; undefined until the whole class is in. */
const period: { start?: number; end?: number } = {};
const inWindow = (t: number) => period.start !== undefined && t >= period.start && t < period.end!;
const over = () => period.end !== undefined && performance.now() >= period.end;
let ending = false;
const sockets = new Set<WebSocket>();

const between = (range: { min: number; max: number }) => range.min + Math.random() * (range.max - range.min);
const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]/g, '');

function fail(student: string, what: BenchError['what'], message: string): void {
  measured.errors.push({ student, what, message });
}

// ---- joining ---------------------------------------------------------------------------------

/** `name=value` pairs of the response's Set-Cookie headers, into the student's jar. */
function takeCookies(res: Response, jar: Map<string, string>): void {
  for (const header of res.headers.getSetCookie()) {
    const pair = header.split(';')[0] ?? '';
    const at = pair.indexOf('=');
    if (at > 0) jar.set(pair.slice(0, at), pair.slice(at + 1));
  }
}

const cookieHeader = (jar: Map<string, string>) => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

/**
 * POST /join/CODE through the router as the join form does, following a node's 307 to the node with
 * room (carrying the node cookie it set, as a browser would). Resolves with the cookie jar.
 */
async function postJoin(url: string, code: string, name: string): Promise<Map<string, string>> {
  const jar = new Map<string, string>();
  let path = `/join/${code}`;
  for (let hop = 0; hop < 5; hop++) {
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: url, cookie: cookieHeader(jar) },
      body: JSON.stringify({ name }),
      redirect: 'manual',
      signal: AbortSignal.timeout(30_000),
    });
    takeCookies(res, jar);
    if (res.status === 307) {
      await res.body?.cancel();
      measured.redirects++;
      path = res.headers.get('location') ?? path;
      continue;
    }
    const text = await res.text();
    if (res.status !== 200) throw new Error(`POST ${path}: ${res.status} ${text.slice(0, 200)}`);
    joinAnswer.parse(JSON.parse(text));
    if (!jar.has(SESSION_COOKIE) || !jar.has(NODE_COOKIE))
      throw new Error(`POST ${path}: 200 without the session and node cookies`);
    return jar;
  }
  throw new Error(`POST /join/${code}: more than 5 redirects`);
}

/** Joins, opens the page's socket through the router and its terminal; resolves at the prompt. */
async function arrive(url: string, code: string, index: number): Promise<Student | undefined> {
  const name = `Student ${String(index + 1).padStart(3, '0')}`;
  const started = performance.now();
  let jar: Map<string, string>;
  try {
    jar = await postJoin(url, code, name);
  } catch (err) {
    fail(name, 'join', (err as Error).message);
    return undefined;
  }
  const joined = performance.now();
  const token = decodeURIComponent(jar.get(SESSION_COOKIE)!);
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`, {
    origin: url,
    headers: { cookie: cookieHeader(jar) },
    perMessageDeflate: false,
  });
  sockets.add(ws);
  let openedNow = () => {};
  /** Set when arriving failed (counted as a join error), so the socket's close is not counted again. */
  let gaveUp = false;
  const student: Student = {
    name,
    node: decodeURIComponent(jar.get(NODE_COOKIE)!),
    ws,
    channel: -1,
    onOutput: undefined,
    text: '',
    onText: undefined,
    opened: new Promise((resolve) => {
      openedNow = resolve;
    }),
  };
  const welcomed = new Promise<number>((resolve, reject) => {
    ws.on('message', (data, binary) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (binary) {
        const frame = decodeTerminalFrame(buf);
        if (!frame || frame.channel !== student.channel) return;
        student.text = (student.text + frame.payload.toString('utf8')).slice(-8192);
        student.onOutput?.(frame.payload);
        student.onText?.();
        return;
      }
      const message = serverMessageSchema.safeParse(JSON.parse(buf.toString('utf8')));
      if (!message.success) return;
      const m = message.data;
      if (m.type === 'welcome') {
        resolve(performance.now());
        ws.send(JSON.stringify({ type: 'terminal.open', terminal: 'main', cols: 80, rows: 24 }));
      } else if (m.type === 'terminal.opened' && m.terminal === 'main') {
        student.channel = m.channel;
        student.text = m.replay;
        openedNow();
        student.onText?.();
      } else if (m.type === 'error') {
        fail(name, 'socket', `error message: ${m.code}: ${m.message}`);
      }
    });
    ws.on('error', (err) => reject(err));
    ws.on('close', (code, reason) => {
      reject(new Error(`closed before welcome: ${code} ${reason.toString()}`));
      if (!ending && !gaveUp) fail(name, 'socket', `closed: ${code} ${reason.toString()}`);
      student.onText?.();
    });
  });
  try {
    const welcome = await Promise.race([
      welcomed,
      sleep(30_000).then(() => Promise.reject(new Error('no welcome within 30 s'))),
    ]);
    measured.joinMs.push(joined - started);
    measured.welcomeMs.push(welcome - started);
    await Promise.race([
      student.opened,
      sleep(30_000).then(() => Promise.reject(new Error('no terminal within 30 s'))),
    ]);
    await waitForPrompt(student, 30_000);
  } catch (err) {
    fail(name, 'join', (err as Error).message);
    gaveUp = true;
    ws.terminate();
    return undefined;
  }
  return student;
}

// ---- typing ----------------------------------------------------------------------------------

/** Resolves true once the student's output (since the last Enter) ends in the prompt; false after `ms` or a close. */
function waitForPrompt(student: Student, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      student.onText = undefined;
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), ms);
    const check = () => {
      if (stripAnsi(student.text).endsWith(PROMPT)) done(true);
      else if (student.ws.readyState !== WebSocket.OPEN) done(false);
    };
    student.onText = check;
    check();
  });
}

/**
 * The student types line after line, one key at a time at 3–6 keys a second, presses Enter, waits
 * for the prompt and reads for 1–4 s — until the measured period ends. Keys sent inside the period
 * are counted under the student's node.
 */
async function typeLines(student: Student, index: number): Promise<void> {
  const runsContainer = index % CONTAINER_EVERY === CONTAINER_EVERY / 2;
  let containerAt: number | undefined;
  const samples = measured.keystrokes.get(student.node) ?? [];
  measured.keystrokes.set(student.node, samples);
  for (let n = index; !over(); n++) {
    if (runsContainer && containerAt === undefined && period.start !== undefined)
      containerAt = period.start + Math.random() * MEASURED_MS * 0.8;
    const container = containerAt !== undefined && performance.now() >= containerAt;
    const line = container
      ? `docker run --rm busybox echo hello from ${index + 1}`
      : SHELL_LINES[n % SHELL_LINES.length]!;
    const kind: CommandKind = container ? 'container' : line.startsWith('docker') ? 'docker' : 'builtin';
    for (const key of line) {
      if (over()) return;
      const sent = performance.now();
      const ms = await keystroke(student, key, ECHO_TIMEOUT_MS);
      if (student.ws.readyState !== WebSocket.OPEN) return; // the close handler counted it
      if (ms === undefined)
        fail(student.name, 'echo', `no echo of ${JSON.stringify(key)} in ${ECHO_TIMEOUT_MS} ms`);
      else if (inWindow(sent)) samples.push(ms);
      await sleep(Math.max(0, 1000 / between(KEYS_PER_SECOND) - (ms ?? 0)));
    }
    if (over()) return;
    student.text = '';
    const entered = performance.now();
    student.onOutput = undefined;
    student.ws.send(encodeTerminalFrame(student.channel, Buffer.from('\r')));
    const back = await waitForPrompt(student, PROMPT_TIMEOUT_MS[container ? 'container' : 'builtin']);
    if (student.ws.readyState !== WebSocket.OPEN) return;
    if (!back) {
      fail(
        student.name,
        'prompt',
        `no prompt after ${JSON.stringify(line)}: ${JSON.stringify(stripAnsi(student.text).slice(-200))}`,
      );
      return;
    }
    if (inWindow(entered)) measured.commands[kind].push(performance.now() - entered);
    if (container) {
      measured.containersRun++;
      containerAt = Number.POSITIVE_INFINITY; // once
      if (!stripAnsi(student.text).includes(`hello from ${index + 1}`))
        fail(
          student.name,
          'prompt',
          `the container's output is missing: ${JSON.stringify(stripAnsi(student.text).slice(-200))}`,
        );
    }
    await sleep(between(THINK_MS));
  }
}

// ---- the run ---------------------------------------------------------------------------------

async function post(url: string, path: string, body: unknown, cookie = ''): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: url, ...(cookie ? { cookie } : {}) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
}

const fmt = (v: number) => (Number.isNaN(v) ? '—' : `${v.toFixed(v >= 100 ? 0 : 1)} ms`);
const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
const distRow = (label: string, d: Distribution, extra: (string | number)[] = []) =>
  row([label, ...extra, d.count, fmt(d.p50), fmt(d.p95), fmt(d.p99), fmt(d.max)]);

async function bench(cluster: LoopbackCluster): Promise<Record<string, unknown>> {
  const { url } = cluster;
  const created = await post(url, '/api/workshop', {
    adminPassword: cluster.adminPassword,
    teacherPassword: cluster.teacherPassword,
    name: 'Cluster bench',
    seats: STUDENTS + 10,
  });
  if (created.status !== 201)
    throw new Error(`POST /api/workshop: ${created.status} ${await created.text()}`);
  const { code } = workshopCreated.parse(await created.json());
  // The node that started it tells the others through Redis; the teacher signs in once all know it.
  await waitUntil(async () => {
    for (const node of cluster.nodes) {
      const res = await fetch(`${node.url}/join/${code}`, { signal: AbortSignal.timeout(5000) });
      await res.body?.cancel();
      if (res.status !== 200) return false;
    }
    return true;
  }, `every node to know workshop ${code}`);
  const login = await post(url, '/teacher/login', { code, password: cluster.teacherPassword });
  await login.body?.cancel();
  if (login.status !== 200) throw new Error(`POST /teacher/login: ${login.status}`);
  const teacherJar = new Map<string, string>();
  takeCookies(login, teacherJar);
  console.log(`workshop ${code}: ${STUDENTS} students arriving over ${ARRIVAL_MS / 1000} s`);

  // The class arrives: student i at i/N of the arrival period, give or take half a gap; each types
  // from the moment it has its prompt (arrivals overlap with typing, as in a room).
  const gap = ARRIVAL_MS / STUDENTS;
  const arrivalStart = performance.now();
  const typing: Promise<void>[] = [];
  const arrivals = Array.from({ length: STUDENTS }, async (_, i) => {
    await sleep(Math.max(0, i * gap + (Math.random() - 0.5) * gap - (performance.now() - arrivalStart)));
    const student = await arrive(url, code, i);
    if (student) typing.push(typeLines(student, i));
    return student;
  });
  const students = (await Promise.all(arrivals)).filter((s) => s !== undefined);
  const arrivalSeconds = (performance.now() - arrivalStart) / 1000;
  console.log(
    `${students.length} of ${STUDENTS} students at their prompt after ${arrivalSeconds.toFixed(1)} s`,
  );

  const loadAtStart = loadavg();
  period.start = performance.now();
  period.end = period.start + MEASURED_MS;
  console.log(`measuring ${MEASURED_MS / 1000} s of typing…`);
  const cpuSince = cpuAt(cluster);
  const loadSamples: number[] = [];
  const sampler = setInterval(() => loadSamples.push(loadavg()[0]!), 5000);
  await Promise.all(typing);
  clearInterval(sampler);
  const loadAtEnd = loadavg();
  const cpu = cpuSince();

  // Every student who got in is on the dashboard, whichever node answers it.
  const stateRes = await fetch(`${url}/api/workshop/state`, {
    headers: { cookie: cookieHeader(teacherJar) },
    signal: AbortSignal.timeout(30_000),
  });
  const state = workshopState.parse(await stateRes.json());
  const present = state.students.filter((s) => !s.left);
  if (present.length !== students.length)
    fail(
      'teacher',
      'dashboard',
      `the dashboard shows ${present.length} present students, ${students.length} joined`,
    );

  // ---- the report ----
  const perNode = new Map<string, number>();
  for (const s of students) perNode.set(s.node, (perNode.get(s.node) ?? 0) + 1);
  const nodes = [...new Set([...cluster.nodes.map((n) => n.id), ...perNode.keys()])].sort();
  const all = distribution([...measured.keystrokes.values()].flat());
  const lines: string[] = [];
  lines.push(
    `\nload: ${STUDENTS} students over ${NODES} nodes (maxSessions ${MAX_SESSIONS} each) joined through HAProxy over ~${ARRIVAL_MS / 1000} s; ` +
      `each types shell lines (${SHELL_LINES.map((l) => `\`${l}\``).join(', ')}) one key per binary frame at ${KEYS_PER_SECOND.min}–${KEYS_PER_SECOND.max} keys/s, ` +
      `Enter, waits for the prompt, reads ${THINK_MS.min / 1000}–${THINK_MS.max / 1000} s; 1 in ${CONTAINER_EVERY} students runs \`docker run --rm busybox echo …\` once. ` +
      `Measured: ${MEASURED_MS / 1000} s after the whole class is in.\n`,
  );
  const share = (v: number | undefined) => (v === undefined ? '—' : `${(v * 100).toFixed(0)} %`);
  lines.push(row(['keystroke → echo', 'students', 'server CPU', 'keystrokes', 'p50', 'p95', 'p99', 'max']));
  lines.push(row(['---', '---', '---', '---', '---', '---', '---', '---']));
  for (const node of nodes) {
    const d = distribution(measured.keystrokes.get(node) ?? []);
    lines.push(distRow(node, d, [perNode.get(node) ?? 0, share(cpu[node])]));
  }
  const serverCpu = nodes.reduce((sum, n) => sum + (cpu[n] ?? 0), 0);
  lines.push(distRow('all nodes', all, [students.length, share(serverCpu)]));
  lines.push('');
  const joinDist = distribution(measured.joinMs);
  const welcomeDist = distribution(measured.welcomeMs);
  lines.push(row(['admission (through the router)', 'joins', 'p50', 'p95', 'p99', 'max']));
  lines.push(row(['---', '---', '---', '---', '---', '---']));
  lines.push(distRow(`POST /join → 200 with cookies (${measured.redirects} redirected by a node)`, joinDist));
  lines.push(distRow('POST /join → first `welcome` on /ws', welcomeDist));
  lines.push('');
  lines.push(row(['Enter → prompt (in the measured period)', 'lines', 'p50', 'p95', 'p99', 'max']));
  lines.push(row(['---', '---', '---', '---', '---', '---']));
  const commandDists = {
    builtin: distribution(measured.commands.builtin),
    docker: distribution(measured.commands.docker),
    container: distribution(measured.commands.container),
  };
  lines.push(distRow('builtins (help, ls, env, export, history)', commandDists.builtin));
  lines.push(distRow('docker images / ps', commandDists.docker));
  lines.push(distRow('docker run --rm busybox echo', commandDists.container));
  lines.push('');
  lines.push(
    `machine: ${cpus().length} cores; load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')} when measuring began, ` +
      `${loadAtEnd.map((l) => l.toFixed(2)).join(' ')} at its end (1/5/15 min); this client used ${share(cpu.client)} of a core ` +
      `(server CPU: each node's server process, in % of one core); dashboard: ${present.length} present`,
  );
  lines.push(
    `errors: ${measured.errors.length}${measured.errors.length ? ` (${summariseErrors(measured.errors)})` : ''}`,
  );
  for (const line of lines) console.log(line);

  return {
    date: new Date().toISOString(),
    config: {
      students: STUDENTS,
      nodes: NODES,
      maxSessionsPerNode: MAX_SESSIONS,
      arrivalMs: ARRIVAL_MS,
      measuredMs: MEASURED_MS,
      keysPerSecond: KEYS_PER_SECOND,
      thinkMs: THINK_MS,
      shellLines: SHELL_LINES,
      containerEvery: CONTAINER_EVERY,
      echoTimeoutMs: ECHO_TIMEOUT_MS,
    },
    machine: { cores: cpus().length, loadAtStart, loadAtEnd, loadSamples, cpuShareOfOneCore: cpu },
    studentsJoined: students.length,
    studentsPerNode: Object.fromEntries(perNode),
    dashboardPresent: present.length,
    admission: { joinMs: joinDist, welcomeMs: welcomeDist, redirects: measured.redirects },
    keystrokes: {
      all,
      perNode: Object.fromEntries(nodes.map((n) => [n, distribution(measured.keystrokes.get(n) ?? [])])),
    },
    commands: commandDists,
    containersRun: measured.containersRun,
    errors: measured.errors,
  };
}

function summariseErrors(errors: BenchError[]): string {
  const counts = new Map<string, number>();
  for (const e of errors) counts.set(e.what, (counts.get(e.what) ?? 0) + 1);
  return [...counts].map(([what, n]) => `${n} ${what}`).join(', ');
}

// Everything started is stopped on the way out: normal end, error, Ctrl-C or SIGTERM.
let registrySetup: Promise<(() => Promise<void>) | undefined> | undefined;
let clusterStart: Promise<LoopbackCluster> | undefined;
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    ending = true;
    for (const ws of sockets) ws.terminate();
    const cluster = await clusterStart?.catch(() => undefined);
    await cluster?.stop();
    const teardown = await registrySetup?.catch(() => undefined);
    await teardown?.();
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the cluster and the registry…`);
    void cleanup().finally(() => process.exit(130));
  });
}

let failed = false;
try {
  // The integration tests' own setup (packages, native helpers, CLI bundle, seeded protected registry)
  // unless a registry is already given.
  registrySetup = process.env.LAYERLAB_TEST_REGISTRY ? Promise.resolve(undefined) : globalSetup();
  await registrySetup;
  clusterStart = startLoopbackCluster({ nodes: NODES, maxSessions: MAX_SESSIONS });
  const result = await bench(await clusterStart);
  mkdirSync(join(repoRoot, 'test-results'), { recursive: true });
  writeFileSync(RESULT_FILE, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`result: ${RESULT_FILE}`);
  failed = measured.errors.length > 0;
  for (const e of measured.errors.slice(0, 20)) console.error(`error: ${e.student}: ${e.what}: ${e.message}`);
} catch (err) {
  console.error(err);
  failed = true;
} finally {
  await cleanup();
}
process.exit(failed ? 1 : 0);
