// `run --init`: Docker runs tini, bind-mounted read-only at /sbin/docker-init, as the container's
// PID 1 with the command as its child (`/sbin/docker-init -- CMD…`); Layerlab runs its own small
// init (native/init.c, built static by `make -C native`) the same way. The mount point is made in the
// container's init layer, beside those of /etc/hosts and friends, so that it never shows in `diff`,
// a commit or a build on top of one (Docker's runtime makes it in the writable layer instead: see
// docs/COMPATIBILITY.md). In an image whose /sbin is a symlink (`sbin -> usr/sbin`, usr-merged
// distributions) the mount point is where the link leads, as the runtime would resolve it.

import { execFileSync } from 'node:child_process';
import type { Stats } from 'node:fs';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  statSync,
  utimesSync,
} from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RuntimeError } from '../errors.ts';
import { type Tree, withTrees } from '../fs/in-root.ts';
import { isOpaqueDir, isWhiteout } from '../layer/diff.ts';

/** Where the init is in the container, as Docker puts it (moby daemon/oci_linux.go, inContainerInitPath). */
export const IN_CONTAINER_INIT_PATH = '/sbin/docker-init';

const NATIVE_DIR = fileURLToPath(new URL('../../native/', import.meta.url));
/** The host file mounted there, built by `make -C native` with the shim. */
export const INIT_BINARY_PATH = join(NATIVE_DIR, 'build', 'layerlab-init');

/** Builds the init when it is missing or older than its source (needs cc and make); returns its path. */
export function ensureInitBuilt(): string {
  const source = join(NATIVE_DIR, 'init.c');
  const stale =
    !existsSync(INIT_BINARY_PATH) ||
    (existsSync(source) && statSync(source).mtimeMs > statSync(INIT_BINARY_PATH).mtimeMs);
  if (stale) {
    try {
      execFileSync('make', ['-s', '-C', NATIVE_DIR, 'build/layerlab-init'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
      throw new RuntimeError(
        `--init: layerlab-init is not built and \`make -C native\` failed: ${stderr ?? err}`,
        {
          input: INIT_BINARY_PATH,
          cause: err,
        },
      );
    }
  }
  return INIT_BINARY_PATH;
}

/** The argv the container runs under --init: Docker's `docker-init -- PATH ARGS…`. */
export function initArgs(argv: readonly string[]): string[] {
  return [IN_CONTAINER_INIT_PATH, '--', ...argv];
}

/** The most symlinks followed while resolving the mount point, as the kernel's MAXSYMLINKS. */
const MAX_LINKS = 40;

/** An entry as the image's layers show it: the topmost visible one's stats, or undefined. */
function lookUp(trees: readonly Tree[], parent: string, path: string): Stats | undefined {
  for (const tree of trees) {
    const st = tree.lstat(path);
    if (st) return isWhiteout(st) ? undefined : st;
    // An opaque parent hides what the layers beneath hold under it.
    if (parent !== '' && isOpaqueDir(tree, parent)) return undefined;
  }
  return undefined;
}

/**
 * Where `path` lands in the container's view of the image's layers (`lowerDirs`, top first), as
 * container-relative components, with every symlink on the way followed inside the image (absolute
 * targets restart at its root, `..` stops there). Undefined when a non-directory is in the way or the
 * links loop: then no mount point is prepared, and the runtime reports the problem as it would.
 */
export function resolveInLayers(lowerDirs: readonly string[], path: string): string[] | undefined {
  return withTrees(lowerDirs, (opened) => {
    const trees = opened.filter((t): t is Tree => t !== undefined);
    const done: string[] = [];
    let pending = path.split('/');
    let links = 0;
    while (pending.length > 0) {
      const name = pending.shift()!;
      if (name === '' || name === '.') continue;
      if (name === '..') {
        done.pop();
        continue;
      }
      const st = lookUp(trees, done.join('/'), [...done, name].join('/'));
      if (st === undefined) {
        // Missing from here on: the rest is made as written.
        const rest = posix.normalize(`/${[name, ...pending].join('/')}`).slice(1);
        return [...done, ...rest.split('/').filter((p) => p !== '')];
      }
      if (st.isSymbolicLink()) {
        if (++links > MAX_LINKS) return undefined;
        const target = trees.map((t) => t.readlink([...done, name].join('/'))).find((t) => t !== undefined);
        if (target === undefined) return undefined;
        if (target.startsWith('/')) done.length = 0;
        pending = [...target.split('/'), ...pending];
        continue;
      }
      if (!st.isDirectory() && pending.some((p) => p !== '' && p !== '.')) return undefined;
      done.push(name);
    }
    return done;
  });
}

/**
 * Makes the mount point of the init in the init layer `initDir` (the container's own tmpfs: a
 * trusted path). The directories on the way copy the image's own mode, owner and times, so the
 * container sees its /sbin as the image has it; where the image has none they are made as the runtime
 * would (0755, container root). `mountPoint` comes from `resolveInLayers` at create.
 */
export function makeInitMountPoint(
  initDir: string,
  lowerDirs: readonly string[],
  mountPoint: readonly string[],
  rootUid: number,
): void {
  const times: [string, Stats][] = [];
  withTrees(lowerDirs, (opened) => {
    const trees = opened.filter((t): t is Tree => t !== undefined);
    for (let i = 1; i < mountPoint.length; i++) {
      const rel = mountPoint.slice(0, i).join('/');
      const dir = join(initDir, rel);
      const image = lookUp(trees, mountPoint.slice(0, i - 1).join('/'), rel);
      mkdirSync(dir, { recursive: true });
      if (image?.isDirectory()) {
        chownSync(dir, image.uid, image.gid);
        chmodSync(dir, image.mode & 0o7777);
        times.push([dir, image]);
      } else {
        chownSync(dir, rootUid, rootUid);
        chmodSync(dir, 0o755);
      }
    }
  });
  const file = join(initDir, ...mountPoint);
  closeSync(openSync(file, 'a', 0o755));
  chownSync(file, rootUid, rootUid);
  // Deepest first: making an entry in a directory moves its mtime.
  for (const [dir, image] of times.reverse()) utimesSync(dir, image.atime, image.mtime);
}
