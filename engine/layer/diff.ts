// `docker diff`: what a container changed, read from its overlay upper dir alone. The image is never
// walked; whether a path "existed before" is one lstat per path in the lower dirs, top first.

import { type Dirent, lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { lgetxattr } from '../sys/libc.ts';

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

/** Whether overlayfs made this upper directory opaque (created over a deleted one, or `rm -r` + mkdir). */
export function isOpaqueDir(path: string): boolean {
  const value = lgetxattr(path, OPAQUE_XATTR);
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
  const out: Change[] = [];
  walk(upperDir, '', [...lowerDirs], out);
  return out;
}

/** The diff as Docker prints it: `A /hello.txt`, one per line. */
export function formatChanges(changes: readonly Change[]): string {
  return changes.map((c) => `${c.kind} ${c.path}\n`).join('');
}

function compareNames(a: Dirent, b: Dirent): number {
  return Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));
}

/**
 * Appends the changes under `rel` (`''` for the root, else `/etc`) to `out`. `lowers` are the lower
 * dirs in which `rel` is a visible directory, top first: a layer drops out where it lacks the
 * directory, and the layers beneath one where it is opaque or whited out are hidden. Once the list is
 * empty (a new or opaque directory) no lstat is spent on the contents.
 */
function walk(upperDir: string, rel: string, lowers: string[], out: Change[]): void {
  const entries = readdirSync(join(upperDir, rel), { withFileTypes: true }).sort(compareNames);
  for (const entry of entries) {
    const path = `${rel}/${entry.name}`;
    const full = join(upperDir, path);
    if (entry.isCharacterDevice() && isWhiteout(lstatSync(full))) {
      out.push({ kind: 'D', path });
      continue;
    }
    const below = lowerEntries(lowers, path);
    const existed = below.length > 0;
    if (!entry.isDirectory()) {
      out.push({ kind: existed ? 'C' : 'A', path });
      continue;
    }
    const opaque = isOpaqueDir(full);
    const childLowers = opaque ? [] : visibleDirs(below, path);
    const mark = out.length;
    out.push({ kind: existed ? 'C' : 'A', path });
    walk(upperDir, path, childLowers, out);
    const first = below[0];
    const untouched =
      first !== undefined &&
      !opaque &&
      out.length === mark + 1 &&
      first.st.isDirectory() &&
      sameDirMetadata(lstatSync(full), first.st);
    if (untouched) out.pop();
  }
}

interface LowerEntry {
  dir: string;
  st: Stats;
}

/** Where `path` exists in the visible lowers, top first, stopping at a whiteout or a non-directory. */
function lowerEntries(lowers: readonly string[], path: string): LowerEntry[] {
  const found: LowerEntry[] = [];
  for (const dir of lowers) {
    const st = lstatQuiet(join(dir, path));
    if (st === undefined) continue;
    if (isWhiteout(st)) break;
    found.push({ dir, st });
    if (!st.isDirectory()) break;
  }
  return found;
}

/** The lower dirs through which a directory's contents show: down to the first opaque one. */
function visibleDirs(below: readonly LowerEntry[], path: string): string[] {
  const dirs: string[] = [];
  for (const { dir, st } of below) {
    if (!st.isDirectory()) break;
    dirs.push(dir);
    if (isOpaqueDir(join(dir, path))) break;
  }
  return dirs;
}

/** `lstat`, or undefined when nothing is at `path` (a missing entry or a parent that is not a dir). */
export function lstatQuiet(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
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
