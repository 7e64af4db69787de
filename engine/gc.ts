// Server-wide garbage collection of shared content. Session roots (`<root>/sessions/<id>`) share
// the root's blobs and unpacked layers, so their `rmi` only drops records; this deletes the blobs
// and layers that no image of any root and no container (running or not) references any more.

import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readAllRecords } from './container/record.ts';
import { createContext, type EngineContext } from './context.ts';
import { overlayLowerDirs } from './host/mounts.ts';
import { type Digest, isDigest } from './oci/digest.ts';
import { imageBlobs, imageLayers } from './oci/types.ts';
import { listBlobs, removeBlob } from './store/blobs.ts';
import { listImages, loadImage } from './store/images.ts';
import { layerDiffDir, removeLayer } from './store/layers.ts';
import { blobPath, layerPath, sessionsDir } from './store/paths.ts';

export interface GcResult {
  blobs: Digest[];
  layers: Digest[];
  bytes: number;
}

export interface GcOptions {
  /**
   * Content younger than this is kept even when unreferenced: a pull in progress has written its
   * blobs and layers before it records the image. Default 10 minutes.
   */
  graceMs?: number;
}

/** Every state root that shares `root`'s content: the root itself and each session root. */
async function contentUsers(root: string, config: EngineContext['config']): Promise<EngineContext[]> {
  const contexts = [createContext(root, { config })];
  let names: string[] = [];
  try {
    names = await readdir(sessionsDir(root));
  } catch {
    // no sessions dir: only the root
  }
  for (const name of names) {
    contexts.push(createContext(join(sessionsDir(root), name), { config, sharedContent: root }));
  }
  return contexts;
}

async function olderThan(path: string, cutoff: number): Promise<boolean> {
  try {
    return (await stat(path)).mtimeMs <= cutoff;
  } catch {
    return false;
  }
}

/**
 * Deletes the blobs and unpacked layers under `root` that nothing references: no image record of
 * the root or of any session root, no container's lower dirs, no mounted overlay.
 */
export async function collectGarbage(root: string, options: GcOptions = {}): Promise<GcResult> {
  const base = createContext(root);
  const cutoff = Date.now() - (options.graceMs ?? 10 * 60 * 1000);
  const keepBlobs = new Set<string>();
  const keepLayerDirs = overlayLowerDirs();
  for (const ctx of await contentUsers(root, base.config)) {
    for (const record of await listImages(ctx).catch(() => [])) {
      try {
        const image = await loadImage(ctx, record.id);
        for (const digest of imageBlobs(image)) keepBlobs.add(digest);
        for (const layer of imageLayers(image)) keepLayerDirs.add(layerDiffDir(base, layer.diffId));
      } catch {
        // a record whose blobs are already gone keeps nothing alive
      }
    }
    for (const container of await readAllRecords(ctx).catch(() => [])) {
      for (const dir of container.lowerDirs) keepLayerDirs.add(dir);
    }
  }

  const result: GcResult = { blobs: [], layers: [], bytes: 0 };
  for (const digest of await listBlobs(base)) {
    if (keepBlobs.has(digest)) continue;
    const path = blobPath(base.paths, digest);
    if (!(await olderThan(path, cutoff))) continue;
    result.bytes += (await stat(path).catch(() => ({ size: 0 }))).size;
    await removeBlob(base, digest);
    result.blobs.push(digest);
  }
  let layerNames: string[] = [];
  try {
    layerNames = await readdir(base.paths.layers);
  } catch {
    // no layers yet
  }
  for (const name of layerNames) {
    const diffId = `sha256:${name}`;
    if (!isDigest(diffId)) continue; // .tmp-* and strangers
    if (keepLayerDirs.has(layerDiffDir(base, diffId))) continue;
    if (!(await olderThan(layerPath(base.paths, diffId), cutoff))) continue;
    await removeLayer(base, diffId);
    result.layers.push(diffId);
  }
  return result;
}
