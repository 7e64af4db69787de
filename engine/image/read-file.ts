// Looks up one path in an image's unpacked layers without mounting them: the topmost layer that has
// the path, or a whiteout for it or for a directory above it, decides, as overlayfs would. Layers
// come from images anyone may build: each is read through engine/fs/in-root.ts, no symlink followed.

import type { Stats } from 'node:fs';
import type { EngineContext } from '../context.ts';
import { Tree } from '../fs/in-root.ts';
import { isWhiteout } from '../layer/diff.ts';
import { type Image, imageLayers } from '../oci/types.ts';
import { ensureLayer } from '../store/layers.ts';

export type ImagePathKind = 'file' | 'directory' | 'symlink' | 'other';

interface Found {
  kind: ImagePathKind;
  stats: Stats;
}

/** The most of one file `readImageFile` reads (an image's /etc/passwd, /etc/group). */
const MAX_READ_BYTES = 4 * 1024 * 1024;

/**
 * Where `path` lives in `image` (symlinks are not followed), or undefined when it does not exist;
 * with `read`, what the layer that has it gives for it (called while that layer is open).
 */
async function lookup<T>(
  ctx: EngineContext,
  image: Image,
  path: string,
  read: (layer: Tree, found: Found) => T,
): Promise<T | undefined> {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  for (const layer of imageLayers(image).reverse()) {
    const tree = Tree.open(await ensureLayer(ctx, layer));
    if (!tree) continue;
    try {
      // A whiteout of the path or of any directory above it hides everything below this layer.
      for (let i = 1; i < parts.length; i++) {
        const ancestor = tree.lstat(parts.slice(0, i).join('/'));
        if (ancestor && isWhiteout(ancestor)) return undefined;
      }
      const stats = tree.lstat(path);
      if (!stats) continue;
      if (isWhiteout(stats)) return undefined;
      const kind: ImagePathKind = stats.isDirectory()
        ? 'directory'
        : stats.isFile()
          ? 'file'
          : stats.isSymbolicLink()
            ? 'symlink'
            : 'other';
      return read(tree, { kind, stats });
    } finally {
      tree.close();
    }
  }
  return undefined;
}

/** Where `path` lives in `image` (symlinks are not followed), or undefined when it does not exist. */
export function findImagePath(ctx: EngineContext, image: Image, path: string): Promise<Found | undefined> {
  return lookup(ctx, image, path, (_layer, found) => found);
}

/** The text of `path` in `image`, or undefined when the image has no such regular file. */
export async function readImageFile(
  ctx: EngineContext,
  image: Image,
  path: string,
): Promise<string | undefined> {
  return lookup(ctx, image, path, (layer, found) =>
    found.kind === 'file' ? layer.readFile(path, MAX_READ_BYTES)?.bytes.toString('utf8') : undefined,
  );
}
