// Looks up one path in an image's unpacked layers without mounting them: the topmost layer that has
// the path, or a whiteout for it or for a directory above it, decides, as overlayfs would.

import { lstat, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { EngineContext } from '../context.ts';
import { type Image, imageLayers } from '../oci/types.ts';
import { ensureLayer } from '../store/layers.ts';

export type ImagePathKind = 'file' | 'directory' | 'symlink' | 'other';

interface Found {
  kind: ImagePathKind;
  hostPath: string;
}

function isWhiteout(stats: { isCharacterDevice(): boolean; rdev: number }): boolean {
  // Overlay whiteouts are 0/0 character devices: the name was deleted in this layer.
  return stats.isCharacterDevice() && stats.rdev === 0;
}

async function lstatOrUndefined(path: string) {
  try {
    return await lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** Where `path` lives in `image` (symlinks are not followed), or undefined when it does not exist. */
export async function findImagePath(
  ctx: EngineContext,
  image: Image,
  path: string,
): Promise<Found | undefined> {
  const clean = posix.normalize(`/${path}`);
  const parts = clean.split('/').filter(Boolean);
  for (const layer of imageLayers(image).reverse()) {
    const dir = await ensureLayer(ctx, layer);
    // A whiteout of the path or of any directory above it hides everything below this layer.
    for (let i = 1; i < parts.length; i++) {
      const ancestor = await lstatOrUndefined(join(dir, ...parts.slice(0, i)));
      if (ancestor && isWhiteout(ancestor)) return undefined;
    }
    const stats = await lstatOrUndefined(join(dir, clean));
    if (!stats) continue;
    if (isWhiteout(stats)) return undefined;
    const kind: ImagePathKind = stats.isDirectory()
      ? 'directory'
      : stats.isFile()
        ? 'file'
        : stats.isSymbolicLink()
          ? 'symlink'
          : 'other';
    return { kind, hostPath: join(dir, clean) };
  }
  return undefined;
}

/** The text of `path` in `image`, or undefined when the image has no such regular file. */
export async function readImageFile(
  ctx: EngineContext,
  image: Image,
  path: string,
): Promise<string | undefined> {
  const found = await findImagePath(ctx, image, path);
  return found?.kind === 'file' ? readFile(found.hostPath, 'utf8') : undefined;
}
