// A container's root filesystem: the image's layers as read-only overlay lowers, and a size-capped
// tmpfs holding the container's own changes (upper) and overlay's scratch dir (work).
//
//   containers/<id>/rw/        tmpfs (size = the container's disk limit), lives as long as the container
//   containers/<id>/rw/upper   what the container changed: the layer `commit` turns into a tar
//   containers/<id>/rw/work    overlayfs's private work dir
//   containers/<id>/rw/init    the mount points the runtime needs (dev, proc, sys, the /etc files), for an init layer
//   containers/<id>/rw/etc     the generated hosts, hostname and resolv.conf (container/etc-files.ts)
//   containers/<id>/rw/volumes the anonymous directories of the image's VOLUMEs (container/image-volumes.ts)
//   containers/<id>/merged/    the overlay, mounted for each start and unmounted when it stops
//   containers/<id>/l/         short symlinks to the lowers, when the option string would not fit
//
// The tmpfs stays mounted while the container exists, stopped or not, so its changes survive a stop
// and a second start (`remountRootfs` mounts only the overlay again); `unmountRootfs` drops both.
//
// Every call here is a handful of small metadata syscalls on the hot path of `run`, so they are made
// synchronously: each is microseconds, less than one trip through libuv's thread pool.

import { chmodSync, chownSync, closeSync, mkdirSync, openSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RuntimeError } from '../errors.ts';
import { MNT, MS, mount, SysError, umount2 } from '../sys/libc.ts';

export interface RootfsPaths {
  rw: string;
  upper: string;
  work: string;
  /** Empty dev/, proc/, sys/ and /etc files owned by container root: a lower the caller may stack on top. */
  init: string;
  /** The generated /etc files bind-mounted over the init layer's empty ones. */
  etc: string;
  /** The image's VOLUMEs, one anonymous directory each. */
  volumes: string;
  merged: string;
}

export interface MountRootfsOptions {
  /** Unpacked layer dirs, top (newest) first. Empty for `scratch` with nothing added. */
  lowerDirs: string[];
  containerDir: string;
  /** Size cap of the tmpfs holding upper and work. */
  sizeBytes: number;
  /** Host uid/gid that is root in the container (config.usernsBase): owns upper's root dir. */
  rootUid: number;
  /**
   * Whether the init layer holds the mount points of the generated /etc files. A build's working
   * container goes without, as before: an /etc in its init layer would be what a RUN that writes
   * in /etc copies up, and the layer would then carry that directory's time instead of the image's.
   */
  etcFiles?: boolean;
  /** Makes further mount points in the init layer (its host path given) before the overlay is mounted. */
  prepareInit?: (initDir: string) => void;
}

/** The mount points the runtime mounts proc, sysfs and the /dev tmpfs on. */
const INIT_DIRS = ['dev', 'proc', 'sys'];

/**
 * The mount points of the generated /etc files, as in Docker's init layer (moby daemon/initlayer):
 * without them the runtime would create them in the upper dir and `diff` would list them.
 */
const INIT_FILES = ['etc/hosts', 'etc/hostname', 'etc/resolv.conf'];

/** The mount option string must fit in one page (the kernel copies at most PAGE_SIZE). */
const MAX_OPTIONS = 4000;

export function rootfsPaths(containerDir: string): RootfsPaths {
  const rw = join(containerDir, 'rw');
  return {
    rw,
    upper: join(rw, 'upper'),
    work: join(rw, 'work'),
    init: join(rw, 'init'),
    etc: join(rw, 'etc'),
    volumes: join(rw, 'volumes'),
    merged: join(containerDir, 'merged'),
  };
}

/** Mounts the tmpfs (if not already) and the overlay; idempotent when both are already mounted. */
export async function mountRootfs(options: MountRootfsOptions): Promise<RootfsPaths> {
  const paths = rootfsPaths(options.containerDir);
  mkdirSync(paths.rw, { recursive: true });
  mkdirSync(paths.merged, { recursive: true });
  // The container's root (a host uid in the user namespace) must reach merged/ through its parents.
  await ensureTraversable(paths.merged);
  if (!hasOwnMount(paths.rw)) {
    // Empty files take no bytes, only inodes (about 1 KiB of kernel memory each, kept across
    // restarts): without an inode cap a loop of `touch` could pin memory the size cap never sees.
    const inodes = Math.max(16_384, Math.floor(options.sizeBytes / 4096));
    mount(
      'tmpfs',
      paths.rw,
      'tmpfs',
      MS.NOSUID | MS.NODEV,
      `size=${options.sizeBytes},nr_inodes=${inodes},mode=0755`,
    );
  }
  for (const dir of [paths.upper, paths.work]) mkdirSync(dir, { recursive: true });
  // Upper's root becomes the container's `/`: container root must be able to create files in it.
  chownSync(paths.upper, options.rootUid, options.rootUid);
  chmodSync(paths.upper, 0o755);
  for (const name of INIT_DIRS) {
    const dir = join(paths.init, name);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chownSync(dir, options.rootUid, options.rootUid);
  }
  for (const name of options.etcFiles === false ? [] : INIT_FILES) {
    const file = join(paths.init, name);
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    chownSync(dirname(file), options.rootUid, options.rootUid);
    closeSync(openSync(file, 'a', 0o644));
    chownSync(file, options.rootUid, options.rootUid);
  }
  options.prepareInit?.(paths.init);
  await remountRootfs(options);
  return paths;
}

/** Mounts the overlay again over the existing tmpfs (a stopped container started again). */
export async function remountRootfs(options: MountRootfsOptions): Promise<RootfsPaths> {
  const paths = rootfsPaths(options.containerDir);
  if (hasOwnMount(paths.merged)) return paths;
  if (!hasOwnMount(paths.rw)) {
    throw new RuntimeError(`container filesystem ${paths.rw} is not mounted`, { input: paths.rw });
  }
  let lowers = options.lowerDirs;
  if (lowers.length === 0) {
    // overlayfs needs at least one lower: scratch gets an empty, read-only-by-use directory.
    const empty = join(options.containerDir, 'empty');
    mkdirSync(empty, { recursive: true });
    lowers = [empty];
  }
  const data = overlayOptions(lowers, paths);
  if (data.length <= MAX_OPTIONS) {
    mountOverlay(paths.merged, data);
    return paths;
  }
  // Many layers: name each lower by a short symlink (l/0, l/1, …) and mount with paths relative to
  // the container dir, so each lower costs a few bytes of the one-page option string.
  const linkDir = join(options.containerDir, 'l');
  rmSync(linkDir, { recursive: true, force: true });
  mkdirSync(linkDir);
  const links: string[] = [];
  for (const [i, lower] of lowers.entries()) {
    symlinkSync(lower, join(linkDir, i.toString(36)));
    links.push(`l/${i.toString(36)}`);
  }
  const short = overlayOptions(links, { ...paths, upper: 'rw/upper', work: 'rw/work' });
  if (short.length > MAX_OPTIONS) {
    throw new RuntimeError(`too many layers to mount (${lowers.length})`, { input: options.containerDir });
  }
  const cwd = process.cwd();
  process.chdir(options.containerDir); // mount(2) resolves relative paths against the cwd
  try {
    mountOverlay(paths.merged, short);
  } finally {
    process.chdir(cwd);
  }
  return paths;
}

function mountOverlay(merged: string, data: string): void {
  try {
    mount('overlay', merged, 'overlay', 0, data);
  } catch (err) {
    throw new RuntimeError(`mount overlay at ${merged}: ${(err as Error).message}`, {
      input: merged,
      cause: err,
    });
  }
}

function overlayOptions(lowers: string[], paths: RootfsPaths): string {
  // redirect_dir/index/metacopy off: the upper dir must stay a plain, portable diff that `diff` and
  // `commit` can read without overlay's private xattrs pointing into the lowers.
  for (const dir of [...lowers, paths.upper, paths.work]) {
    if (/[,:]/.test(dir))
      throw new RuntimeError(`path not usable in an overlay mount: ${dir}`, { input: dir });
  }
  return [
    `lowerdir=${lowers.join(':')}`,
    `upperdir=${paths.upper}`,
    `workdir=${paths.work}`,
    'redirect_dir=off',
    'index=off',
    'metacopy=off',
  ].join(',');
}

/** Unmounts only the overlay (the container stopped); the tmpfs with its changes stays. */
export async function unmountOverlay(containerDir: string): Promise<void> {
  unmountIfMounted(rootfsPaths(containerDir).merged);
}

/**
 * Unmounts overlay and tmpfs (two umount2 calls: upper and work go with the tmpfs that holds them)
 * and removes the directories; safe to call again or on a partial state. With `keepDirs` the empty
 * mount points stay, for a caller that removes the whole container dir anyway.
 */
export async function unmountRootfs(
  containerDir: string,
  options: { keepDirs?: boolean } = {},
): Promise<void> {
  const paths = rootfsPaths(containerDir);
  unmountIfMounted(paths.merged);
  unmountIfMounted(paths.rw);
  if (options.keepDirs) return;
  for (const dir of [paths.merged, paths.rw, join(containerDir, 'l'), join(containerDir, 'empty')]) {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Takes every mount off `target` (a mount point can hold stacked mounts), asking the kernel rather
 * than reading /proc/self/mountinfo: umount2 says EINVAL once nothing is mounted there any more.
 */
function unmountIfMounted(target: string): void {
  for (;;) {
    try {
      umount2(target, 0);
    } catch (err) {
      if (!(err instanceof SysError)) throw err;
      if (err.errno === 'EINVAL' || err.errno === 'ENOENT') return; // not (or no longer) a mount point
      if (err.errno !== 'EBUSY') throw err;
      umount2(target, MNT.DETACH); // something still has it open: detach, the kernel finishes later
    }
  }
}

/**
 * Whether something is mounted on `path`, for the two mount points of this module only: a tmpfs or
 * an overlay is a filesystem of its own, so its root has another device number than its parent. Two
 * stats, where `isMountPoint` reads and parses the whole mount table.
 */
function hasOwnMount(path: string): boolean {
  try {
    return statSync(path).dev !== statSync(dirname(path)).dev;
  } catch {
    return false;
  }
}

/**
 * Adds search (x) permission for others on `path` and each parent lacking it, like Docker's 0711
 * data root: the container's root is an unprivileged host uid that must reach its rootfs.
 */
export async function ensureTraversable(path: string): Promise<void> {
  let dir = path;
  for (;;) {
    try {
      const info = statSync(dir);
      if ((info.mode & 0o001) === 0) chmodSync(dir, (info.mode & 0o7777) | 0o001);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const parent = dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}
