// The few system calls Node has no API for (mount, umount2, mknod, xattrs on symlinks, flock, and the
// fd-relative calls behind engine/fs/in-root.ts: openat2, getdents64, readlinkat, fgetxattr,
// mkdirat, fchownat), bound from libc with koffi. Failures become `SysError` carrying errno's name
// and the path.
//
// Cost: loading koffi takes ~11 ms (measured on this machine: require 10.8 ms, libc + 8 functions
// 0.2 ms), so it is loaded on first use, not at import: CLI commands that never mount never pay it.

import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { LayerlabError } from '../errors.ts';

/** A failed system call: `errno` is the name (`EBUSY`), `syscall` the call, `input` the path. */
export class SysError extends LayerlabError {
  readonly errno: string;
  readonly errnoNumber: number;
  readonly syscall: string;
  constructor(syscall: string, errnoNumber: number, path: string) {
    const name = errnoName(errnoNumber);
    super('STORE', `${syscall} ${path}: ${name} (${describeErrno(name)})`, { input: path });
    this.syscall = syscall;
    this.errno = name;
    this.errnoNumber = errnoNumber;
  }
}

function errnoName(n: number): string {
  for (const [name, value] of Object.entries(constants.errno)) if (value === n) return name;
  return `errno ${n}`;
}

const DESCRIPTIONS: Record<string, string> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EBUSY: 'device or resource busy',
  EEXIST: 'file exists',
  EINVAL: 'invalid argument',
  ENOTDIR: 'not a directory',
  ENODATA: 'no data available',
  ENOTSUP: 'operation not supported',
  EOPNOTSUPP: 'operation not supported',
  ENOSPC: 'no space left on device',
  ERANGE: 'result too large',
  ENODEV: 'no such device',
  EWOULDBLOCK: 'resource temporarily unavailable',
  EAGAIN: 'resource temporarily unavailable',
  ELOOP: 'too many levels of symbolic links',
  EXDEV: 'invalid cross-device link',
  ENOSYS: 'function not implemented',
};

function describeErrno(name: string): string {
  return DESCRIPTIONS[name] ?? name.toLowerCase();
}

/** mount(2) flags used by the engine. */
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  REMOUNT: 0x20,
  BIND: 0x1000,
  REC: 0x4000,
  PRIVATE: 0x40000,
} as const;

/** umount2(2) flags. */
export const MNT = { FORCE: 0x1, DETACH: 0x2, EXPIRE: 0x4 } as const;
/** flock(2) operations. */
export const LOCK = { SH: 1, EX: 2, NB: 4, UN: 8 } as const;

/** openat2(2)'s `resolve` flags (linux/openat2.h). */
export const RESOLVE = {
  NO_XDEV: 0x01,
  NO_MAGICLINKS: 0x02,
  NO_SYMLINKS: 0x04,
  BENEATH: 0x08,
  IN_ROOT: 0x10,
} as const;

/** Open flags Node's `fs.constants` lacks; the same values on x86_64 and arm64. */
export const O_PATH = 0o10000000;
export const O_CLOEXEC = 0o2000000;
/** `*at` flags. */
export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_EMPTY_PATH = 0x1000;

/** openat2 is syscall 437 on every architecture (the unified table); glibc 2.36 has no wrapper. */
const SYS_OPENAT2 = 437;

interface Koffi {
  load(path: string): { func(definition: string): (...args: unknown[]) => unknown };
  errno(): number;
}

interface Bindings {
  koffi: Koffi;
  mount: (
    source: string | null,
    target: string,
    fstype: string | null,
    flags: number,
    data: string | null,
  ) => number;
  umount2: (target: string, flags: number) => number;
  mknod: (path: string, mode: number, dev: bigint) => number;
  lgetxattr: (path: string, name: string, value: Buffer | null, size: number) => number;
  lsetxattr: (path: string, name: string, value: Buffer, size: number, flags: number) => number;
  llistxattr: (path: string, list: Buffer | null, size: number) => number;
  flock: (fd: number, op: number) => number;
  syscall: (...args: unknown[]) => number | bigint;
  getdents64: (fd: number, buf: Buffer, size: number) => number;
  readlinkat: (dirfd: number, path: string, buf: Buffer, size: number) => number;
  fgetxattr: (fd: number, name: string, value: Buffer | null, size: number) => number;
  flistxattr: (fd: number, list: Buffer | null, size: number) => number;
  mkdirat: (dirfd: number, path: string, mode: number) => number;
  fchownat: (dirfd: number, path: string, uid: number, gid: number, flags: number) => number;
  getsockopt: (fd: number, level: number, name: number, value: Buffer, size: number[]) => number;
}

let bindings: Bindings | undefined;

function libc(): Bindings {
  if (bindings) return bindings;
  const koffi = createRequire(import.meta.url)('koffi') as Koffi;
  const lib = koffi.load('libc.so.6');
  const f = <T>(definition: string) => lib.func(definition) as unknown as T;
  bindings = {
    koffi,
    mount: f(
      'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
    ),
    umount2: f('int umount2(const char *target, int flags)'),
    mknod: f('int mknod(const char *path, uint32_t mode, uint64_t dev)'),
    lgetxattr: f('long lgetxattr(const char *path, const char *name, _Out_ uint8_t *value, size_t size)'),
    lsetxattr: f(
      'int lsetxattr(const char *path, const char *name, const uint8_t *value, size_t size, int flags)',
    ),
    llistxattr: f('long llistxattr(const char *path, _Out_ uint8_t *list, size_t size)'),
    flock: f('int flock(int fd, int op)'),
    syscall: f('long syscall(long number, ...)'),
    getdents64: f('long getdents64(int fd, _Out_ uint8_t *buf, size_t size)'),
    readlinkat: f('long readlinkat(int dirfd, const char *path, _Out_ uint8_t *buf, size_t size)'),
    fgetxattr: f('long fgetxattr(int fd, const char *name, _Out_ uint8_t *value, size_t size)'),
    flistxattr: f('long flistxattr(int fd, _Out_ uint8_t *list, size_t size)'),
    mkdirat: f('int mkdirat(int dirfd, const char *path, uint32_t mode)'),
    fchownat: f('int fchownat(int dirfd, const char *path, uint32_t uid, uint32_t gid, int flags)'),
    getsockopt: f(
      'int getsockopt(int fd, int level, int name, _Out_ uint8_t *value, _Inout_ uint32_t *size)',
    ),
  };
  return bindings;
}

function check(result: number, syscall: string, path: string): number {
  if (result < 0) throw new SysError(syscall, libc().koffi.errno(), path);
  return result;
}

export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags = 0,
  data: string | null = null,
): void {
  check(libc().mount(source, target, fstype, flags, data), 'mount', target);
}

export function umount2(target: string, flags = 0): void {
  check(libc().umount2(target, flags), 'umount2', target);
}

/** mknod(2); `dev` from `makedev(major, minor)`. Overlay whiteouts are character devices 0:0. */
export function mknod(path: string, mode: number, dev = 0n): void {
  check(libc().mknod(path, mode, dev), 'mknod', path);
}

export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}

/** The value of an extended attribute of `path` itself (not a symlink's target); undefined when absent. */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  const c = libc();
  for (;;) {
    const size = c.lgetxattr(path, name, null, 0);
    if (size < 0) {
      const errno = c.koffi.errno();
      if (errno === constants.errno.ENODATA) return undefined;
      throw new SysError('lgetxattr', errno, path);
    }
    const value = Buffer.alloc(size);
    const got = c.lgetxattr(path, name, value, size);
    if (got < 0 && c.koffi.errno() === constants.errno.ERANGE) continue; // grew in between
    check(got, 'lgetxattr', path);
    return value.subarray(0, got);
  }
}

export function lsetxattr(path: string, name: string, value: Buffer | string, flags = 0): void {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  check(libc().lsetxattr(path, name, bytes, bytes.length, flags), 'lsetxattr', path);
}

/** Names of the extended attributes of `path` itself. */
export function llistxattr(path: string): string[] {
  const c = libc();
  for (;;) {
    const size = check(c.llistxattr(path, null, 0), 'llistxattr', path);
    if (size === 0) return [];
    const list = Buffer.alloc(size);
    const got = c.llistxattr(path, list, size);
    if (got < 0 && c.koffi.errno() === constants.errno.ERANGE) continue;
    check(got, 'llistxattr', path);
    return list
      .subarray(0, got)
      .toString('latin1')
      .split('\0')
      .filter((n) => n.length > 0);
  }
}

/** flock(2) on an open fd; with LOCK.NB, returns false instead of waiting when the lock is held. */
export function flock(fd: number, op: number, path = `fd ${fd}`): boolean {
  const c = libc();
  if (c.flock(fd, op) === 0) return true;
  const errno = c.koffi.errno();
  if (errno === constants.errno.EWOULDBLOCK && (op & LOCK.NB) !== 0) return false;
  throw new SysError('flock', errno, path);
}

const openHow = Buffer.alloc(24);

/**
 * openat2(2): `path` resolved from `dirfd` under the `resolve` restrictions, in one step of the
 * kernel's, so nothing can be swapped between a check and the open. Returns the fd, or `-errno`
 * (callers tell a missing entry from a refused one without an exception per lookup).
 */
export function openat2(dirfd: number, path: string, flags: number, resolve: number, mode = 0): number {
  const c = libc();
  const how = openHow; // struct open_how { u64 flags; u64 mode; u64 resolve; }, reused: calls are synchronous
  how.writeBigUInt64LE(BigInt(flags), 0);
  how.writeBigUInt64LE(BigInt(mode), 8);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  const fd = Number(
    c.syscall(SYS_OPENAT2, 'int', dirfd, 'const char *', path, 'uint8_t *', how, 'size_t', how.length),
  );
  return fd < 0 ? -c.koffi.errno() : fd;
}

/** getdents64(2) into `buf`: the bytes filled (0 at the end), or `-errno`. */
export function getdents64(fd: number, buf: Buffer): number {
  const c = libc();
  const n = c.getdents64(fd, buf, buf.length);
  return n < 0 ? -c.koffi.errno() : n;
}

/** readlinkat(2); with `path` '' it reads the symlink an `O_PATH | O_NOFOLLOW` fd stands for. */
export function readlinkat(dirfd: number, path: string, what = path): Buffer {
  const c = libc();
  for (let size = 4096; ; size *= 4) {
    const buf = Buffer.alloc(size);
    const n = check(c.readlinkat(dirfd, path, buf, size), 'readlinkat', what);
    if (n < size) return buf.subarray(0, n);
  }
}

/** The value of extended attribute `name` of an open fd; undefined when absent. */
export function fgetxattr(fd: number, name: string, what = `fd ${fd}`): Buffer | undefined {
  const c = libc();
  for (;;) {
    const size = c.fgetxattr(fd, name, null, 0);
    if (size < 0) {
      const errno = c.koffi.errno();
      if (errno === constants.errno.ENODATA) return undefined;
      throw new SysError('fgetxattr', errno, what);
    }
    const value = Buffer.alloc(size);
    const got = c.fgetxattr(fd, name, value, size);
    if (got < 0 && c.koffi.errno() === constants.errno.ERANGE) continue;
    check(got, 'fgetxattr', what);
    return value.subarray(0, got);
  }
}

/** Names of the extended attributes of an open fd. */
export function flistxattr(fd: number, what = `fd ${fd}`): string[] {
  const c = libc();
  for (;;) {
    const size = check(c.flistxattr(fd, null, 0), 'flistxattr', what);
    if (size === 0) return [];
    const list = Buffer.alloc(size);
    const got = c.flistxattr(fd, list, size);
    if (got < 0 && c.koffi.errno() === constants.errno.ERANGE) continue;
    check(got, 'flistxattr', what);
    return list
      .subarray(0, got)
      .toString('latin1')
      .split('\0')
      .filter((n) => n.length > 0);
  }
}

/** mkdirat(2): `name` (one component) in the directory `dirfd`. */
export function mkdirat(dirfd: number, name: string, mode: number, what = name): void {
  check(libc().mkdirat(dirfd, name, mode), 'mkdirat', what);
}

/** fchownat(2) of `name` in `dirfd`, never following a symlink there. */
export function fchownat(dirfd: number, name: string, uid: number, gid: number, what = name): void {
  check(libc().fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW), 'fchownat', what);
}

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

/** The process at the other end of a connected unix socket, as the kernel recorded it at connect(). */
export function peerCredentials(fd: number): { pid: number; uid: number; gid: number } {
  const c = libc();
  const value = Buffer.alloc(12); // struct ucred: pid_t pid, uid_t uid, gid_t gid
  check(c.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, value, [value.length]), 'getsockopt', `fd ${fd}`);
  return { pid: value.readInt32LE(0), uid: value.readUInt32LE(4), gid: value.readUInt32LE(8) };
}
