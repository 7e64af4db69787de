// A container's writable layer as the layer-stack picture draws it: every entry of the upper dir,
// what kind it is (a whiteout, an opaque dir), and for a copy-up the lower layer it was copied from.
// Bounded: a container that writes 100 000 files costs a capped walk, not a frozen server. The upper
// dir and the lowers are read through engine/fs/in-root.ts: nothing outside them is ever listed.

import { type Tree, withTrees } from '../../engine/fs/in-root.ts';
import { findPathOriginIn } from '../../engine/inspect/which-layer.ts';
import { isOpaqueDir, isWhiteout } from '../../engine/layer/diff.ts';
import type { Digest } from '../../engine/oci/digest.ts';

export type UpperKind = 'file' | 'dir' | 'symlink' | 'whiteout' | 'opaque' | 'other';

export interface UpperEntry {
  /** Absolute in the container: `/etc/passwd`. */
  path: string;
  kind: UpperKind;
  /** Bytes of a file (0 for the rest). */
  size: number;
  /** The topmost lower layer that has the same path: this entry is a copy-up of that one. */
  copiedUpFrom?: Digest;
  /** For a whiteout: the topmost lower layer whose entry it hides. */
  hides?: Digest;
}

export interface UpperTree {
  entries: UpperEntry[];
  /** Bytes in the upper dir (files, each hard-linked inode once): Docker's `SIZE` in `ps -s`. */
  size: number;
  /** The walk stopped at the cap: `entries` (and `size`) are partial. */
  truncated: boolean;
}

/** A lower dir of the container, top first, and the diff_id it is (undefined for the init layer). */
export interface LowerDir {
  dir: string;
  diffId?: Digest;
}

export const DEFAULT_MAX_ENTRIES = 2000;

/**
 * Lists `upperDir` depth first with names sorted, a directory before its contents (as `docker diff`
 * orders them). Each entry costs one lstat in the upper dir, plus lstats of that one path in the
 * lowers (never a walk of the image) to find what it was copied from.
 */
export function listUpper(
  upperDir: string,
  lowers: readonly LowerDir[],
  options: { maxEntries?: number } = {},
): UpperTree {
  // Only the image's layers say where an entry came from: the init layer holds the engine's mount
  // points (`/etc/hosts`, `/dev`, …), which the pictures do not show as a layer of the image.
  const layers = lowers.filter((l) => l.diffId !== undefined);
  return withTrees([upperDir, ...layers.map((l) => l.dir)], ([upper, ...lowerTrees]) =>
    upper ? walkUpper(upper, lowerTrees, layers, options.maxEntries ?? DEFAULT_MAX_ENTRIES) : emptyTree(),
  );
}

function emptyTree(): UpperTree {
  return { entries: [], size: 0, truncated: false };
}

function walkUpper(
  upper: Tree,
  lowerTrees: readonly (Tree | undefined)[],
  lowers: readonly LowerDir[],
  max: number,
): UpperTree {
  const tree = emptyTree();
  const seen = new Set<number>();
  const layerAt = (index: number): Digest | undefined => lowers[index]?.diffId;

  const walk = (rel: string): void => {
    // Gone (or no longer a directory) since it was listed: the next event says how.
    const names = upper.readdir(rel || '/');
    if (names === undefined) return;
    names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const name of names) {
      if (tree.entries.length >= max) {
        tree.truncated = true;
        return;
      }
      const path = `${rel}/${name}`;
      const st = upper.lstat(path);
      if (st === undefined) continue;
      if (isWhiteout(st)) {
        const below = findPathOriginIn(lowerTrees, path);
        const hides = below.found ? layerAt(below.index) : undefined;
        tree.entries.push({ path, kind: 'whiteout', size: 0, ...(hides ? { hides } : {}) });
        continue;
      }
      const below = findPathOriginIn(lowerTrees, path);
      const from = below.found ? layerAt(below.index) : undefined;
      const kind: UpperKind = st.isDirectory()
        ? isOpaqueDir(upper, path)
          ? 'opaque'
          : 'dir'
        : st.isFile()
          ? 'file'
          : st.isSymbolicLink()
            ? 'symlink'
            : 'other';
      let size = 0;
      if (st.isFile() || st.isSymbolicLink()) {
        size = st.size;
        if (st.nlink > 1 && seen.has(st.ino)) size = 0;
        else if (st.nlink > 1) seen.add(st.ino);
        tree.size += size;
      }
      // An opaque dir replaced the lower one (rm -r, then mkdir): nothing of it was copied up.
      const copied = from !== undefined && kind !== 'opaque';
      tree.entries.push({ path, kind, size, ...(copied ? { copiedUpFrom: from } : {}) });
      if (st.isDirectory()) walk(path);
    }
  };
  walk('');
  return tree;
}
