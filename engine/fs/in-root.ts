// Reading trees a container controls (its upper dir and merged rootfs, the layers under it) without
// ever leaving them. The server runs as root and a container can rename and symlink inside its own
// tree while the server looks, so checking each component with lstat and then opening the path is a
// race a container wins (it swaps a directory for a symlink to a host directory in between). Here
// every lookup is one openat2(2) from a directory fd held on the tree's root, with RESOLVE_IN_ROOT
// (`..` and absolute paths stay inside), RESOLVE_NO_MAGICLINKS and RESOLVE_NO_XDEV, and by default
// RESOLVE_NO_SYMLINKS: the kernel resolves the whole path in one step, so nothing can be swapped
// between a check and a use. Everything after the lookup (stat, read, readdir, xattrs, readlink)
// goes through the fd it returned, never through a path again.

import {
  closeSync,
  fchmodSync,
  fchownSync,
  constants as fsConstants,
  fstatSync,
  openSync,
  readSync,
  type Stats,
  symlinkSync,
} from 'node:fs';
import { constants as osConstants } from 'node:os';
import { posix } from 'node:path';
import {
  AT_FDCWD,
  fchownat,
  fgetxattr,
  flistxattr,
  getdents64,
  mkdirat,
  O_CLOEXEC,
  O_PATH,
  openat2,
  RESOLVE,
  readlinkat,
  SysError,
} from '../sys/libc.ts';

const { O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY, O_RDONLY } = fsConstants;
const E = osConstants.errno;

/** The tree's own view: `..` and absolute paths stay inside; no magic link, no other mount. */
const CONFINED = RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS | RESOLVE.NO_XDEV;
/** No symlink followed anywhere on the way: the entries as stored (a layer, an upper dir). */
const STRICT = CONFINED | RESOLVE.NO_SYMLINKS;

/** How a path is resolved: `entry` follows no symlink; `container` follows them as the container would. */
export type Resolution = 'entry' | 'container';

/**
 * Errors that mean "nothing there by this path": missing, a non-directory on the way, a symlink on
 * the way (refused), another mount on the way (refused), a special file that cannot be opened.
 */
const ABSENT = new Set<number>([E.ENOENT, E.ENOTDIR, E.ELOOP, E.EXDEV, E.ENXIO, E.ENODEV]);

/** An entry of a directory listing; `type` is the listing's d_type. */
export interface DirEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'char' | 'other' | 'unknown';
}

/** d_type values (dirent.h) → DirEntry types. */
const D_TYPES: Record<number, DirEntry['type']> = {
  0: 'unknown',
  2: 'char',
  4: 'dir',
  8: 'file',
  10: 'symlink',
};

/** A file's bytes, cut at the cap the caller gave. */
export interface FileBytes {
  bytes: Buffer;
  /** The file's whole size, from fstat of the fd that was read. */
  size: number;
  stats: Stats;
}

/** A path with nothing to normalise: `a/b`, `/a/b` (no empty, `.` or `..` component, no trailing `/`). */
const PLAIN = /^\/?(?:[^/.]|\.[^/.]|\.\.[^/])[^/]*(?:\/(?:[^/.]|\.[^/.]|\.\.[^/])[^/]*)*$/;

/** Normalises a container path to the relative form openat2 gets: `/etc//x/` → `etc/x`, `/` → `.`. */
export function relativeInRoot(path: string): string {
  if (path.includes('\0')) throw new SysError('openat2', E.EINVAL, path.replaceAll('\0', '\\0'));
  if (PLAIN.test(path)) return path.charCodeAt(0) === 0x2f ? path.slice(1) : path;
  const clean = posix.normalize(`/${path}`).replace(/^\/+/, '').replace(/\/+$/, '');
  return clean === '' ? '.' : clean;
}

/**
 * A directory tree opened at its root. Paths given to its methods are container paths (`/etc/passwd`,
 * `etc/passwd`, even `../../etc/passwd`): they are resolved inside the tree and cannot name anything
 * outside it. A path that would need a symlink (or, in `container` resolution, one leading out) is
 * simply not there. Close it when done (`using`-style: `withTree`).
 */
export class Tree {
  /** The host path it was opened at, for messages. */
  readonly path: string;
  #fd: number;

  private constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  /** Opens the root of a tree at a host path (the store's own path: trusted). Undefined when absent. */
  static open(hostDir: string): Tree | undefined {
    const fd = openat2(AT_FDCWD, hostDir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0) {
      if (-fd === E.ENOENT || -fd === E.ENOTDIR) return undefined;
      throw new SysError('open', -fd, hostDir);
    }
    return new Tree(hostDir, fd);
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }

  /**
   * The fd of `path` opened with `flags`, or undefined when nothing is there by that path. The
   * caller closes it. With `entry` resolution a symlink as the last component is opened itself only
   * with `O_PATH`; otherwise it is refused (undefined).
   */
  openFd(path: string, flags: number, resolution: Resolution = 'entry'): number | undefined {
    if (this.#fd < 0) throw new SysError('openat2', E.EBADF, this.path);
    const rel = relativeInRoot(path);
    const follow = resolution === 'container';
    const all = flags | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW);
    for (let attempt = 0; ; attempt++) {
      const fd = openat2(this.#fd, rel, all, follow ? CONFINED : STRICT);
      if (fd >= 0) return fd;
      // RESOLVE_IN_ROOT answers EAGAIN when a rename anywhere raced a `..`: try again.
      if (-fd === E.EAGAIN && attempt < 16) continue;
      if (ABSENT.has(-fd)) return undefined;
      throw new SysError('openat2', -fd, `${this.path}:${rel}`);
    }
  }

  /** lstat of `path` (a symlink as the last component is described, not followed). */
  lstat(path: string): Stats | undefined {
    return this.#withFd(path, O_PATH, (fd) => fstatSync(fd));
  }

  /** stat of `path` as the container sees it: symlinks followed, inside the tree. */
  stat(path: string): Stats | undefined {
    return this.#withFd(path, O_PATH, (fd) => fstatSync(fd), 'container');
  }

  /** The target of the symlink at `path`; undefined when it is not a symlink (or absent). */
  readlink(path: string): string | undefined {
    return this.#withFd(path, O_PATH, (fd) => {
      if (!fstatSync(fd).isSymbolicLink()) return undefined;
      return readlinkat(fd, '', `${this.path}:${path}`).toString('utf8');
    });
  }

  /** The names in the directory at `path` (unsorted, without `.` and `..`); undefined if not a directory. */
  readdir(path: string): string[] | undefined {
    return this.entries(path)?.map((e) => e.name);
  }

  /**
   * The entries of the directory at `path` with their types as the directory records them (`unknown`
   * where the filesystem does not say): enough to skip an lstat per plain file in a walk.
   */
  entries(path: string): DirEntry[] | undefined {
    return this.#withFd(path, O_RDONLY | O_DIRECTORY, (fd) => readEntries(fd, `${this.path}:${path}`));
  }

  /**
   * Up to `maxBytes` of the regular file at `path` (anything else, a symlink included, is undefined).
   * `container` resolution follows symlinks on the way, inside the tree, as the container would.
   */
  readFile(path: string, maxBytes: number, resolution: Resolution = 'entry'): FileBytes | undefined {
    return this.withFile(path, resolution, (fd, stats) => {
      const buf = Buffer.alloc(Math.min(stats.size, maxBytes));
      let read = 0;
      while (read < buf.length) {
        const n = readSync(fd, buf, read, buf.length - read, read);
        if (n === 0) break;
        read += n;
      }
      return { bytes: buf.subarray(0, read), size: stats.size, stats };
    });
  }

  /** Calls `fn` with an fd open for reading on the regular file at `path`; undefined when there is none. */
  withFile<T>(path: string, resolution: Resolution, fn: (fd: number, stats: Stats) => T): T | undefined {
    // O_NONBLOCK and O_NOCTTY: should a FIFO or a terminal be there by now, opening it neither
    // blocks nor adopts it; fstat of the opened fd then decides.
    return this.#withFd(
      path,
      O_RDONLY | O_NONBLOCK | O_NOCTTY,
      (fd) => {
        const stats = fstatSync(fd);
        return stats.isFile() ? fn(fd, stats) : undefined;
      },
      resolution,
    );
  }

  /** Extended attribute `name` of the directory at `path` (overlay's opaque marker lives there). */
  dirXattr(path: string, name: string): Buffer | undefined {
    return this.#withFd(path, O_RDONLY | O_DIRECTORY, (fd) => fgetxattr(fd, name, `${this.path}:${path}`));
  }

  /**
   * The extended attributes of the file or directory at `path` (a symlink's are not read: the
   * kernel offers no fd-based call for them before Linux 6.13). Values are raw bytes.
   */
  xattrs(path: string): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    this.#withFd(path, O_RDONLY | O_NONBLOCK | O_NOCTTY, (fd) => {
      const what = `${this.path}:${path}`;
      for (const name of flistxattr(fd, what)) {
        const value = fgetxattr(fd, name, what);
        if (value !== undefined) out.set(name, value);
      }
    });
    return out;
  }

  /**
   * `mkdir -p` of `path` as the container would see it (symlinks on the way followed inside the
   * tree); each directory made is owned by `owner`. Returns false when a component exists and is
   * not a directory.
   */
  mkdirs(path: string, mode: number, owner: { uid: number; gid: number }): boolean {
    const parts = relativeInRoot(path)
      .split('/')
      .filter((p) => p !== '.');
    for (let i = 0; i < parts.length; i++) {
      const prefix = parts.slice(0, i + 1).join('/');
      const st = this.stat(prefix);
      if (st?.isDirectory()) continue;
      if (st !== undefined) return false;
      const parent = this.openFd(parts.slice(0, i).join('/') || '.', O_PATH | O_DIRECTORY, 'container');
      if (parent === undefined) return false;
      try {
        // mkdirat and fchownat act on the one name in the held parent: never through a symlink.
        mkdirat(parent, parts[i]!, mode, `${this.path}:${prefix}`);
        fchownat(parent, parts[i]!, owner.uid, owner.gid, `${this.path}:${prefix}`);
      } catch (err) {
        // A dangling symlink (or a racing mkdir) holds the name: it is not a directory we made.
        if (err instanceof SysError && err.errno === 'EEXIST')
          return this.stat(prefix)?.isDirectory() ?? false;
        throw err;
      } finally {
        closeSync(parent);
      }
    }
    return true;
  }

  /**
   * Creates (or truncates) the regular file `path`, its parent resolved as the container would see it
   * (inside the tree), the last component never followed; owned by `owner`. Returns an fd open for
   * writing, which the caller closes. Undefined when the parent is missing or not a directory.
   */
  createFile(path: string, mode: number, owner: { uid: number; gid: number }): number | undefined {
    return this.#inParent(path, (parent, name, where) => {
      // The parent is held by its fd; only `name` is looked up, with O_NOFOLLOW: a symlink the
      // container put there is refused (ELOOP), never written through.
      const fd = openSync(
        `/proc/self/fd/${parent}/${name}`,
        fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK,
        mode & 0o7777,
      );
      try {
        if (!fstatSync(fd).isFile()) throw new SysError('open', E.EISDIR, where);
        fchownSync(fd, owner.uid, owner.gid);
        fchmodSync(fd, mode & 0o7777);
        return fd;
      } catch (err) {
        closeSync(fd);
        throw err;
      }
    });
  }

  /** Creates the symlink `path` → `target` in the tree (parent resolved inside it), owned by `owner`. */
  symlink(path: string, target: string, owner: { uid: number; gid: number }): boolean {
    return (
      this.#inParent(path, (parent, name, where) => {
        symlinkSync(target, `/proc/self/fd/${parent}/${name}`);
        fchownat(parent, name, owner.uid, owner.gid, where);
        return true;
      }) ?? false
    );
  }

  /**
   * Runs `fn` with the parent directory of `path` held open (symlinks on the way followed inside the
   * tree, as the container would) and the last name, which `fn` must look up without following:
   * `/proc/self/fd/<parent>/<name>` with O_NOFOLLOW or lstat. Undefined when the parent is missing.
   */
  atEntry<T>(path: string, fn: (procPath: string, parent: number, name: string) => T): T | undefined {
    return this.#inParent(path, (parent, name) => fn(`/proc/self/fd/${parent}/${name}`, parent, name));
  }

  #inParent<T>(path: string, fn: (parent: number, name: string, where: string) => T): T | undefined {
    const rel = relativeInRoot(path);
    const name = posix.basename(rel);
    if (name === '.' || name === '..' || name === '') return undefined;
    const parent = this.openFd(posix.dirname(rel), O_PATH | O_DIRECTORY, 'container');
    if (parent === undefined) return undefined;
    try {
      return fn(parent, name, `${this.path}:${rel}`);
    } finally {
      closeSync(parent);
    }
  }

  #withFd<T>(
    path: string,
    flags: number,
    fn: (fd: number) => T,
    resolution: Resolution = 'entry',
  ): T | undefined {
    const fd = this.openFd(path, flags, resolution);
    if (fd === undefined) return undefined;
    try {
      return fn(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/** Opens the trees at `hostDirs` (absent ones as undefined), runs `fn`, closes them all. */
export function withTrees<T>(hostDirs: readonly string[], fn: (trees: (Tree | undefined)[]) => T): T {
  const trees: (Tree | undefined)[] = [];
  try {
    for (const dir of hostDirs) trees.push(Tree.open(dir));
    return fn(trees);
  } finally {
    for (const tree of trees) tree?.close();
  }
}

/** Opens the tree at `hostDir`, runs `fn` (with undefined when it is absent), closes it. */
export function withTree<T>(hostDir: string, fn: (tree: Tree | undefined) => T): T {
  return withTrees([hostDir], (trees) => fn(trees[0]));
}

/** getdents64's buffer, reused: the calls are synchronous. */
const direntBuf = Buffer.allocUnsafe(64 * 1024);

/** The entries of an open directory, read with getdents64 from the fd itself. */
function readEntries(fd: number, what: string): DirEntry[] {
  const entries: DirEntry[] = [];
  const buf = direntBuf;
  for (;;) {
    const n = getdents64(fd, buf);
    if (n < 0) throw new SysError('getdents64', -n, what);
    if (n === 0) return entries;
    // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
    for (let off = 0; off < n; ) {
      const reclen = buf.readUInt16LE(off + 16);
      const start = off + 19;
      let end = start;
      while (end < off + reclen && buf[end] !== 0) end++;
      const isDot =
        buf[start] === 0x2e && (end === start + 1 || (end === start + 2 && buf[start + 1] === 0x2e));
      if (!isDot)
        entries.push({ name: buf.toString('utf8', start, end), type: D_TYPES[buf[off + 18]!] ?? 'other' });
      off += reclen;
    }
  }
}
