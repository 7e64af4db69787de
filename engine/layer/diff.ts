// `docker diff`: what a container changed, read from its overlay upper dir alone. The image is never
// walked; whether a path "existed before" is one lstat per path in the lower dirs, top first. The
// upper dir is the container's, so it is read through engine/fs/in-root.ts (no symlink followed,
// nothing outside it reachable however it changes during the walk).

import type { Stats } from 'node:fs';
import { type Tree, withTrees } from '../fs/in-root.ts';

export type ChangeKind = 'A' | 'C' | 'D';

export interface Change {
  readonly kind: ChangeKind;
  /** Absolute path inside the container: `/etc/passwd`. */
  readonly path: string;
}

/** The xattr overlayfs sets on a directory whose lower contents it hides (`y`). */
export const OPAQUE_XATTR = 'trusted.overlay.opaque';

/** Overlayfs marks a deleted lower entry with a character device numbered 0/0 in the upper dir. */
export function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** Whether overlayfs made this directory of `tree` opaque (created over a deleted one, or `rm -r` + mkdir). */
export function isOpaqueDir(tree: Tree, path: string): boolean {
  const value = tree.dirXattr(path, OPAQUE_XATTR);
  return value !== undefined && value.length === 1 && value[0] === 0x79; // 'y'
}

/**
 * The changes in `upperDir` relative to `lowerDirs` (top layer first), in Docker's order: a
 * depth-first walk, names sorted bytewise, a directory before its contents.
 *
 * - a whiteout (char device 0/0) is `D`;
 * - an entry that also exists in a visible lower dir is `C`, else `A`;
 * - a directory that exists below is `C` when anything under it changed or its own metadata did
 *   (Docker lists `C /etc` above `A /etc/foo`); a copied-up directory with no change is omitted;
 * - an opaque directory (its lower contents hidden) is `C` when it existed below, `A` otherwise, and
 *   everything inside it is `A`: the hidden lower contents are not listed one by one.
 */
export function diffUpper(upperDir: string, lowerDirs: readonly string[]): Change[] {
  return withTrees([upperDir, ...lowerDirs], ([upper, ...lowers]) => {
    const out: Change[] = [];
    if (upper)
      walk(
        upper,
        '',
        lowers.filter((l): l is Tree => l !== undefined),
        out,
      );
    return out;
  });
}

/** The diff as Docker prints it: `A /hello.txt`, one per line. */
export function formatChanges(changes: readonly Change[]): string {
  return changes.map((c) => `${c.kind} ${c.path}\n`).join('');
}

function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Appends the changes under `rel` (`''` for the root, else `/etc`) to `out`. `lowers` are the lower
 * dirs in which `rel` is a visible directory, top first: a layer drops out where it lacks the
 * directory, and the layers beneath one where it is opaque or whited out are hidden. Once the list is
 * empty (a new or opaque directory) no lstat is spent on the contents.
 */
function walk(upper: Tree, rel: string, lowers: Tree[], out: Change[]): void {
  // Gone (or swapped for a symlink) since it was listed: what it holds is no longer in the view.
  const entries = (upper.entries(rel || '/') ?? []).sort((a, b) => compareNames(a.name, b.name));
  for (const entry of entries) {
    const path = `${rel}/${entry.name}`;
    // The listing's type spares an lstat per plain file; whiteouts and directories need one.
    const plain = entry.type === 'file' || entry.type === 'symlink' || entry.type === 'other';
    const st = plain ? undefined : upper.lstat(path);
    if (!plain && st === undefined) continue; // removed since the listing
    if (st && isWhiteout(st)) {
      out.push({ kind: 'D', path });
      continue;
    }
    const below = lowerEntries(lowers, path);
    const existed = below.length > 0;
    if (!st?.isDirectory()) {
      out.push({ kind: existed ? 'C' : 'A', path });
      continue;
    }
    const opaque = isOpaqueDir(upper, path);
    const childLowers = opaque ? [] : visibleDirs(below, path);
    const mark = out.length;
    out.push({ kind: existed ? 'C' : 'A', path });
    walk(upper, path, childLowers, out);
    const first = below[0];
    const untouched =
      first !== undefined &&
      !opaque &&
      out.length === mark + 1 &&
      first.st.isDirectory() &&
      sameDirMetadata(st, first.st);
    if (untouched) out.pop();
  }
}

interface LowerEntry {
  dir: Tree;
  st: Stats;
}

/** Where `path` exists in the visible lowers, top first, stopping at a whiteout or a non-directory. */
function lowerEntries(lowers: readonly Tree[], path: string): LowerEntry[] {
  const found: LowerEntry[] = [];
  for (const dir of lowers) {
    const st = dir.lstat(path);
    if (st === undefined) continue;
    if (isWhiteout(st)) break;
    found.push({ dir, st });
    if (!st.isDirectory()) break;
  }
  return found;
}

/** The lower dirs through which a directory's contents show: down to the first opaque one. */
function visibleDirs(below: readonly LowerEntry[], path: string): Tree[] {
  const dirs: Tree[] = [];
  for (const { dir, st } of below) {
    if (!st.isDirectory()) break;
    dirs.push(dir);
    if (isOpaqueDir(dir, path)) break;
  }
  return dirs;
}

/** A directory copied up without being touched keeps its lower mode, owner and mtime. */
function sameDirMetadata(upper: Stats, lower: Stats): boolean {
  return (
    upper.mode === lower.mode &&
    upper.uid === lower.uid &&
    upper.gid === lower.gid &&
    upper.mtimeMs === lower.mtimeMs
  );
}
