// kill -9 of the CLI and of the server in the middle of a pull (and its unpack), an unpack, a commit,
// a push and a build. On the next start the engine's recovery (engine/recover.ts, server/cleanup.ts)
// clears what the dead process left; the store then passes `layerlab system check`, no mount, cgroup,
// runtime state, shim, tar or temp file of it remains, and the interrupted command simply works.
// The middle is hit reliably: a registry front that trickles blobs both ways, a sleeping RUN step, and
// polling for the operation's own temp files before the kill.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerCgroupDirs as cgroupDirsOf } from '../../engine/host/cgroups.ts';
import { mountsUnder } from '../../engine/host/mounts.ts';
import { rootPaths } from '../../engine/store/paths.ts';
import {
  freshContext,
  type TestContext,
  testRegistryCredentials,
  testRegistryHost,
} from '../support/context.ts';
import { freePort, startTestRegistry, type TestRegistry } from '../support/registry.ts';
import { openClient, type TestClient } from '../support/server.ts';

const REPO = join(import.meta.dirname, '..', '..');
const BIN = join(REPO, 'server', 'bin.js');
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// A registry front that trickles blob bodies (downloads and uploads) at `rate` bytes per second.

interface SlowFront {
  url: string;
  host: string;
  /** Bytes per second for blob bodies; Infinity passes them at full speed. */
  rate: number;
  /** Blob bytes received from clients (uploads) so far. */
  uploaded: number;
  close(): Promise<void>;
}

function trickle(front: SlowFront, count: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      (async () => {
        for (let i = 0; i < chunk.length; i += 16 * 1024) {
          const piece = chunk.subarray(i, i + 16 * 1024);
          this.push(piece);
          count(piece.length);
          if (Number.isFinite(front.rate)) await sleep((piece.length / front.rate) * 1000);
        }
      })().then(() => callback(), callback);
    },
  });
}

async function startSlowFront(upstream: string): Promise<SlowFront> {
  const sockets = new Set<Socket>();
  const front: SlowFront = { url: '', host: '', rate: 2 * MiB, uploaded: 0, close: async () => {} };
  const server: Server = createServer((req, res) => {
    const headers = { ...req.headers };
    delete headers.host;
    const isBlob = /\/blobs\//.test(req.url ?? '');
    const out = httpRequest(new URL(req.url ?? '/', upstream), { method: req.method, headers }, (answer) => {
      const back = { ...answer.headers };
      if (typeof back.location === 'string' && back.location.startsWith(upstream))
        back.location = front.url + back.location.slice(upstream.length);
      res.writeHead(answer.statusCode ?? 502, back);
      const body = isBlob && req.method === 'GET' ? answer.pipe(trickle(front, () => {})) : answer;
      body.pipe(res);
    });
    out.on('error', () => res.destroy());
    res.on('close', () => out.destroy());
    const upload = req.method === 'PATCH' || req.method === 'PUT';
    (upload && isBlob ? req.pipe(trickle(front, (n) => (front.uploaded += n))) : req).pipe(out);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
  front.url = `http://127.0.0.1:${port}`;
  front.host = `127.0.0.1:${port}`;
  front.close = () => {
    for (const s of sockets) s.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return front;
}

// ---------------------------------------------------------------------------------------------
// The CLI and the server as real processes.

interface Result {
  code: number | null;
  out: string;
  err: string;
}

function spawnLayerlab(root: string, args: string[]): ChildProcess & { result: Promise<Result> } {
  const child = spawn(process.execPath, [BIN, '--root', root, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  }) as ChildProcess & { result: Promise<Result> };
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.result = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
  return child;
}

function layerlab(root: string, ...args: string[]): Promise<Result> {
  return spawnLayerlab(root, args).result;
}

/** Polls `probe` every 5 ms until it holds; fails after `timeoutMs`. */
async function until(what: string, probe: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

async function kill9(child: ChildProcess): Promise<void> {
  const gone = new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGKILL');
  await gone;
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The largest file in `dir` (a blob being written), in bytes. */
function largestFile(dir: string): number {
  let max = 0;
  for (const name of entries(dir)) {
    try {
      max = Math.max(max, statSync(join(dir, name)).size);
    } catch {
      // renamed away meanwhile
    }
  }
  return max;
}

/** Processes whose command line mentions `root` (shims, runtimes, tar), as "pid args". */
function processesOf(root: string): string[] {
  const found: string[] = [];
  for (const pid of entries('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if ((argv.includes(root) || argv.includes(rootPaths(root).run)) && !argv.includes('vitest'))
        found.push(`${pid} ${argv}`);
    } catch {
      // gone
    }
  }
  return found;
}

function containerIds(root: string): string[] {
  return entries(join(root, 'containers')).filter((n) => /^[a-f0-9]{64}$/.test(n));
}

/** Every `.tmp-*` name under `dir` (recursively, not through mounts or layer contents). */
function tempNames(dir: string, depth = 3): string[] {
  const found: string[] = [];
  for (const name of entries(dir)) {
    const path = join(dir, name);
    if (name.startsWith('.tmp-')) found.push(path);
    else if (depth > 0 && !['rw', 'merged', 'init', 'diff', 'registry'].includes(name)) {
      try {
        if (statSync(path).isDirectory()) found.push(...tempNames(path, depth - 1));
      } catch {
        // gone
      }
    }
  }
  return found;
}

/**
 * What a crash may leave under `root`, expected to be nothing beyond the live containers `keep`:
 * temp files, tmp/ entries, mounts, runtime state dirs and run dirs, processes, cgroups of `gone`.
 */
function leftovers(root: string, keep: string[] = [], gone: string[] = [], server?: ChildProcess): string[] {
  const allowedMounts = keep.flatMap((id) => [
    join(root, 'containers', id, 'rw'),
    join(root, 'containers', id, 'merged'),
  ]);
  const running = keep.filter((id) => existsSync(join(rootPaths(root).run, id.slice(0, 12), 'shim.pid')));
  return [
    ...tempNames(root).map((p) => `temp ${p}`),
    ...entries(join(root, 'tmp')).map((n) => `tmp/${n}`),
    ...mountsUnder(root)
      .filter((m) => !allowedMounts.includes(m))
      .map((m) => `mount ${m}`),
    ...entries(join(rootPaths(root).run, 'crun'))
      .filter((id) => !keep.includes(id))
      .map((id) => `runtime state ${id}`),
    ...entries(rootPaths(root).run)
      .filter((n) => /^[a-f0-9]{12}$/.test(n) && !keep.some((id) => id.startsWith(n)))
      .map((n) => `run dir ${n}`),
    ...processesOf(root)
      .filter((p) => !running.some((id) => p.includes(`-i ${id}`) || p.includes(` ${id}`)))
      .filter((p) => !p.startsWith(`${server?.pid} `))
      .map((p) => `process ${p}`),
    ...gone.flatMap((id) => cgroupDirsOf(id).map((d) => `cgroup ${d}`)),
  ];
}

async function systemCheck(root: string): Promise<Result> {
  const check = await layerlab(root, 'system', 'check');
  expect(check.err).toBe('');
  expect(check.out).toContain('Store is consistent.');
  expect(check.out).toContain('Temp files:  0 leftover');
  expect(check.code).toBe(0);
  return check;
}

function frozenState(id: string): string {
  return readFileSync(join('/sys/fs/cgroup/freezer/layerlab', id, 'freezer.state'), 'utf8').trim();
}

// ---------------------------------------------------------------------------------------------

let pullFront: SlowFront;
let pushRegistry: TestRegistry;
let pushFront: SlowFront;

beforeAll(async () => {
  const host = testRegistryHost();
  if (!host) throw new Error('LAYERLAB_TEST_REGISTRY is not set: run through the integration project');
  pullFront = await startSlowFront(`http://${host}`);
  pushRegistry = await startTestRegistry();
  pushFront = await startSlowFront(pushRegistry.url);
});

afterAll(async () => {
  await pullFront?.close();
  await pushFront?.close();
  await pushRegistry?.stop();
});

function configure(root: string): void {
  writeFileSync(join(root, 'config.json'), JSON.stringify({ mirrors: { 'docker.io': [pullFront.url] } }));
  // The front passes requests through to the test registry, which wants its credential: keep it where
  // setup keeps the local registry's (the CLI and the server's sessions both read it there).
  const upstream = testRegistryCredentials()[testRegistryHost() ?? ''];
  if (upstream) {
    mkdirSync(join(root, 'registry'), { recursive: true });
    writeFileSync(
      join(root, 'registry', 'credentials.json'),
      JSON.stringify({ [new URL(pullFront.url).host]: upstream }),
    );
  }
}

describe('kill -9 of the CLI', () => {
  let t: TestContext;
  let root: string;

  beforeAll(async () => {
    t = freshContext();
    root = t.root;
    configure(root);
    pullFront.rate = Number.POSITIVE_INFINITY;
    expect((await layerlab(root, 'pull', 'busybox')).code).toBe(0);
  });

  afterAll(async () => {
    pullFront.rate = Number.POSITIVE_INFINITY;
    await layerlab(root, 'rm', '-f', 'committing', 'unpacked');
    for (const id of containerIds(root)) await layerlab(root, 'rm', '-f', id);
    t.cleanup();
  });

  it('mid-pull (download and unpack under way): recovers, checks clean, and the pull runs again', async () => {
    pullFront.rate = 2 * MiB;
    const child = spawnLayerlab(root, ['pull', 'layerlab/big-layer']);
    await until(
      'the big layer half downloaded and half unpacked',
      () =>
        largestFile(join(root, 'tmp')) > 3 * MiB &&
        entries(join(root, 'layers')).some((n) => n.startsWith('.tmp-')),
    );
    await kill9(child);
    // The middle, as the kill left it: a partial blob and a partial layer dir, no image.
    expect(largestFile(join(root, 'tmp'))).toBeGreaterThan(3 * MiB);
    expect(entries(join(root, 'layers')).some((n) => n.startsWith('.tmp-'))).toBe(true);

    await systemCheck(root); // the CLI's start-up recovery runs first
    expect(leftovers(root)).toEqual([]);
    expect((await layerlab(root, 'images')).out).not.toContain('layerlab/big-layer');

    pullFront.rate = Number.POSITIVE_INFINITY;
    const again = await layerlab(root, 'pull', 'layerlab/big-layer');
    expect(again.err).toBe('');
    expect(again.code).toBe(0);
    expect((await layerlab(root, 'images')).out).toContain('layerlab/big-layer');
    await systemCheck(root);
  });

  it('mid-unpack of a layer a create needs: no half-unpacked dir is used, and the create runs again', async () => {
    const bigDir = entries(join(root, 'layers')).find((n) =>
      existsSync(join(root, 'layers', n, 'diff', 'data', 'data.bin')),
    );
    expect(bigDir).toBeDefined();
    let hit = false;
    // The unpack of 20 MB from disk takes a fraction of a second: poll tightly, and try again
    // (up to three times) when it finished before the kill landed.
    for (let attempt = 0; attempt < 3 && !hit; attempt++) {
      rmSync(join(root, 'layers', bigDir!), { recursive: true, force: true });
      const child = spawnLayerlab(root, ['create', '--name', 'unpacked', 'layerlab/big-layer']);
      await until('the unpack to start', () =>
        entries(join(root, 'layers')).some((n) => n.startsWith('.tmp-')),
      );
      await kill9(child);
      hit = !existsSync(join(root, 'layers', bigDir!));
      if (!hit) await layerlab(root, 'rm', '-f', 'unpacked');
    }
    expect(hit).toBe(true);
    expect(entries(join(root, 'layers')).some((n) => n.startsWith('.tmp-'))).toBe(true);

    await systemCheck(root);
    expect(leftovers(root)).toEqual([]);
    const created = await layerlab(root, 'create', '--name', 'unpacked', 'layerlab/big-layer');
    expect(created.code).toBe(0);
    const started = await layerlab(root, 'start', '-a', 'unpacked');
    expect(started.out).toMatch(/20\d{6} .*data\.bin/);
    expect(started.code).toBe(0);
    expect((await layerlab(root, 'rm', 'unpacked')).code).toBe(0);
    await systemCheck(root);
    expect(leftovers(root)).toEqual([]);
  });

  it('mid-commit (container frozen, layer half written): thawed, checked clean, and the commit runs again', async () => {
    const run = await layerlab(
      root,
      'run',
      '-d',
      '--name',
      'committing',
      'busybox',
      'sh',
      '-c',
      'head -c 40000000 /dev/urandom > /big && touch /written && sleep 300',
    );
    expect(run.code).toBe(0);
    const id = run.out.trim();
    await until('the container to write its file', () =>
      existsSync(join(root, 'containers', id, 'rw', 'upper', 'written')),
    );
    const child = spawnLayerlab(root, ['commit', 'committing', 'crash/committed:1']);
    await until('the layer blob to be half written', () => largestFile(join(root, 'tmp')) > 2 * MiB);
    expect(frozenState(id)).toBe('FROZEN');
    await kill9(child);
    expect(frozenState(id)).toBe('FROZEN'); // nobody left to thaw it

    await systemCheck(root);
    expect(frozenState(id)).toBe('THAWED');
    expect(leftovers(root, [id])).toEqual([]);
    expect((await layerlab(root, 'exec', 'committing', 'ls', '/written')).code).toBe(0);

    const again = await layerlab(root, 'commit', 'committing', 'crash/committed:1');
    expect(again.err).toBe('');
    expect(again.code).toBe(0);
    expect(frozenState(id)).toBe('THAWED');
    expect((await layerlab(root, 'rm', '-f', 'committing')).code).toBe(0);
    await systemCheck(root);
    expect(leftovers(root, [], [id])).toEqual([]);
  });

  it('mid-push (a blob half uploaded): nothing left behind, and the push runs again', async () => {
    const target = `${pushFront.host}/crash/big:1`;
    expect((await layerlab(root, 'tag', 'layerlab/big-layer', target)).code).toBe(0);
    pushFront.rate = 2 * MiB;
    pushFront.uploaded = 0;
    const child = spawnLayerlab(root, ['push', target]);
    await until('a blob to be half uploaded', () => pushFront.uploaded > 3 * MiB);
    expect(child.exitCode).toBeNull();
    await kill9(child);
    const manifest = `${pushRegistry.url}/v2/crash/big/manifests/1`;
    expect((await fetch(manifest, { method: 'HEAD' })).status).toBe(404);

    await systemCheck(root);
    expect(leftovers(root)).toEqual([]);
    pushFront.rate = Number.POSITIVE_INFINITY;
    const again = await layerlab(root, 'push', target);
    expect(again.err).toBe('');
    expect(again.code).toBe(0);
    const head = await fetch(manifest, {
      method: 'HEAD',
      headers: {
        accept:
          'application/vnd.docker.distribution.manifest.v2+json,application/vnd.oci.image.manifest.v1+json',
      },
    });
    expect(head.status).toBe(200);
  });

  it('mid-build (a RUN step sleeping): its working container, shim, mounts and cgroups go; the build runs again', async () => {
    const context = join(root, 'ctx');
    mkdirSync(context);
    writeFileSync(join(context, 'Dockerfile'), 'FROM busybox\nRUN sleep 2 && echo built > /built.txt\n');
    const child = spawnLayerlab(root, ['build', '-t', 'crash/built', context]);
    let working = '';
    await until('the RUN step to be running', () => {
      for (const id of containerIds(root)) {
        try {
          const record = JSON.parse(readFileSync(join(root, 'containers', id, 'container.json'), 'utf8'));
          if (record.external && record.state.status === 'running') working = id;
        } catch {
          // being written
        }
      }
      return working !== '';
    });
    await kill9(child);
    // The middle: the step's container still runs, with its shim, overlay and cgroups.
    expect(processesOf(root).some((p) => p.includes('layerlab-shim') && p.includes(working))).toBe(true);
    expect(mountsUnder(join(root, 'containers', working)).length).toBeGreaterThan(0);
    expect(cgroupDirsOf(working).length).toBeGreaterThan(0);

    await systemCheck(root);
    expect(containerIds(root)).not.toContain(working);
    expect(leftovers(root, [], [working])).toEqual([]);

    const again = await layerlab(root, 'build', '-t', 'crash/built', context);
    expect(again.code).toBe(0);
    const out = await layerlab(root, 'run', '--rm', 'crash/built', 'cat', '/built.txt');
    expect(out.out.trim()).toBe('built');
    await systemCheck(root);
    expect(leftovers(root)).toEqual([]);
  });

  it('a create that died without its record: the dir, its overlay and tmpfs are removed on the next start', async () => {
    const created = await layerlab(root, 'create', '--name', 'half', 'busybox');
    expect(created.code).toBe(0);
    const id = created.out.trim();
    rmSync(join(root, 'containers', id, 'container.json'));
    expect(mountsUnder(join(root, 'containers', id)).length).toBe(2);

    await systemCheck(root);
    expect(containerIds(root)).not.toContain(id);
    expect(leftovers(root, [], [id])).toEqual([]);
    expect((await layerlab(root, 'create', '--name', 'half', 'busybox')).code).toBe(0);
    expect((await layerlab(root, 'rm', 'half')).code).toBe(0);
  });

  it('recovers nothing while another engine process is alive: a pull in progress beside a check completes', async () => {
    const probe = freshContext();
    try {
      configure(probe.root);
      pullFront.rate = 2 * MiB;
      const child = spawnLayerlab(probe.root, ['pull', 'layerlab/big-layer']);
      await until('the pull to be under way', () => largestFile(join(probe.root, 'tmp')) > 1 * MiB);
      const check = await layerlab(probe.root, 'system', 'check');
      expect(check.out).toMatch(/Temp files: {2}[1-9]\d* leftover \(writes in progress/);
      expect(check.code).toBe(0);
      pullFront.rate = Number.POSITIVE_INFINITY;
      const pulled = await child.result;
      expect(pulled.err).toBe('');
      expect(pulled.code).toBe(0);
      await systemCheck(probe.root);
      expect(leftovers(probe.root)).toEqual([]);
    } finally {
      pullFront.rate = Number.POSITIVE_INFINITY;
      probe.cleanup();
    }
  });

  it('system check finds what is wrong and exits 1: a corrupt blob, a half-unpacked layer', async () => {
    const probe = freshContext();
    try {
      configure(probe.root);
      expect((await layerlab(probe.root, 'pull', 'busybox')).code).toBe(0);
      const layer = entries(join(probe.root, 'layers')).find((n) => /^[a-f0-9]{64}$/.test(n))!;
      // A layer dir named by its diff_id but without layer.json: what an unpack renamed too early would leave.
      rmSync(join(probe.root, 'layers', layer, 'layer.json'));
      // A blob whose bytes no longer match its name (bit rot, tampering).
      const blobs = join(probe.root, 'blobs', 'sha256');
      const victim = entries(blobs).sort(
        (a, b) => statSync(join(blobs, b)).size - statSync(join(blobs, a)).size,
      )[0]!;
      writeFileSync(join(blobs, victim), 'not the content');
      const check = await layerlab(probe.root, 'system', 'check');
      expect(check.code).toBe(1);
      expect(check.err).toContain(`blob sha256:${victim}: content hashes to`);
      expect(check.err).toContain(`layer ${layer.slice(0, 12)}: no readable layer.json`);
      expect(check.out).toMatch(/Store has \d+ problem\(s\)\./);
    } finally {
      probe.cleanup();
    }
  });
});

describe('kill -9 of the server', () => {
  let t: TestContext;
  let root: string;
  let server: (ChildProcess & { result: Promise<Result> }) | undefined;
  let url = '';

  async function startServer(): Promise<void> {
    const port = await freePort();
    server = spawnLayerlab(root, ['serve', '--port', String(port)]);
    url = `http://127.0.0.1:${port}`;
    await until(
      'the server to listen',
      () => {
        if (server?.exitCode !== null) throw new Error('the server exited');
        return true;
      },
      1000,
    );
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ok = await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline || server?.exitCode !== null) throw new Error('the server did not start');
      await sleep(50);
    }
  }

  async function terminal(): Promise<{ client: TestClient; channel: number }> {
    const res = await fetch(`${url}/api/session`);
    const { token } = (await res.json()) as { token: string };
    const client = openClient(url, token);
    await client.next('welcome');
    client.send({ type: 'terminal.open', terminal: 'main', cols: 120, rows: 40 });
    const opened = await client.next('terminal.opened');
    return { client, channel: opened.channel };
  }

  /** Every container of every session root, with the session root it lives in. */
  function sessionContainers(): { dir: string; id: string }[] {
    return entries(join(root, 'sessions')).flatMap((name) => {
      const dir = join(root, 'sessions', name);
      return containerIds(dir).map((id) => ({ dir, id }));
    });
  }

  /** Restarts the server on the same root: its start-up cleanup and recovery run. */
  async function crashAndRestart(): Promise<void> {
    await kill9(server!);
    await startServer();
  }

  beforeAll(async () => {
    t = freshContext();
    root = t.root;
    configure(root);
    pullFront.rate = Number.POSITIVE_INFINITY;
    expect((await layerlab(root, 'pull', 'busybox')).code).toBe(0);
    await startServer();
  });

  afterAll(async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await Promise.race([server.result, sleep(20_000)]);
      if (server.exitCode === null) await kill9(server);
    }
    for (const id of containerIds(root)) await layerlab(root, 'rm', '-f', id);
    pullFront.rate = Number.POSITIVE_INFINITY;
    t.cleanup();
  });

  it('mid-pull: on restart the store checks clean, nothing is left, and the pull runs again', async () => {
    pullFront.rate = 2 * MiB;
    const { client, channel } = await terminal();
    client.sendInput(channel, 'docker pull layerlab/big-layer\r');
    await until(
      'the big layer half downloaded',
      () =>
        largestFile(join(root, 'tmp')) > 3 * MiB &&
        entries(join(root, 'layers')).some((n) => n.startsWith('.tmp-')),
    );
    await crashAndRestart();
    await client.closed;
    expect(entries(join(root, 'sessions'))).toEqual([]);
    expect(leftovers(root, [], [], server)).toEqual([]);
    await systemCheck(root);

    pullFront.rate = Number.POSITIVE_INFINITY;
    const next = await terminal();
    next.client.sendInput(next.channel, 'docker pull layerlab/big-layer\r');
    await next.client.waitForOutput(next.channel, /Status: Downloaded newer image/, 60_000);
    await next.client.close();
  });

  it('mid-commit in a session: the frozen container is thawed and removed with its session on restart', async () => {
    const { client, channel } = await terminal();
    client.sendInput(
      channel,
      'docker run -d --name big busybox sh -c "head -c 40000000 /dev/urandom > /big && touch /written && sleep 300"\r',
    );
    let id = '';
    await until('the container to write its file', () => {
      const found = sessionContainers().find(({ dir, id }) =>
        existsSync(join(dir, 'containers', id, 'rw', 'upper', 'written')),
      );
      id = found?.id ?? '';
      return id !== '';
    });
    await client.waitForOutput(channel, /\r\n[a-f0-9]{64}\r\n/, 30_000);
    client.sendInput(channel, 'docker commit big crash/committed:1\r');
    await until('the layer blob to be half written', () => largestFile(join(root, 'tmp')) > 2 * MiB);
    expect(frozenState(id)).toBe('FROZEN');
    await crashAndRestart();
    await client.closed;

    expect(entries(join(root, 'sessions'))).toEqual([]);
    expect(leftovers(root, [], [id], server)).toEqual([]);
    await systemCheck(root);

    const next = await terminal();
    next.client.sendInput(next.channel, 'docker run -d --name big busybox sleep 300\r');
    await next.client.waitForOutput(next.channel, /\r\n[a-f0-9]{64}\r\n/, 30_000);
    next.client.sendInput(next.channel, 'docker commit big crash/committed:1\r');
    await next.client.waitForOutput(next.channel, /\r\nsha256:[a-f0-9]{64}\r\n/, 60_000);
    await next.client.close();
  });

  it('mid-build in a session: the working container goes with the session on restart, and the build runs again', async () => {
    const { client, channel } = await terminal();
    client.sendInput(channel, 'docker build -t crash/slow /lessons/slow-build\r');
    let working = '';
    await until('the RUN step to be running', () => {
      working =
        sessionContainers().find(({ dir, id }) =>
          existsSync(join(rootPaths(dir).run, id.slice(0, 12), 'shim.pid')),
        )?.id ?? '';
      return working !== '';
    });
    await crashAndRestart();
    await client.closed;
    expect(entries(join(root, 'sessions'))).toEqual([]);
    expect(leftovers(root, [], [working], server)).toEqual([]);
    await systemCheck(root);

    const next = await terminal();
    next.client.sendInput(next.channel, 'docker build -t crash/slow /lessons/slow-build\r');
    await next.client.waitForOutput(next.channel, /naming to docker\.io\/crash\/slow:latest done/, 90_000);
    await next.client.close();
  });
});
