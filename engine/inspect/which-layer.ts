// Where one path of an overlay's merged view comes from, found the way overlayfs finds it: the layer
// dirs are searched top first, and a whiteout or an opaque directory on the way hides what is below.
// Nothing is mounted or walked: one lookup per path component per layer, at most, each through
// engine/fs/in-root.ts (the layers and the upper dir are the container's: no symlink is followed).

import type { Stats } from 'node:fs';
import { posix } from 'node:path';
import { InvalidArgumentError } from '../errors.ts';
import { type Tree, withTrees } from '../fs/in-root.ts';
import { isOpaqueDir, isWhiteout } from '../layer/diff.ts';

export type EntryKind = 'file' | 'dir' | 'symlink' | 'other';

export type PathOrigin =
  /** The path is visible and comes from `dirs[index]`. */
  | { found: true; index: number; kind: EntryKind; stats: Stats }
  /**
   * The path is not visible. `deletedAt` is the layer whose whiteout (of the path or of a directory
   * above it) hides a lower copy; absent when no layer ever had it.
   */
  | { found: false; deletedAt?: number };

/** `/etc//passwd/` → `/etc/passwd`; `..` cannot climb above `/`. Rejects NUL and empty input. */
export function cleanContainerPath(path: string): string {
  if (path.length === 0 || path.length > 4096 || path.includes('\0')) {
    throw new InvalidArgumentError(`invalid path ${JSON.stringify(path.slice(0, 80))}`, path.slice(0, 80));
  }
  const clean = posix.normalize(`/${path}`);
  return clean.length > 1 && clean.endsWith('/') ? clean.slice(0, -1) : clean;
}

export function entryKind(st: Stats): EntryKind {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

/**
 * Which of `dirs` (overlay layers, top first: a container's upper dir, then its lowers) provides
 * `path` in the merged view. Symlinks are not followed, as `docker diff` does not follow them. To
 * read what was found, open that layer as a `Tree` and read `path` there: no host path is handed out.
 */
export function findPathOrigin(dirs: readonly string[], path: string): PathOrigin {
  return withTrees(dirs, (trees) => findPathOriginIn(trees, path));
}

/**
 * The same over trees already open (absent layers as undefined), for callers that look up many paths.
 *
 * In each layer, the directories above the path are checked first: a whiteout there deletes the
 * path, a non-directory there hides it (nothing below shows through a file), and an opaque one means
 * the layers further down cannot contribute. Then the path itself: a whiteout deletes it, an entry
 * provides it.
 */
export function findPathOriginIn(layers: readonly (Tree | undefined)[], path: string): PathOrigin {
  const clean = cleanContainerPath(path);
  if (clean === '/') {
    const st = layers[0]?.lstat('/');
    return st ? { found: true, index: 0, kind: 'dir', stats: st } : { found: false };
  }
  const parts = clean.split('/').filter(Boolean);
  for (const [index, layer] of layers.entries()) {
    if (layer === undefined) continue;
    let opaqueAbove = false;
    let missingAbove = false;
    for (let i = 1; i < parts.length; i++) {
      const ancestor = parts.slice(0, i).join('/');
      const st = layer.lstat(ancestor);
      if (st === undefined) {
        missingAbove = true;
        break;
      }
      if (isWhiteout(st)) return { found: false, deletedAt: index };
      // A file (or symlink) where a directory was: the path cannot exist here or below.
      if (!st.isDirectory()) return { found: false };
      if (isOpaqueDir(layer, ancestor)) opaqueAbove = true;
    }
    if (missingAbove) continue;
    const st = layer.lstat(clean);
    if (st !== undefined) {
      if (isWhiteout(st)) return { found: false, deletedAt: index };
      return { found: true, index, kind: entryKind(st), stats: st };
    }
    if (opaqueAbove) return { found: false };
  }
  return { found: false };
}
