// Reads one file out of an image's unpacked layers without mounting them: the topmost layer that
// has the path (or a whiteout for it) decides, as overlayfs would.

import { lstat, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { EngineContext } from '../context.ts';
import { type Image, imageLayers } from '../oci/types.ts';
import { ensureLayer } from '../store/layers.ts';

/** The text of `path` in `image`, or undefined when the image has no such regular file. */
export async function readImageFile(ctx: EngineContext, image: Image, path: string): Promise<string | undefined> {
  const clean = posix.normalize(`/${path}`);
  const layers = imageLayers(image).reverse();
  for (const layer of layers) {
    const dir = await ensureLayer(ctx, layer);
    const full = join(dir, clean);
    try {
      const stats = await lstat(full);
      // An overlay whiteout is a 0/0 character device: the file was deleted in this layer.
      if (stats.isCharacterDevice() && stats.rdev === 0) return undefined;
      if (stats.isFile()) return await readFile(full, 'utf8');
      return undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
    }
  }
  return undefined;
}
