// The image's `VOLUME`s, as Docker gives a container one anonymous volume per declared directory
// (moby daemon/create_unix.go, createContainerVolumesOS) filled from the image's content there
// (populateVolume, "copy-up"). Without volume support, each is an anonymous directory on the
// container's size-capped tmpfs (`rw/volumes/<n>`) bind-mounted at the path: its data lives and dies
// with the container (Docker keeps an anonymous volume until `rm -v` or `--rm`), never reaches the
// upper dir, and so never shows in `diff`, `commit` or `build`, which is the point a lesson makes.
// The mount point itself, when the image lacks the directory, is made by the runtime in the rootfs,
// as runc makes it for Docker, so `diff` lists it as `A /path` just as `docker diff` does.

import { execFile } from 'node:child_process';
import { chownSync, closeSync, existsSync, fstatSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { InvalidArgumentError, RuntimeError } from '../errors.ts';
import { withTree } from '../fs/in-root.ts';
import { O_PATH } from '../sys/libc.ts';

const run = promisify(execFile);

/** The declared volume paths of an image config, cleaned, absolute, sorted (Docker sorts mounts by depth). */
export function imageVolumes(volumes: Record<string, unknown> | null | undefined): string[] {
  const out = new Set<string>();
  for (const raw of Object.keys(volumes ?? {})) {
    const path = posix.normalize(raw);
    if (!path.startsWith('/')) {
      throw new InvalidArgumentError(`invalid volume specification: '${raw}': not an absolute path`, raw);
    }
    if (path !== '/') out.add(path);
  }
  return [...out].sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1));
}

export interface VolumeBind {
  source: string;
  destination: string;
}

/**
 * Makes (once) the anonymous directory of each volume under `dir`, filled from the image's content
 * at that path in the mounted rootfs `merged`, and returns the binds for the spec. Called before the
 * container's process runs, so the rootfs holds nothing but the image's files and earlier runs' own
 * changes; the path is still resolved in the rootfs by the kernel (engine/fs/in-root.ts), and the copy
 * reads through that fd, so a symlink in the image never makes it copy a host directory.
 */
export async function prepareVolumes(
  dir: string,
  merged: string,
  volumes: readonly string[],
  owner: number,
): Promise<VolumeBind[]> {
  const binds: VolumeBind[] = [];
  for (const [index, destination] of volumes.entries()) {
    const source = join(dir, String(index));
    if (!existsSync(source)) await createVolume(source, merged, destination, owner);
    binds.push({ source, destination });
  }
  return binds;
}

async function createVolume(
  source: string,
  merged: string,
  destination: string,
  owner: number,
): Promise<void> {
  mkdirSync(join(source, '..'), { recursive: true, mode: 0o711 });
  // Filled under a temp name and renamed: a start that fails half-way copies again next time.
  const partial = `${source}.partial`;
  rmSync(partial, { recursive: true, force: true });
  // Nothing in the image there: an empty directory owned by container root, as Docker's is.
  mkdirSync(partial, { mode: 0o755 });
  chownSync(partial, owner, owner);
  await copyImageDir(merged, destination, partial);
  renameSync(partial, source);
}

/**
 * Copies the image's directory at `destination` (resolved in the mounted rootfs `merged` by the
 * kernel, engine/fs/in-root.ts) into the existing directory `target`, as Docker fills a new volume
 * (its owner, mode and times too); false when the image has nothing there. A file there is refused.
 */
export async function copyImageDir(merged: string, destination: string, target: string): Promise<boolean> {
  const fd = withTree(merged, (tree) => tree?.openFd(destination, O_PATH, 'container'));
  if (fd === undefined) return false;
  try {
    if (!fstatSync(fd).isDirectory()) {
      throw new InvalidArgumentError(
        `cannot mount volume over existing file, file exists ${destination}`,
        destination,
      );
    }
    // cp reads the directory through our fd (/proc/<pid>/fd/<n>): no path in the rootfs is looked
    // up again. -a keeps owners, modes, times, links and xattrs, and never follows a symlink.
    await run('cp', ['-a', '--', `/proc/${process.pid}/fd/${fd}/.`, target], {
      // A host tool's own small environment: nothing of the server's reaches it.
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
    }).catch((err: Error & { stderr?: string }) => {
      throw new RuntimeError(
        `copying the image's ${destination} into its volume: ${err.stderr ?? err.message}`,
      );
    });
    return true;
  } finally {
    closeSync(fd);
  }
}
