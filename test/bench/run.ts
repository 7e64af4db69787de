// `npm run bench`: Layerlab beside the raw OCI runtime and, where they answer on this machine, Docker
// and podman, in one run. Prints medians and ratios; docs/PERFORMANCE.md records a run.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { detectRuntime, runtimeCommand } from '../../engine/runtime/detect.ts';
import { mountRootfs, unmountRootfs } from '../../engine/runtime/overlay.ts';
import { buildSpec } from '../../engine/runtime/spec.ts';
import { LESSON_IMAGES } from '../../engine/seed.ts';
import { loadImage } from '../../engine/store/images.ts';
import { ensureLayer } from '../../engine/store/layers.ts';
import { buildNative } from '../../scripts/setup/native.ts';
import { startTestRegistry } from '../support/registry.ts';
import { measure, measurePrepared, ms, peerAvailable, run, type Sample } from './measure.ts';
import { benchServer } from './server.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
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

async function benchRawRuntime(ctx: EngineContext): Promise<Sample> {
  // The same sandbox Layerlab generates, on an already-mounted rootfs: only the runtime is timed.
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
  try {
    return await measure(RUNS, async (i) => {
      const id = `bench-raw-${process.pid}-${i}`;
      const spec = buildSpec({
        id,
        rootfs: rootfs.merged,
        process: { args: ['true'], env: ['PATH=/bin'], cwd: '/', uid: 0, gid: 0, terminal: false },
        userns: { base: ctx.config.usernsBase, size: ctx.config.usernsSize },
        limits: ctx.config.limits,
      } as Parameters<typeof buildSpec>[0]);
      const bundle = join(dir, id);
      mkdirSync(bundle, { recursive: true });
      writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
      const [cmd, ...args] = runtimeCommand(ctx, runtime);
      await run(cmd!, [...args, 'run', '--bundle', bundle, id]);
      rmSync(bundle, { recursive: true, force: true });
    });
  } finally {
    await unmountRootfs(dir);
  }
}

async function main(): Promise<void> {
  buildNative(repoRoot, { quiet: true });
  const registry = await startTestRegistry();
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

    // 1. pull + unpack of every lesson image into an empty store.
    const pullRow: Row = {
      operation: `pull + unpack of the ${imageRefs.length} lesson images`,
      layerlab: await measure(Math.min(RUNS, 5), async () => {
        const ctx = freshEngine(registry.host);
        for (const ref of imageRefs) await pull(ctx, ref);
      }),
      peers: {},
    };
    if (peers.docker.ok) {
      pullRow.peers.docker = await measurePrepared(
        Math.min(RUNS, 5),
        async () => {
          await run('docker', ['rmi', '-f', ...imageRefs.map(remote)]).catch(() => '');
          await run('docker', ['image', 'prune', '-f']).catch(() => '');
        },
        async () => {
          for (const ref of imageRefs) await run('docker', ['pull', '-q', remote(ref)]);
        },
      );
    }
    if (peers.podman.ok) {
      pullRow.peers.podman = await measurePrepared(
        Math.min(RUNS, 5),
        async () => {
          await run('podman', ['rmi', '-f', ...imageRefs.map(remote)]).catch(() => '');
        },
        async () => {
          for (const ref of imageRefs) await run('podman', ['pull', '-q', '--tls-verify=false', remote(ref)]);
        },
      );
    }
    rows.push(pullRow);

    // 2. run --rm busybox true.
    const ctx = freshEngine(registry.host);
    await pull(ctx, 'busybox');
    const runRow: Row = {
      operation: 'run --rm busybox true (library call)',
      layerlab: await measure(RUNS, async () => {
        const r = await runContainer(ctx, {
          image: 'busybox',
          cmd: ['true'],
          autoRemove: true,
          detach: true,
        });
        await r.exited;
      }),
      peers: { 'raw runtime': await benchRawRuntime(ctx) },
    };
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
    // The package's executable (bin.js turns the compile cache on before anything else loads).
    const cli = [join(repoRoot, 'server/bin.js'), '--root', ctx.root];
    rows.push({
      operation: 'run --rm busybox true (CLI process)',
      layerlab: await measure(RUNS, async () => {
        await run(process.execPath, [...cli, 'run', '--rm', 'busybox', 'true']);
      }),
      peers: {},
    });

    // 3. diff of a container with 10 000 changed files.
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

    // 4. commit of a 50 MB change.
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
  } finally {
    await registry.stop();
  }

  console.log(`\nmedians of ${RUNS} runs (pull and commit: up to 5)\n`);
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
  console.log('\nserver (test/bench/server.ts)\n');
  for (const line of await benchServer()) console.log(line);
}

// The engine unrefs its exit watchers (a detached `run` must not keep the CLI alive); hold the loop open.
const keepAlive = setInterval(() => {}, 1000);
try {
  await main();
} finally {
  clearInterval(keepAlive);
  rmSync(scratch, { recursive: true, force: true });
}
