// `COPY --from=stage|image`: the sources are read from another image's layers (merged as overlayfs
// would: whiteouts and opaque directories hide what is below) and written into a scratch directory,
// which the ordinary COPY planner then reads as its context. Layers are read through
// engine/fs/in-root.ts, no symlink followed, so an image's links cannot point the copy elsewhere.

import type { Stats } from 'node:fs';
import {
  chmodSync,
  closeSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { join, posix } from 'node:path';
import type { EngineContext } from '../context.ts';
import { BuildError } from '../errors.ts';
import { Tree } from '../fs/in-root.ts';
import { isOpaqueDir, isWhiteout } from '../layer/diff.ts';
import { type Image, imageLayers } from '../oci/types.ts';
import { ensureLayer } from '../store/layers.ts';

interface Seen {
  tree: Tree;
  st: Stats;
}

/** Where `path` shows in `trees` (the layers where its parent is a visible directory), top first. */
function visible(trees: readonly Tree[], path: string): Seen[] {
  const out: Seen[] = [];
  for (const tree of trees) {
    const st = tree.lstat(path);
    if (st === undefined) continue;
    if (isWhiteout(st)) break;
    out.push({ tree, st });
    if (!st.isDirectory() || isOpaqueDir(tree, path)) break;
  }
  return out;
}

function copyFile(seen: Seen, path: string, dest: string): void {
  seen.tree.withFile(path, 'entry', (fd) => {
    const out = openSync(dest, 'w', 0o600);
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) writeSync(out, buf, 0, n);
    } finally {
      closeSync(out);
    }
  });
}

/** Copies the merged entry at `path` to the host path `dest`, with its mode and mtime. */
function copyEntry(seen: Seen[], path: string, dest: string): void {
  const top = seen[0]!;
  const { st } = top;
  if (st.isSymbolicLink()) {
    symlinkSync(top.tree.readlink(path) ?? '', dest);
  } else if (st.isDirectory()) {
    mkdirSync(dest, { mode: 0o700 });
    const trees = seen.map((s) => s.tree);
    const names = new Set(seen.flatMap((s) => s.tree.readdir(path) ?? []));
    for (const name of [...names].sort()) {
      const child = visible(trees, posix.join(path, name));
      if (child.length > 0) copyEntry(child, posix.join(path, name), join(dest, name));
    }
  } else if (st.isFile()) {
    copyFile(top, path, dest);
  } else {
    return; // devices and FIFOs are not copied out of an image
  }
  if (!st.isSymbolicLink()) chmodSync(dest, st.mode & 0o7777);
  lutimesSync(dest, st.atime, st.mtime);
}

/** The layers (top first) through which `path`'s directory shows, or undefined if it is not one. */
function descend(all: Tree[], path: string): Tree[] | undefined {
  let trees = all;
  let at = '/';
  for (const part of path.split('/').filter(Boolean)) {
    at = posix.join(at, part);
    const seen = visible(trees, at);
    if (seen.length === 0 || !seen[0]!.st.isDirectory()) return undefined;
    trees = seen.map((s) => s.tree);
  }
  return trees;
}

/**
 * Copies the `sources` (absolute paths in `image`, globs allowed in the last component) into
 * `scratchDir` at the same paths, so planCopy(scratchDir, sources, …) sees them as Docker would.
 */
export async function materialise(
  ctx: EngineContext,
  image: Image | null,
  sources: readonly string[],
  scratchDir: string,
): Promise<void> {
  const dirs: string[] = [];
  if (image) for (const layer of imageLayers(image).reverse()) dirs.push(await ensureLayer(ctx, layer));
  const trees = dirs.map((d) => Tree.open(d)).filter((t): t is Tree => t !== undefined);
  try {
    for (const source of sources) {
      const clean = posix.normalize(`/${source}`);
      const parent = posix.dirname(clean);
      const base = posix.basename(clean);
      const parentTrees = descend(trees, parent);
      const missing = () =>
        new BuildError(`COPY failed: stat ${clean}: file does not exist`, { input: source });
      if (parentTrees === undefined) throw missing();
      mkdirSync(join(scratchDir, parent), { recursive: true });
      const names = /[*?[]/.test(base)
        ? [...new Set(parentTrees.flatMap((t) => t.readdir(parent) ?? []))]
        : clean === '/'
          ? ['']
          : [base];
      for (const name of names) {
        const path = posix.join(parent, name);
        const seen =
          path === '/' ? trees.map((tree) => ({ tree, st: tree.lstat('/')! })) : visible(parentTrees, path);
        if (seen.length === 0) {
          if (names.length === 1 && !/[*?[]/.test(base)) throw missing();
          continue;
        }
        const dest = join(scratchDir, path);
        if (path === '/') {
          for (const n of new Set(trees.flatMap((t) => t.readdir('/') ?? []))) {
            const child = visible(trees, `/${n}`);
            if (child.length > 0) copyEntry(child, `/${n}`, join(scratchDir, n));
          }
        } else {
          copyEntry(seen, path, dest);
        }
      }
    }
  } finally {
    for (const t of trees) t.close();
  }
}
