// Paths inside a container's rootfs, resolved on the host without escaping it: an image may hold
// `/etc -> /host/etc` or `../../..` symlinks, which must resolve against the container's root.

import { chownSync, lstatSync, mkdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '../errors.ts';

const MAX_SYMLINKS = 40;

/**
 * The host path of `path` inside `rootfs`, with every symlink on the way resolved as the container
 * would see it (absolute targets restart at `rootfs`, `..` stops at it). The last component is
 * followed too. Missing components are kept as they are, so the result may not exist.
 */
export function resolveInRootfs(rootfs: string, path: string): string {
  const pending = path.split('/').filter((p) => p !== '' && p !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const host = join(rootfs, ...resolved, part);
    let st: ReturnType<typeof lstatSync> | undefined;
    try {
      st = lstatSync(host);
    } catch {
      st = undefined;
    }
    if (st?.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) throw new InvalidArgumentError(`too many symlinks resolving ${path}`, path);
      const target = readlinkSync(host);
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    resolved.push(part);
  }
  return join(rootfs, ...resolved);
}

/** Reads a text file of the container (`/etc/passwd`), or undefined when it is absent. */
export function readRootfsFile(rootfs: string, path: string): string | undefined {
  try {
    return readFileSync(resolveInRootfs(rootfs, path), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw err;
  }
}

/**
 * `mkdir -p` inside the rootfs, as Docker does for a missing WorkingDir. New directories are owned
 * by the container's root, which is `owner` on the host (the user-namespace base).
 */
export function mkdirInRootfs(rootfs: string, path: string, owner: { uid: number; gid: number }): void {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  let current = '';
  for (const part of parts) {
    current = `${current}/${part}`;
    const host = resolveInRootfs(rootfs, current);
    let st: ReturnType<typeof lstatSync> | undefined;
    try {
      st = lstatSync(host);
    } catch {
      st = undefined;
    }
    if (st === undefined) {
      mkdirSync(host, { mode: 0o755 });
      chownSync(host, owner.uid, owner.gid);
    } else if (!st.isDirectory()) {
      throw new InvalidArgumentError(`working directory ${path}: ${current} is not a directory`, path);
    }
  }
}
