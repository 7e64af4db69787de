// Paths inside a container's mounted rootfs, as the container sees them: an image may hold
// `/etc -> /host/etc` or `../../..` symlinks, and a running container can swap them while we look.
// Both are resolved by the kernel inside the rootfs (engine/fs/in-root.ts, `container` resolution):
// absolute targets restart at the rootfs, `..` stops at it, and no host path is ever handed out.

import { InvalidArgumentError } from '../errors.ts';
import { withTree } from '../fs/in-root.ts';

/** The most of /etc/passwd or /etc/group read: a container cannot make the engine read more. */
export const MAX_ROOTFS_FILE_BYTES = 4 * 1024 * 1024;

/** Reads a text file of the container (`/etc/passwd`), or undefined when it is absent. */
export function readRootfsFile(rootfs: string, path: string): string | undefined {
  return withTree(rootfs, (tree) =>
    tree?.readFile(path, MAX_ROOTFS_FILE_BYTES, 'container')?.bytes.toString('utf8'),
  );
}

/**
 * `mkdir -p` inside the rootfs, as Docker does for a missing WorkingDir. New directories are owned
 * by the container's root, which is `owner` on the host (the user-namespace base).
 */
export function mkdirInRootfs(rootfs: string, path: string, owner: { uid: number; gid: number }): void {
  const made = withTree(rootfs, (tree) => tree?.mkdirs(path, 0o755, owner) ?? false);
  if (!made) throw new InvalidArgumentError(`working directory ${path}: not a directory`, path);
}
