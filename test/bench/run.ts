// `npm run bench`: Layerlab beside the raw OCI runtime and, where they answer on this machine, Docker
// and podman, in one run. Prints medians and ratios; docs/PERFORMANCE.md records a run.
// BENCH_ONLY=run (a comma list of pull, run, cli, diff, commit, server) measures only those sections.
// When Docker is installed but no daemon answers, a private dockerd (test/support/dockerd.ts) is started.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { commit } from '../../engine/commit.ts';
import { engineConfigSchema } from '../../engine/config.ts';
import {
  createContainer,
  removeContainer,
  runContainer,
  startContainer,
  waitContainer,
} from '../../engine/container/lifecycle.ts';
import { containerDiff } from '../../engine/container/views.ts';
import { createContext, type EngineContext } from '../../engine/context.ts';
import type { EngineEvent } from '../../engine/events.ts';
import { seedRegistry } from '../../engine/image/seed.ts';
import { imageLayers } from '../../engine/oci/types.ts';
import { pull } from '../../engine/pull.ts';
import { detectRuntime, readHostRlimits, runtimeCommand } from '../../engine/runtime/detect.ts';
import { mountRootfs, unmountRootfs } from '../../engine/runtime/overlay.ts';
import { buildSpec } from '../../engine/runtime/spec.ts';
import { LESSON_IMAGES } from '../../engine/seed.ts';
import { loadImage } from '../../engine/store/images.ts';
import { ensureLayer } from '../../engine/store/layers.ts';
import { bundleCli } from '../../scripts/setup/bundle.ts';
import { buildNative } from '../../scripts/setup/native.ts';
import { cliModule } from '../../server/cli-bundle.js';
import { type Dockerd, dockerInstalled, startDockerd } from '../support/dockerd.ts';
import { startTestRegistry } from '../support/registry.ts';
import { measure, measurePrepared, ms, peerAvailable, run, type Sample } from './measure.ts';
import { benchServer } from './server.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const SECTIONS = ['pull', 'run', 'cli', 'diff', 'commit', 'server'] as const;
const ONLY = (process.env.BENCH_ONLY ?? SECTIONS.join(',')).split(',').map((s) => s.trim());
for (const name of ONLY) {
  if (!(SECTIONS as readonly string[]).includes(name))
    throw new Error(`BENCH_ONLY: unknown section ${name} (sections: ${SECTIONS.join(', ')})`);
}
/** Whether BENCH_ONLY asks for this section (all of them when it is unset). */
const measured = (section: (typeof SECTIONS)[number]) => ONLY.includes(section);
const scratch = mkdtempSync(join(tmpdir(), 'layerlab-bench-'));
// podman here needs runc and ulimits within the hard limits (no CAP_SYS_RESOURCE); keep that to the bench.
const podmanConf = join(scratch, 'containers.conf');
writeFileSync(
  podmanConf,
  '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n',
);
process.env.CONTAINERS_CONF = podmanConf;

interface Row {
  operation: string;
  layerlab: Sample;
  peers: Record<string, Sample | string>;
}
const rows: Row[] = [];

function freshEngine(registryHost: string): EngineContext {
  const root = mkdtempSync(join(scratch, 'root-'));
  return createContext(root, {
    config: engineConfigSchema.parse({ mirrors: { 'docker.io': [`http://${registryHost}`] } }),
    ...(process.env.BENCH_DEBUG ? { events: (e: EngineEvent) => console.error(JSON.stringify(e)) } : {}),
  });
}

interface RawRuntime {
  /** One `crun run` (foreground: create, start, wait, delete) of `true`. */
  step(i: number): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * The raw runtime beside Layerlab: the very config Layerlab generates for `run busybox true` (same
 * namespaces, cgroups, seccomp, capabilities, rlimits, hostname) on an already-mounted rootfs, so only
 * the runtime is timed.
 */
async function rawRuntime(ctx: EngineContext): Promise<RawRuntime> {
  const runtime = await detectRuntime(ctx);
  const image = await loadImage(ctx, 'busybox');
  const lowerDirs = (await Promise.all(imageLayers(image).map((l) => ensureLayer(ctx, l)))).reverse();
  const dir = join(scratch, 'raw');
  mkdirSync(dir, { recursive: true });
  const rootfs = await mountRootfs({
    lowerDirs,
    containerDir: dir,
    sizeBytes: ctx.config.limits.containerDiskBytes,
    rootUid: ctx.config.usernsBase,
  });
  const [cmd, ...args] = runtimeCommand(ctx, runtime);
  return {
    async step(i) {
      const id = `bench-raw-${process.pid}-${i}`;
      const spec = buildSpec({
        id,
        rootfs: rootfs.merged,
        process: {
          args: ['true'],
          env: ['PATH=/bin', `HOSTNAME=${id.slice(0, 12)}`, 'HOME=/root'],
          cwd: '/',
          uid: 0,
          gid: 0,
          additionalGids: [],
          terminal: false,
          hostRlimits: readHostRlimits(),
        },
        userns: { base: ctx.config.usernsBase, size: ctx.config.usernsSize },
        limits: ctx.config.limits,
      });
      const bundle = join(dir, id);
      mkdirSync(bundle, { recursive: true });
      writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
      await run(cmd!, [...args, 'run', '--bundle', bundle, id]);
      rmSync(bundle, { recursive: true, force: true });
    },
    dispose: () => unmountRootfs(dir),
  };
}

/**
 * Times several steps side by side: round after round, each step once, so a change in the machine's
 * load hits all of them alike and their ratio stays fair. A first untimed round warms each one up
 * (runtime detection, caches).
 */
async function sideBySide(
  runs: number,
  steps: Record<string, (i: number) => Promise<void>>,
): Promise<Record<string, Sample>> {
  const times = Object.fromEntries(Object.keys(steps).map((name) => [name, [] as number[]]));
  for (let i = -1; i < runs; i++) {
    for (const [name, step] of Object.entries(steps)) {
      const round = await measure(1, () => step(i));
      if (i >= 0) times[name]!.push(round.median);
    }
  }
  const samples: Record<string, Sample> = {};
  for (const [name, runTimes] of Object.entries(times)) {
    const sorted = [...runTimes].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    samples[name] = { median, runs: runTimes };
  }
  return samples;
}

/** The median of timed rounds, as `measure` reports it. */
function sampleOf(runs: number[]): Sample {
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, runs };
}

/** `127.0.0.1:<any port>/<lesson repository>:<tag>`: what this bench (and earlier runs of it) pulled. */
const LESSON_TAG = new RegExp(
  `^127\\.0\\.0\\.1:\\d+/(${LESSON_IMAGES.map((i) => i.repository.replace(/[.]/g, '\\.')).join('|')}):`,
);

/**
 * Empties a peer's store of the lesson images, as Layerlab's pull starts from an empty root. Removing
 * only this run's tags is not enough: the same images tagged by an earlier run (another registry
 * port) keep their layers, and the pull timed would fetch manifests only. Fails when any lesson layer
 * is still in the store afterwards, so a figure that is not from an empty store is never reported.
 */
async function emptyPeerStore(peer: 'docker' | 'podman', diffIds: Set<string>): Promise<void> {
  const tags = (await run(peer, ['images', '--format', '{{.Repository}}:{{.Tag}}']))
    .split('\n')
    .filter((t) => LESSON_TAG.test(t));
  if (tags.length > 0) await run(peer, ['rmi', '-f', ...tags]).catch(() => '');
  await run(peer, ['image', 'prune', '-f']).catch(() => '');
  const ids = (await run(peer, ['images', '-a', '-q', '--no-trunc'])).split('\n').filter(Boolean);
  if (ids.length === 0) return;
  const layers = (
    await run(peer, ['image', 'inspect', '--format', '{{range .RootFS.Layers}}{{.}} {{end}}', ...ids])
  )
    .split(/\s+/)
    .filter((l) => diffIds.has(l));
  if (layers.length > 0) {
    throw new Error(
      `not measured: ${peer}'s store still holds lesson layer ${layers[0]} (an image or container uses it)`,
    );
  }
}

async function main(): Promise<void> {
  buildNative(repoRoot, { quiet: true });
  const registry = await startTestRegistry();
  let dockerd: Dockerd | undefined;
  if (!peerAvailable('docker').ok && !('missing' in dockerInstalled())) {
    // dockerd --iptables=false --bridge=none with its state in the bench's scratch dir.
    dockerd = await startDockerd(join(scratch, 'docker'));
    process.env.DOCKER_HOST = dockerd.host;
  }
  const peers = { docker: peerAvailable('docker'), podman: peerAvailable('podman') };
  for (const [name, p] of Object.entries(peers)) {
    console.log(`${name}: ${p.ok ? 'measured' : `not measured (${p.why})`}`);
  }
  try {
    const seedCtx = freshEngine(registry.host);
    console.log('seeding a bench registry with the lesson images…');
    await seedRegistry(seedCtx, {
      registry: registry.host,
      onProgress: (p) => console.log(`  ${p.repository}: ${p.state}`),
    });
    const imageRefs = LESSON_IMAGES.map((i) => i.repository.replace(/^library\//, ''));
    const remote = (ref: string) => `${registry.host}/${ref.includes('/') ? ref : `library/${ref}`}`;
    if (measured('pull')) await pullSection();
    const ctx = freshEngine(registry.host);
    await pull(ctx, 'busybox');
    if (measured('run')) await runSection();
    if (measured('cli')) await cliSection();
    if (measured('diff')) await diffSection();
    if (measured('commit')) await commitSection();

    async function pullSection(): Promise<void> {
      // 1. pull + unpack of every lesson image into an empty store: round after round, Layerlab then
      // each peer (its store emptied, untimed, before each of its rounds), after an untimed warm-up
      // round of each, so a change in the machine's load hits them alike.
      const pullLayerlab = async () => {
        const pullCtx = freshEngine(registry.host);
        for (const ref of imageRefs) await pull(pullCtx, ref);
        return pullCtx;
      };
      const warm = await pullLayerlab();
      const lessonDiffIds = new Set<string>();
      for (const ref of imageRefs) {
        for (const layer of imageLayers(await loadImage(warm, ref))) lessonDiffIds.add(layer.diffId);
      }
      const pullPeers = (['docker', 'podman'] as const).filter((peer) => peers[peer].ok);
      const pullTimes: Record<string, number[]> = Object.fromEntries(
        ['layerlab', ...pullPeers].map((name) => [name, [] as number[]]),
      );
      const pullRefused: Record<string, string> = {};
      for (let i = -1; i < Math.min(RUNS, 5); i++) {
        const layerlabTime = (await measure(1, () => pullLayerlab().then(() => {}))).median;
        if (i >= 0) pullTimes.layerlab!.push(layerlabTime);
        for (const peer of pullPeers) {
          if (pullRefused[peer] !== undefined) continue;
          try {
            await emptyPeerStore(peer, lessonDiffIds);
          } catch (err) {
            pullRefused[peer] = (err as Error).message;
            continue;
          }
          const pullArgs = peer === 'docker' ? ['pull', '-q'] : ['pull', '-q', '--tls-verify=false'];
          const peerTime = (
            await measure(1, async () => {
              for (const ref of imageRefs) await run(peer, [...pullArgs, remote(ref)]);
            })
          ).median;
          if (i >= 0) pullTimes[peer]!.push(peerTime);
        }
      }
      const pullRow: Row = {
        operation: `pull + unpack of the ${imageRefs.length} lesson images`,
        layerlab: sampleOf(pullTimes.layerlab!),
        peers: Object.fromEntries(
          pullPeers.map((peer) => [peer, pullRefused[peer] ?? sampleOf(pullTimes[peer] ?? [])]),
        ),
      };
      rows.push(pullRow);
    }

    // 2. run --rm busybox true.
    async function runSection(): Promise<void> {
      const raw = await rawRuntime(ctx);
      let timed: Record<string, Sample>;
      try {
        // A round takes a tenth of a second: more of them steady the median against the machine's load.
        timed = await sideBySide(Math.max(RUNS, 21), {
          layerlab: async () => {
            const r = await runContainer(ctx, {
              image: 'busybox',
              cmd: ['true'],
              autoRemove: true,
              detach: true,
            });
            await r.exited;
          },
          raw: raw.step,
        });
      } finally {
        await raw.dispose();
      }
      const runRow: Row = {
        operation: 'run --rm busybox true (library call)',
        layerlab: timed.layerlab!,
        peers: { 'raw runtime': timed.raw! },
      };
      if (!measured('pull')) {
        // The pull section left busybox in each peer's store; without it, pull it here, untimed.
        if (peers.docker.ok) await run('docker', ['pull', '-q', remote('busybox')]);
        if (peers.podman.ok) await run('podman', ['pull', '-q', '--tls-verify=false', remote('busybox')]);
      }
      if (peers.docker.ok) {
        runRow.peers.docker = await measure(RUNS, async () => {
          await run('docker', ['run', '--rm', '--network', 'none', remote('busybox'), 'true']);
        });
      }
      if (peers.podman.ok) {
        runRow.peers.podman = await measure(RUNS, async () => {
          await run('podman', ['run', '--rm', '--network', 'none', remote('busybox'), 'true']);
        });
      }
      rows.push(runRow);
    }

    // 2b. The `layerlab` executable's start-up: `version` beside a bare Node, and `run --rm busybox
    // true` through the CLI beside Docker's, round after round. The bundle is refreshed first, as setup
    // leaves it; the sources' `version` is timed too, through a launcher that skips the bundle. Then
    // the same through the client and the root's resident engine (warm), and the launcher's cost.
    async function cliSection(): Promise<void> {
      const bundle = await bundleCli(repoRoot);
      const choice = cliModule(repoRoot);
      console.log(
        `CLI: ${choice.bundle ? 'bundle' : `sources (${choice.stale})`}${bundle ? '' : ' (bundling skipped)'}`,
      );
      const bin = join(repoRoot, 'server', 'bin.js');
      const fromSources = join(scratch, 'sources.mjs');
      writeFileSync(
        fromSources,
        `import { enableCompileCache } from 'node:module';\nenableCompileCache();\nconst cli = await import(${JSON.stringify(pathToFileURL(join(repoRoot, 'server', 'cli.ts')).href)});\nawait cli.runLayerlab();\n`,
      );
      const node = process.execPath;
      if (!measured('run') && peers.docker.ok) await run('docker', ['pull', '-q', remote('busybox')]);
      // The resident engine (engine/daemon/) for the root, as the first `layerlab` call would start
      // it, and its client (native/client.c); bin/layerlab is the launcher users run.
      buildNative(repoRoot, { quiet: true });
      const client = join(repoRoot, 'native', 'build', 'layerlab-client');
      const launcher = join(repoRoot, 'bin', 'layerlab');
      const daemon = await startDaemon(choice, ctx.root);
      console.log(`CLI daemon: ${daemon.ok ? `pid ${daemon.child.pid}` : daemon.why}`);
      const steps: Record<string, () => Promise<void>> = {
        node: async () => {
          await run(node, ['-e', '0']);
        },
        version: async () => {
          await run(node, [bin, '--root', ctx.root, 'version']);
        },
        versionFlag: async () => {
          await run(node, [bin, '--version']);
        },
        versionSources: async () => {
          await run(node, [fromSources, '--root', ctx.root, 'version']);
        },
        cliRun: async () => {
          await run(node, [bin, '--root', ctx.root, 'run', '--rm', 'busybox', 'true']);
        },
      };
      if (daemon.ok) {
        steps.daemonVersion = async () => {
          await run(client, ['--root', ctx.root, 'version']);
        };
        // The launcher's own cost: the same command through bin/layerlab and the client directly.
        steps.daemonVersionFlag = async () => {
          await run(client, ['--root', ctx.root, '--version']);
        };
        steps.launcherVersionFlag = async () => {
          await run(launcher, ['--root', ctx.root, '--version']);
        };
        steps.daemonRun = async () => {
          await run(client, ['--root', ctx.root, 'run', '--rm', 'busybox', 'true']);
        };
      }
      if (peers.docker.ok) {
        steps.docker = async () => {
          await run('docker', ['run', '--rm', '--network', 'none', remote('busybox'), 'true']);
        };
      }
      const rounds = Math.max(RUNS, 15);
      let timed: Record<string, Sample>;
      try {
        timed = await sideBySide(rounds, steps);
      } finally {
        if (daemon.ok) daemon.child.kill('SIGTERM');
      }
      // Every daemon step must have been served by the engine, not handed back to a Node process.
      const daemonSteps = Object.keys(steps).filter((name) => /^(daemon|launcher)/.test(name));
      const served = daemon.ok ? daemon.served() : 0;
      if (daemon.ok && served < daemonSteps.length * (rounds + 1)) {
        console.log(`CLI daemon: served ${served} of ${daemonSteps.length * (rounds + 1)} commands`);
        for (const name of daemonSteps) delete timed[name];
      }
      rows.push({
        operation: `\`layerlab version\` (${choice.bundle ? 'bundle' : 'sources'})`,
        layerlab: timed.version!,
        peers: { 'node -e 0': timed.node! },
      });
      rows.push({
        operation: `\`layerlab --version\` (${choice.bundle ? 'bundle' : 'sources'})`,
        layerlab: timed.versionFlag!,
        peers: { 'node -e 0': timed.node! },
      });
      rows.push({
        operation: '`layerlab version` (sources, no bundle)',
        layerlab: timed.versionSources!,
        peers: { 'node -e 0': timed.node! },
      });
      rows.push({
        operation: `run --rm busybox true (CLI process, ${choice.bundle ? 'bundle' : 'sources'})`,
        layerlab: timed.cliRun!,
        peers: timed.docker ? { docker: timed.docker } : { docker: peers.docker.why ?? 'not measured' },
      });
      if (timed.daemonRun) {
        rows.push({
          operation: '`layerlab version` (client → resident engine)',
          layerlab: timed.daemonVersion!,
          peers: { 'node -e 0': timed.node! },
        });
        rows.push({
          operation: '`bin/layerlab --version` (launcher → client → resident engine)',
          layerlab: timed.launcherVersionFlag!,
          peers: { 'client alone': timed.daemonVersionFlag! },
        });
        rows.push({
          operation: 'run --rm busybox true (client → resident engine, warm)',
          layerlab: timed.daemonRun,
          peers: timed.docker ? { docker: timed.docker } : { docker: peers.docker.why ?? 'not measured' },
        });
      }
    }

    // 3. diff of a container with 10 000 changed files.
    async function diffSection(): Promise<void> {
      const makeFiles = 'mkdir /d && cd /d && i=0; while [ $i -lt 10000 ]; do : > f$i; i=$((i+1)); done';
      const c = await createContainer(ctx, { image: 'busybox', cmd: ['sh', '-c', makeFiles] });
      await startContainer(ctx, c.id);
      await waitContainer(ctx, c.id);
      const diffRow: Row = {
        operation: 'diff of a container with 10 000 added files',
        layerlab: await measure(RUNS, async () => {
          await containerDiff(ctx, c.id);
        }),
        peers: {},
      };
      if (peers.docker.ok) {
        const id = (
          await run('docker', ['run', '-d', '--network', 'none', remote('busybox'), 'sh', '-c', makeFiles])
        ).trim();
        await run('docker', ['wait', id]);
        diffRow.peers.docker = await measure(RUNS, async () => {
          await run('docker', ['diff', id]);
        });
        await run('docker', ['rm', '-f', id]);
      }
      rows.push(diffRow);
      await removeContainer(ctx, c.id, { force: true });
    }

    // 4. commit of a 50 MB change.
    async function commitSection(): Promise<void> {
      const write50 = 'head -c 52428800 /dev/urandom > /big';
      const commitRow: Row = {
        operation: 'commit of a 50 MB change',
        layerlab: await measurePrepared(
          Math.min(RUNS, 5),
          async () => {
            const w = await createContainer(ctx, { image: 'busybox', cmd: ['sh', '-c', write50] });
            await startContainer(ctx, w.id);
            await waitContainer(ctx, w.id);
            return w.id;
          },
          async (id) => {
            await commit(ctx, id, {});
            await removeContainer(ctx, id, { force: true });
          },
        ),
        peers: {},
      };
      if (peers.docker.ok) {
        commitRow.peers.docker = await measurePrepared(
          Math.min(RUNS, 5),
          async () => {
            const id = (
              await run('docker', ['run', '-d', '--network', 'none', remote('busybox'), 'sh', '-c', write50])
            ).trim();
            await run('docker', ['wait', id]);
            return id;
          },
          async (id) => {
            await run('docker', ['commit', id]);
            await run('docker', ['rm', '-f', id]);
          },
        );
      }
      rows.push(commitRow);
    }
  } finally {
    await dockerd?.stop();
    await registry.stop();
  }

  console.log(
    `\nmedians of ${RUNS} runs (pull and commit: up to 5; the run library call: ${Math.max(RUNS, 21)} rounds, alternating with the raw runtime)\n`,
  );
  for (const row of rows) {
    const parts = Object.entries(row.peers).map(([name, s]) =>
      typeof s === 'string'
        ? `${name}: ${s}`
        : `${name} ${ms(s.median)} (layerlab/${name} = ${(row.layerlab.median / s.median).toFixed(2)}×)`,
    );
    console.log(
      `${row.operation}: layerlab ${ms(row.layerlab.median)}${parts.length ? `; ${parts.join('; ')}` : ''}`,
    );
  }
  if (measured('server')) {
    console.log('\nserver (test/bench/server.ts)\n');
    for (const line of await benchServer()) console.log(line);
  }
}

/**
 * Starts the resident engine for `root` on the CLI bundle (what `bin.js --engine-daemon` runs) and
 * waits for its socket. Its code counts as current throughout: the bench times the engine, and an
 * edit elsewhere in the tree must not end it mid-run. Its log counts the commands it served.
 */
async function startDaemon(
  choice: { url: string; bundle: boolean },
  root: string,
): Promise<{ ok: true; child: ChildProcess; served(): number } | { ok: false; why: string }> {
  if (!choice.bundle) return { ok: false, why: 'not measured (no fresh bundle)' };
  const log = join(scratch, 'daemon.log');
  const script = join(scratch, 'daemon.mjs');
  writeFileSync(
    script,
    [
      "import { appendFileSync } from 'node:fs';",
      `const cli = await import(${JSON.stringify(choice.url)});`,
      `await cli.runLayerlabDaemon(${JSON.stringify(root)}, {`,
      '  current: () => true,',
      `  log: (line) => appendFileSync(${JSON.stringify(log)}, line + '\\n'),`,
      '});',
      'process.exit(0);',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [script], { stdio: 'ignore' });
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code) => resolve(`not measured (the engine exited: ${code})`)),
  );
  const served = () =>
    existsSync(log)
      ? readFileSync(log, 'utf8')
          .split('\n')
          .filter((l) => l.startsWith('served: ')).length
      : 0;
  const socket = join(root, 'engine.sock');
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    if (existsSync(socket)) return { ok: true, child, served };
    const why = await Promise.race([exited, sleep(20).then(() => undefined)]);
    if (why) return { ok: false, why };
  }
  child.kill();
  return { ok: false, why: 'not measured (its socket did not appear within 60 s)' };
}

// The engine unrefs its exit watchers (a detached `run` must not keep the CLI alive); hold the loop open.
const keepAlive = setInterval(() => {}, 1000);
try {
  await main();
} finally {
  clearInterval(keepAlive);
  rmSync(scratch, { recursive: true, force: true });
}
