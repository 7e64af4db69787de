// Shared set-up for the integration tests that run containers: a fresh root with busybox in it, a
// busybox lower dir and OCI bundles for the runtime-level tests, and teardowns that leave no container
// or mount.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listContainers, removeContainer } from '../../engine/container/index.ts';
import type { EngineContext } from '../../engine/context.ts';
import { mountsUnder } from '../../engine/host/mounts.ts';
import { mountRootfs, unmountRootfs } from '../../engine/runtime/overlay.ts';
import { runtimeDelete } from '../../engine/runtime/shim.ts';
import { buildSpec } from '../../engine/runtime/spec.ts';
import { containerPath, containerRunPath } from '../../engine/store/paths.ts';
import { umount2 } from '../../engine/sys/libc.ts';
import { makeBusyboxImage } from './busybox-image.ts';
import { freshContext, type TestContext } from './context.ts';

const MNT_DETACH = 2;

/** Mount points at or under `root`, deepest first: the engine's own reader of the mount table. */
export { mountsUnder };

/** A fresh state root (see `freshContext`) holding the busybox image. */
export async function busyboxContext(options: Parameters<typeof freshContext>[0] = {}): Promise<TestContext> {
  const t = freshContext(options);
  await makeBusyboxImage(t.ctx);
  return t;
}

/**
 * Removes every container of `t` (force), detaches whatever is still mounted under its root (a test
 * that failed half-way may leave a mount behind), then deletes the root.
 */
export async function disposeContainers(t: TestContext | undefined): Promise<void> {
  if (t === undefined) return;
  for (const row of await listContainers(t.ctx, { all: true, external: true }).catch(() => [])) {
    await removeContainer(t.ctx, row.id, { force: true }).catch(() => {});
  }
  for (const mountPoint of mountsUnder(t.root)) {
    try {
      umount2(mountPoint, MNT_DETACH);
    } catch {
      // Already gone with its parent: detaching the deeper mount first can take the other with it.
    }
  }
  t.cleanup();
}

/**
 * A lower dir as the store would unpack busybox: the host's static busybox with its applets as links
 * relative to /bin (`busybox --install -s` would link to the host path), a few empty directories, an
 * /etc/passwd, everything owned by the user-namespace base `uid`.
 */
export function makeBusyboxLowerDir(dir: string, uid: number): void {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  execFileSync('cp', ['/bin/busybox', join(dir, 'bin', 'busybox')]);
  for (const applet of execFileSync('/bin/busybox', ['--list']).toString().split('\n')) {
    if (applet && applet !== 'busybox') symlinkSync('busybox', join(dir, 'bin', applet));
  }
  for (const sub of ['proc', 'sys', 'dev', 'etc', 'tmp', 'root'])
    mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  execFileSync('chown', ['-R', '-h', `${uid}:${uid}`, dir]);
  chownSync(dir, uid, uid);
}

export interface BundleOptions {
  tty?: boolean;
  /** Docker's seccomp profile (default on). */
  seccomp?: boolean;
  env?: string[];
  /** Size of the tmpfs under the upper dir (default 16 MiB). */
  sizeBytes?: number;
}

/** Writes `bundleDir/config.json` for `args` in `rootfs`: busybox as root in the user namespace, small limits. */
export function writeBundleSpec(
  ctx: EngineContext,
  id: string,
  bundleDir: string,
  rootfs: string,
  args: string[],
  opts: BundleOptions = {},
): void {
  mkdirSync(bundleDir, { recursive: true });
  const spec = buildSpec({
    id,
    rootfs,
    process: {
      args,
      env: opts.env ?? ['PATH=/bin', 'TERM=xterm', 'HOME=/root'],
      cwd: '/',
      uid: 0,
      gid: 0,
      terminal: opts.tty ?? false,
      hostRlimits: { RLIMIT_NOFILE: 20000 },
    },
    userns: { base: ctx.config.usernsBase, size: ctx.config.usernsSize },
    limits: { memoryBytes: 64 * 1024 * 1024, pids: 64, cpus: 1 },
    seccomp: opts.seccomp ?? true,
  });
  writeFileSync(join(bundleDir, 'config.json'), JSON.stringify(spec));
}

export interface Bundle {
  id: string;
  containerDir: string;
  bundleDir: string;
  runDir: string;
  logPath: string;
}

/**
 * An overlay rootfs over `lower` and an OCI bundle for `args`, under a new random container id in
 * `ctx`'s root: what `startShim` takes. Free it with `removeBundle`.
 */
export async function mountBundle(
  ctx: EngineContext,
  lower: string,
  args: string[],
  opts: BundleOptions = {},
): Promise<Bundle> {
  const id = randomBytes(32).toString('hex');
  const containerDir = containerPath(ctx.paths, id);
  const { merged } = await mountRootfs({
    lowerDirs: [lower],
    containerDir,
    sizeBytes: opts.sizeBytes ?? 16 * 1024 * 1024,
    rootUid: ctx.config.usernsBase,
  });
  const bundleDir = join(containerDir, 'bundle');
  writeBundleSpec(ctx, id, bundleDir, merged, args, opts);
  return {
    id,
    containerDir,
    bundleDir,
    runDir: containerRunPath(ctx.paths, id),
    logPath: join(containerDir, 'log'),
  };
}

/** Deletes the runtime's container `id` (if any) and unmounts its rootfs. */
export async function removeBundle(ctx: EngineContext, id: string): Promise<void> {
  await runtimeDelete(ctx, id).catch(() => {});
  await unmountRootfs(containerPath(ctx.paths, id));
}

/** Live layerlab-shim processes whose command line names a run dir under `root`. */
export function shimsOf(root: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cmdline.includes('layerlab-shim') && cmdline.includes(root)) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}
