// Resource abuse inside a session's container on a real server with the default limits: a fork
// bomb, a memory hog, a CPU spin on every core, a full disk, a flood of tiny files and a `yes` flood
// to a page that does not read. Each stays inside its own cgroup and tmpfs; meanwhile the server
// answers HTTP and WebSocket, and another session's keystroke echo stays fast (figures printed).

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createContainer,
  resolveContainer,
  startContainer,
  waitContainer,
} from '../../engine/container/index.ts';
import { containerCgroupDirs as cgroupDirsOf } from '../../engine/host/cgroups.ts';
import { shimProcessesUnder } from '../../engine/host/processes.ts';
import { containerPath } from '../../engine/store/paths.ts';
import { DEFAULT_LIMITS } from '../../server/limits.ts';
import type { ServerSession } from '../../server/sessions/manager.ts';
import { containerCgroup } from '../support/cgroup-stats.ts';
import { busyboxContext, disposeContainers } from '../support/containers.ts';
import type { TestContext } from '../support/context.ts';
import { echoLatency, type Latency } from '../support/echo.ts';
import { startTestServer, type TestClient, type TestServer } from '../support/server.ts';

const LIMITS = DEFAULT_LIMITS.container;
/** The generous bound on another session's keystroke echo while a container misbehaves. */
const ECHO_P95_BOUND_MS = 500;
const KEYSTROKES = 30;

let srv: TestServer;
let abuser: Page;
let typist: Page;
const figures: string[] = [];

interface Page {
  session: ServerSession;
  client: TestClient;
  channel: number;
  /** Types a shell command and waits for the shell to report it done; returns the exit code. */
  run(command: string, timeoutMs?: number): Promise<number>;
}

async function openPage(): Promise<Page> {
  const { session, token } = await srv.newSession();
  const client = await srv.connect(token);
  client.send({ type: 'terminal.open', terminal: 'main', cols: 120, rows: 30 });
  const { channel } = await client.next('terminal.opened');
  return {
    session: srv.server.sessions.get(session)!,
    client,
    channel,
    async run(command, timeoutMs = 30_000) {
      client.sendInput(channel, `${command}\r`);
      const done = await client.next(
        'event',
        (m) => m.event.type === 'terminal.command' && m.event.command === command,
        timeoutMs,
      );
      return Number(done.event.exitCode);
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(probe: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

async function untilAsync(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * Types into the typist's container shell one key at a time (a letter, then a backspace) and times
 * each key from the frame sent to its echo received: browser → server → shim → PTY → sh and back.
 */
function typistEcho(page: Page): Promise<Latency> {
  return echoLatency(page.client, page.channel, KEYSTROKES);
}

/**
 * Another session's echo, the HTTP API, a new socket's ping and a host fork, while `label` runs;
 * `sample` is called every 100 ms meanwhile (to catch the abuse's peak).
 */
async function whileAbused(label: string, sample?: () => void): Promise<Latency> {
  const sampler = sample ? setInterval(sample, 100) : undefined;
  let echo: Latency;
  try {
    echo = await typistEcho(typist);
  } finally {
    clearInterval(sampler);
  }
  const httpStart = performance.now();
  const health = await fetch(`${srv.url}/healthz`);
  const httpMs = performance.now() - httpStart;
  expect(health.status).toBe(200);
  // A new reader's page is still accepted and answered.
  const page = await srv.connect((await srv.newSession()).token);
  page.send({ type: 'ping' });
  await page.next('pong', undefined, 5000);
  await page.close();
  // The host itself can still start processes: the pids cap is the container's, not the machine's.
  expect(execFileSync('/bin/true', { timeout: 5000 }).length).toBe(0);
  figures.push(
    `${label.padEnd(28)} echo p50 ${echo.p50.toFixed(1)} ms, p95 ${echo.p95.toFixed(1)} ms, max ${echo.max.toFixed(1)} ms; /healthz ${httpMs.toFixed(1)} ms`,
  );
  expect(echo.p95).toBeLessThan(ECHO_P95_BOUND_MS);
  return echo;
}

async function containerId(page: Page, name: string): Promise<string> {
  return (await resolveContainer(page.session.ctx, name)).id;
}

/** A process's name and state letter from /proc (undefined once it is gone). */
function processStat(pid: number): { comm: string; state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    return { comm, state: stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) };
  } catch {
    return undefined;
  }
}

/** `docker rm -f` through the abuser's shell; every process of the container is gone with its cgroup. */
async function removeAndCheck(name: string, id: string, pids: number[]): Promise<number> {
  const start = performance.now();
  expect(await abuser.run(`docker rm -f ${name}`, 60_000)).toBe(0);
  const ms = performance.now() - start;
  expect(cgroupDirsOf(id)).toEqual([]);
  const alive = pids.filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
    } catch {
      return false;
    }
  });
  expect(alive).toEqual([]);
  return ms;
}

beforeAll(async () => {
  srv = await startTestServer();
  abuser = await openPage();
  typist = await openPage();
  // The typist sits in a container's shell, as a reader does in a lesson.
  typist.client.sendInput(typist.channel, 'docker run -it --rm --name typist busybox sh\r');
  await typist.client.waitForOutput(typist.channel, /\/ # /, 60_000);
  // busybox's line editor asks where the cursor is (ESC [6n); answer as xterm.js would.
  typist.client.sendInput(typist.channel, '\x1b[1;5R');
  await sleep(200);
  await typistEcho(typist); // warm-up: the first keys pay for JIT and page faults
  await whileAbused('baseline (no abuse)');
});

afterAll(async () => {
  console.log(
    `\nkeystroke echo of another session during abuse (${KEYSTROKES} keys each):\n${figures.join('\n')}`,
  );
  await abuser?.client.close();
  await typist?.client.close();
  await srv?.close();
});

describe('abuse inside one container', () => {
  it('stops a fork bomb at the pids cap; rm -f kills every process', async () => {
    // Every bomb process forks in a loop (a failed fork ends it, a sibling takes its place); init is
    // a sleep, so the container outlives the bomb's casualties.
    const bomb = 'b(){ while :; do b & done; }; b & exec sleep 600';
    expect(await abuser.run(`docker run -d --name bomb busybox sh -c '${bomb}'`)).toBe(0);
    const id = await containerId(abuser, 'bomb');
    const cgroup = containerCgroup(id);
    expect(cgroup.pids().max).toBe(LIMITS.pids);
    await until(() => cgroup.pids().refused > 0, 20_000, 'the pids cap to refuse a fork');
    let peak = 0;
    await whileAbused('fork bomb', () => {
      peak = Math.max(peak, cgroup.pids().current);
    });
    const pids = cgroup.pids();
    expect(peak).toBeLessThanOrEqual(LIMITS.pids);
    figures.push(`  fork bomb: peak ${peak} processes (cap ${pids.max}), ${pids.refused} forks refused`);
    const ms = await removeAndCheck('bomb', id, cgroup.procs());
    figures.push(`  fork bomb: docker rm -f took ${ms.toFixed(0)} ms`);
  });

  it('OOM-kills a memory hog inside its own cgroup, again and again, and the container lives on', async () => {
    // dd allocates its block size up front: 400 MiB against a 256 MiB limit.
    const hog = 'while :; do dd if=/dev/zero of=/dev/null bs=400M count=1; echo dd-exit=$?; done';
    expect(await abuser.run(`docker run -d --name hog busybox sh -c '${hog}'`)).toBe(0);
    const id = await containerId(abuser, 'hog');
    const cgroup = containerCgroup(id);
    expect(cgroup.memory().limit).toBe(LIMITS.memoryBytes);
    await until(() => cgroup.memory().oomKills >= 2, 20_000, 'the OOM killer in the container cgroup');
    await whileAbused('memory hog (OOM loop)');
    const memory = cgroup.memory();
    expect(memory.peak).toBeLessThanOrEqual(LIMITS.memoryBytes);
    // The victim is dd, not the container's init: the container still runs and says why dd died.
    expect((await resolveContainer(abuser.session.ctx, 'hog')).state.status).toBe('running');
    expect(await abuser.run('docker logs hog')).toBe(0);
    expect(abuser.client.output(abuser.channel)).toMatch(/dd-exit=137/);
    figures.push(
      `  memory hog: ${memory.oomKills} OOM kills in the container's cgroup, peak ${(memory.peak / 2 ** 20).toFixed(1)} MiB of ${LIMITS.memoryBytes / 2 ** 20} MiB`,
    );
    await removeAndCheck('hog', id, cgroup.procs());
  });

  it('holds a CPU spin on every core to the container’s CPU quota', async () => {
    const spin = 'for i in $(seq $(($(nproc) * 2))); do (while :; do :; done) & done; wait';
    expect(await abuser.run(`docker run -d --name spin busybox sh -c '${spin}'`)).toBe(0);
    const id = await containerId(abuser, 'spin');
    const cgroup = containerCgroup(id);
    expect(cgroup.cpuQuota()).toBe(LIMITS.cpus);
    await until(() => cgroup.pids().current > cpus().length, 10_000, 'the spinners to start');
    const cpu0 = cgroup.cpuSeconds();
    const wall0 = performance.now();
    await whileAbused('CPU spin on every core');
    const cores = (cgroup.cpuSeconds() - cpu0) / ((performance.now() - wall0) / 1000);
    figures.push(
      `  CPU spin: the container used ${cores.toFixed(2)} of ${cpus().length} cores (quota ${LIMITS.cpus}), throttled in ${cgroup.throttledPeriods()} periods`,
    );
    // CFS enforces the quota per 100 ms period: allow a period's slack over the window. (On a machine
    // busy with other work the spinners may get less than their quota, which proves nothing either way.)
    expect(cores).toBeLessThan(LIMITS.cpus * 1.15);
    expect(cores).toBeGreaterThan(0.05); // it did spin
    await removeAndCheck('spin', id, cgroup.procs());
  });

  it('fills its disk to the tmpfs cap with ENOSPC, not the host’s disk', async () => {
    const fill =
      'dd if=/dev/zero of=/big bs=1M; ' +
      'while :; do dd if=/dev/zero of=/more bs=64k count=100 2>/dev/null; rm -f /more; done';
    const hostFree0 = statfsSync('/').bavail;
    expect(await abuser.run(`docker run -d --name fill busybox sh -c '${fill}'`)).toBe(0);
    const id = await containerId(abuser, 'fill');
    const rw = join(containerPath(abuser.session.ctx.paths, id), 'rw');
    const full = await until(
      () => {
        const s = statfsSync(rw);
        return s.bfree === 0 ? s : undefined;
      },
      30_000,
      'the container tmpfs to fill',
    );
    expect(full.blocks * full.bsize).toBeLessThanOrEqual(LIMITS.diskBytes);
    await whileAbused('disk full (write loop)');
    expect(await abuser.run('docker logs fill')).toBe(0);
    await abuser.client.waitForOutput(abuser.channel, /No space left on device/, 10_000);
    // The host's own disk did not take the writes (a generous margin for whatever else runs here).
    const hostUsed = (hostFree0 - statfsSync('/').bavail) * statfsSync('/').bsize;
    expect(hostUsed).toBeLessThan(LIMITS.diskBytes / 2);
    figures.push(
      `  disk: the tmpfs is full at ${(full.blocks * full.bsize) / 2 ** 20} MiB; writes get ENOSPC`,
    );
    await removeAndCheck('fill', id, containerCgroup(id).procs());
  });
});

describe('a yes flood to a page that stops reading', () => {
  it('pauses the container instead of buffering, keeps the server’s memory flat, and recovers', async () => {
    const { client, channel } = abuser;
    // sh is pid 1 and stays: Ctrl-C kills yes (pid 1 itself would ignore SIGINT), then sh exits.
    client.sendInput(channel, "docker run -it --rm --name flood busybox sh -c 'yes; true'\r");
    const mode = await client.next('terminal.mode', (m) => m.mode === 'container', 60_000);
    await client.waitForOutput(channel, /y\r\ny\r\n/, 10_000);
    const cgroup = containerCgroup(mode.container!);
    // The page stops reading: its TCP window fills, the server's send queue passes the high-water
    // mark, and the server pauses the terminal, which stops reading the container's PTY.
    const socket = (client.ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    try {
      // Paused: the server holds the terminal, and both ends of the pipe from it sleep — `yes` in its
      // write to the full terminal, the shim in its write to the server's unread socket — three
      // samples in a row. A process only starved of CPU on a loaded machine is runnable ('R'), and a
      // shim still draining the terminal would wake `yes` again.
      const shim = shimProcessesUnder(abuser.session.ctx.paths.run).find(
        (s) => s.container === mode.container,
      );
      expect(shim, 'the container’s shim').toBeDefined();
      const asleepState = (state: string | undefined) => state === 'S' || state === 'D';
      let asleep = 0;
      await untilAsync(
        async () => {
          const held = [...abuser.session.terminalHub.pauses.values()].some((n) => n > 0);
          const yes = cgroup.procs().flatMap((pid) => {
            const s = processStat(pid);
            return s?.comm === 'yes' ? [s.state] : [];
          });
          const still =
            held && yes.length === 1 && asleepState(yes[0]) && asleepState(processStat(shim!.pid)?.state);
          asleep = still ? asleep + 1 : 0;
          if (asleep < 3) await sleep(100);
          return asleep >= 3;
        },
        30_000,
        'the flood to be paused',
      );
      const rss0 = process.memoryUsage().rss;
      const cpu0 = cgroup.cpuSeconds();
      await whileAbused('yes flood, page not reading');
      const rssGrowth = process.memoryUsage().rss - rss0;
      const cpu = cgroup.cpuSeconds() - cpu0;
      figures.push(
        `  yes flood: paused; the container used ${(cpu * 1000).toFixed(0)} ms of CPU meanwhile, server RSS ${rssGrowth >= 0 ? '+' : ''}${(rssGrowth / 2 ** 20).toFixed(1)} MiB`,
      );
      expect(cpu).toBeLessThan(0.05);
      expect(rssGrowth).toBeLessThan(32 * 2 ** 20);
    } finally {
      socket.resume();
    }
    // Reading again, the page gets output again; Ctrl-C ends the flood and the shell comes back.
    const seen = client.output(channel).length;
    await untilAsync(async () => client.output(channel).length > seen, 10_000, 'output to flow again');
    client.sendInput(channel, '\x03');
    await client.next('terminal.mode', (m) => m.mode === 'shell', 30_000);
    await untilAsync(
      async () => cgroupDirsOf(mode.container!).length === 0,
      10_000,
      'the flood to be removed',
    );
  });
});

describe('thousands of new files', () => {
  it('keeps the server answering while a container creates thousands of files', async () => {
    // Each new file in the upper dir is an inotify event for the server's fs.change watcher, which
    // has seen /t by the time the files come (as when a reader types one command after another).
    const touch = 'mkdir /t && sleep 2 && cd /t && seq 1 1500 | xargs touch; exec sleep 600';
    // The server runs in this process: its event loop's longest stall is every session's.
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    expect(await abuser.run(`docker run -d --name touch busybox sh -c '${touch}'`)).toBe(0);
    const id = await containerId(abuser, 'touch');
    const dir = join(containerPath(abuser.session.ctx.paths, id), 'rw', 'upper', 't');
    const count = () => (existsSync(dir) ? readdirSync(dir).length : 0);
    await until(() => count() > 0, 20_000, 'the first files');
    await whileAbused('1500 new files');
    await until(() => count() === 1500, 30_000, 'the files');
    // Right after, while the watcher digests them, too.
    await whileAbused('just after 1500 new files');
    loop.disable();
    const stallMs = loop.max / 1e6;
    figures.push(`  1500 new files: the server's event loop stalled at most ${stallMs.toFixed(0)} ms`);
    expect(stallMs).toBeLessThan(1000);
    await removeAndCheck('touch', id, containerCgroup(id).procs());
  });
});

describe('a flood of tiny files', () => {
  let t: TestContext | undefined;
  afterAll(() => disposeContainers(t));

  it('is capped at the container tmpfs inode limit, even across restarts', async () => {
    t = await busyboxContext();
    const ctx = t.ctx;
    const { memoryBytes } = ctx.config.limits;
    // Empty files take no blocks, only inodes: about 1 KiB of kernel memory each, pinned until the
    // tmpfs goes, and charged to the cgroup of the run that made them. At most 80 × 5000 files per run;
    // each run makes its own directory first.
    const fill =
      'd=$(mktemp -d /files.XXXXXX) && cd $d && i=0; ' +
      'while [ $i -lt 80 ]; do seq $((i*5000+1)) $((i*5000+5000)) | xargs touch 2>/dev/null || break; i=$((i+1)); done';
    const created = await createContainer(ctx, { image: 'busybox', cmd: ['sh', '-c', fill] });
    const rw = join(containerPath(ctx.paths, created.id), 'rw');
    const runOnce = async () => {
      await startContainer(ctx, created.id);
      const code = await waitContainer(ctx, created.id);
      const fs = statfsSync(rw);
      return { code, used: fs.files - fs.ffree, cap: fs.files };
    };
    const first = await runOnce();
    // A second run of the same container, on the same tmpfs, in a fresh cgroup: it must not add to
    // what the first left (or a few restarts would pin any amount of the host's memory).
    const second = await runOnce();
    figures.push(
      `  tiny files: ${first.used} inodes after one run (exit ${first.code}), ${second.used} after a restart (exit ${second.code}); tmpfs inode cap ${first.cap}`,
    );
    expect.soft(second.used - first.used, 'inodes a restart added to the first run').toBeLessThan(100);
    expect.soft(first.cap, 'the tmpfs inode cap').toBeLessThanOrEqual(memoryBytes / 1024);
  });
});
