// Finds the OCI runtime to use (crun, then runc), prepares the host for it, and proves it works by
// running one tiny sandboxed container. The verdict is cached per runtime binary and version.

import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { EngineContext } from '../context.ts';
import { RuntimeError } from '../errors.ts';
import { mountMissingV1Hierarchies } from '../host/cgroups.ts';
import { RUN_BASE } from '../store/paths.ts';
import { flock, LOCK, MS, mount } from '../sys/libc.ts';
import { ensureTraversable } from './overlay.ts';
import {
  executableIdentity,
  findExecutable,
  type RuntimeInfo,
  type RuntimeName,
  readCache,
  VERDICTS_FILE,
  VERSIONS_FILE,
  type VerdictCache,
  type VersionCache,
  verdictKey,
  wantedRuntimes,
} from './runtime-cache.ts';
import { buildSpec, type HostRlimits, parseProcLimits } from './spec.ts';

export { findExecutable, type RuntimeInfo, type RuntimeName };

const execFileAsync = promisify(execFile);

const HINTS: Record<RuntimeName, string> = {
  crun: 'install it with `apt-get install crun`',
  runc: 'install it with `apt-get install runc`',
};

/**
 * The runtime command with its global options: its state lives in the root's own run dir root
 * (`/run/layerlab/<hash>/crun`, see runRootOf), not in the runtime's shared default under /run.
 */
export function runtimeCommand(ctx: EngineContext, runtime: RuntimeInfo): string[] {
  return [runtime.path, '--root', runtimeStateDir(ctx, runtime)];
}

export function runtimeStateDir(ctx: EngineContext, runtime: RuntimeInfo): string {
  return join(ctx.paths.run, runtime.name);
}

/**
 * crun refuses a hybrid cgroup v1 layout when a controller the kernel has enabled has no v1
 * hierarchy mounted; the cgroup module mounts what is missing. Returns what was done.
 */
export function prepareHost(): string[] {
  return mountMissingV1Hierarchies();
}

const TMPFS_MAGIC = 0x01021994;

/**
 * Puts the run dirs on tmpfs where /run is not one (a minimal VM or a container whose /run is part
 * of the root disk): a start and an exit write a handful of small files there, each a disk write
 * otherwise, and they describe processes that a reboot ends anyway. Only an empty /run/layerlab is
 * mounted over (never hiding live run dirs), under a lock so two engines starting together mount
 * once. Returns what was done, for diagnostics.
 */
export function prepareRunBase(ctx: EngineContext): string[] {
  if (!ctx.paths.run.startsWith(`${RUN_BASE}/`)) return []; // no writable /run: the run dirs are on the root
  try {
    mkdirSync(RUN_BASE, { recursive: true, mode: 0o700 });
    if (statfsSync(RUN_BASE).type === TMPFS_MAGIC) return [];
    const fd = openSync(`${RUN_BASE}.lock`, 'a', 0o600);
    try {
      flock(fd, LOCK.EX, `${RUN_BASE}.lock`);
      if (statfsSync(RUN_BASE).type === TMPFS_MAGIC) return [];
      if (readdirSync(RUN_BASE).length > 0) return [`${RUN_BASE} is not empty: left on disk`];
      // As systemd mounts /run: no set-uid files, no devices; mode 0700 keeps the sockets root's.
      mount('tmpfs', RUN_BASE, 'tmpfs', MS.NOSUID | MS.NODEV, 'mode=0700,size=64m');
      return [`mounted a tmpfs at ${RUN_BASE}`];
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    return [`could not put ${RUN_BASE} on tmpfs: ${(err as Error).message}`];
  }
}

/** This process's hard rlimits (the container may not exceed them); empty when unreadable. */
export function readHostRlimits(): HostRlimits {
  try {
    return parseProcLimits(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return {};
  }
}

async function runtimeVersion(path: string): Promise<string> {
  const { stdout } = await execFileAsync(path, ['--version'], { timeout: 10_000 });
  const match = /version\s+(\S+)/.exec(stdout);
  if (!match?.[1]) throw new Error(`unexpected --version output: ${stdout.split('\n')[0]}`);
  return match[1];
}

/**
 * The cheapest real check: `<runtime> run` of `busybox true` in the same sandbox containers get
 * (user, network, pid, mount namespaces, cgroups, seccomp). Resolves, or rejects with the runtime's
 * stderr.
 */
async function probe(ctx: EngineContext, runtime: RuntimeInfo): Promise<void> {
  const busybox = existsSync('/bin/busybox') ? '/bin/busybox' : findExecutable('busybox');
  if (!busybox) throw new Error('no static /bin/busybox on the host to run the check with');
  await mkdir(ctx.paths.tmp, { recursive: true });
  const bundle = await mkdtemp(join(ctx.paths.tmp, 'probe-'));
  const id = `layerlab-probe-${process.pid}-${Date.now().toString(36)}`;
  const command = runtimeCommand(ctx, runtime);
  try {
    const rootfs = join(bundle, 'rootfs');
    await ensureTraversable(bundle);
    for (const dir of ['proc', 'sys', 'dev']) await mkdir(join(rootfs, dir), { recursive: true });
    await writeFile(join(rootfs, 'busybox'), '');
    const spec = buildSpec({
      id,
      rootfs,
      process: {
        args: ['/busybox', 'true'],
        env: [],
        cwd: '/',
        uid: 0,
        gid: 0,
        terminal: false,
        hostRlimits: readHostRlimits(),
      },
      userns: { base: ctx.config.usernsBase, size: ctx.config.usernsSize },
      limits: { memoryBytes: 64 * 1024 * 1024, pids: 16, cpus: 1 },
      binds: [{ source: busybox, destination: '/busybox', readonly: true }],
    });
    await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
    await new Promise<void>((resolve, reject) => {
      const child = spawn(command[0]!, [...command.slice(1), 'run', '--bundle', bundle, id], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.on('error', reject);
      child.on('close', (code) => {
        if (code === 0) resolve();
        else reject(new Error(stderr.trim() || `exited with ${code}`));
      });
    });
  } finally {
    await execFileAsync(command[0]!, [...command.slice(1), 'delete', '--force', id]).catch(() => {});
    await rm(bundle, { recursive: true, force: true });
  }
}

/**
 * `runtimeVersion`, remembered on the run dir by the executable's identity (device, inode, size,
 * mtime, ctime): a short command such as `version` or `run` then spawns no `crun --version`.
 */
async function cachedRuntimeVersion(ctx: EngineContext, path: string): Promise<string> {
  const identity = executableIdentity(path);
  const known = readCache<VersionCache>(ctx.paths.run, VERSIONS_FILE);
  const hit = Object.hasOwn(known, path) ? known[path] : undefined;
  if (hit?.identity === identity && typeof hit.version === 'string') return hit.version;
  const version = await runtimeVersion(path);
  known[path] = { identity, version };
  await mkdir(ctx.paths.run, { recursive: true });
  // A temp file and a rename: another engine process may read it at the same moment.
  const cachePath = join(ctx.paths.run, VERSIONS_FILE);
  const temp = `${cachePath}.${process.pid}`;
  await writeFile(temp, `${JSON.stringify(known)}\n`);
  await rename(temp, cachePath);
  return version;
}

const memo = new Map<string, Promise<RuntimeInfo>>();

/** The runtime to use, per `ctx.config.runtime`; memoised per state root for this process. */
export function detectRuntime(ctx: EngineContext): Promise<RuntimeInfo> {
  const key = `${ctx.root}\0${ctx.config.runtime}`;
  let found = memo.get(key);
  if (!found) {
    found = detect(ctx);
    found.catch(() => memo.delete(key));
    memo.set(key, found);
  }
  return found;
}

async function detect(ctx: EngineContext): Promise<RuntimeInfo> {
  const wanted = wantedRuntimes(ctx.config.runtime);
  const prepared = [...prepareHost(), ...prepareRunBase(ctx)];
  const cachePath = join(ctx.paths.run, VERDICTS_FILE);
  const verdicts = readCache<VerdictCache>(ctx.paths.run, VERDICTS_FILE);
  const reasons: string[] = [];
  for (const name of wanted) {
    const path = findExecutable(name);
    if (!path) {
      reasons.push(`${name}: not found in PATH (${HINTS[name]})`);
      continue;
    }
    let version: string;
    try {
      version = await cachedRuntimeVersion(ctx, path);
    } catch (err) {
      reasons.push(`${name}: ${path} --version failed: ${(err as Error).message} (${HINTS[name]})`);
      continue;
    }
    const info: RuntimeInfo = { name, path, version };
    const cacheKey = verdictKey(path, version);
    if (verdicts[cacheKey]?.ok) return info;
    try {
      await probe(ctx, info);
    } catch (err) {
      reasons.push(
        `${name} ${version}: cannot run a container: ${(err as Error).message}${fixFor(name, err)}`,
      );
      continue;
    }
    verdicts[cacheKey] = { ok: true, checkedAt: new Date().toISOString() };
    await mkdir(ctx.paths.run, { recursive: true });
    await writeFile(cachePath, `${JSON.stringify(verdicts, null, 2)}\n`);
    return info;
  }
  const notes = prepared.length > 0 ? ` (host preparation: ${prepared.join('; ')})` : '';
  throw new RuntimeError(`no working OCI runtime: ${reasons.join('; ')}${notes}`, {
    input: wanted.join(','),
  });
}

function fixFor(name: RuntimeName, err: unknown): string {
  const message = (err as Error).message;
  if (/hugetlb/.test(message)) {
    return ' (fix: mkdir /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb)';
  }
  if (/user namespace|uid_map|newuidmap/i.test(message)) {
    return ' (fix: the kernel must allow user namespaces: sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)';
  }
  if (/cgroup/i.test(message))
    return ' (fix: the engine needs root and writable cgroups under /sys/fs/cgroup)';
  return ` (try \`${name} --debug run\` on a bundle to see more; or set "runtime" in config.json to the other one)`;
}
