// An image's layers as the pictures name them (diff_id, position, the history line that made each),
// and a container's overlay stack (upper dir, init layer, image layers) labelled the same way.

import { basename, dirname } from 'node:path';
import type { ContainerRecord } from '../../engine/container/record.ts';
import { containerDir } from '../../engine/container/state.ts';
import type { EngineContext } from '../../engine/context.ts';
import { type Digest, isDigest } from '../../engine/oci/digest.ts';
import type { History, Image } from '../../engine/oci/types.ts';
import { rootfsPaths } from '../../engine/runtime/overlay.ts';
import { loadImage } from '../../engine/store/images.ts';

export interface LayerRef {
  diffId: Digest;
  /** Position in the image's `rootfs.diff_ids`: 0 is the base layer. */
  index: number;
  /** The history line that made the layer (`COPY index.html /app/`), when the image records one. */
  createdBy?: string;
}

/** One history line per layer, in layer order: history entries marked `empty_layer` made no layer. */
export function layerHistory(image: Image): (History | undefined)[] {
  const history = image.config.history ?? [];
  const withLayers = history.filter((h) => !h.empty_layer);
  return image.config.rootfs.diff_ids.map((_, i) => withLayers[i]);
}

/** The history steps that made no layer (`ENV`, `CMD`, …), for the picture's side notes. */
export function emptyHistory(image: Image): History[] {
  return (image.config.history ?? []).filter((h) => h.empty_layer);
}

export function imageLayerRefs(image: Image): LayerRef[] {
  const history = layerHistory(image);
  return image.config.rootfs.diff_ids.map((diffId, index) => {
    const createdBy = history[index]?.created_by;
    return { diffId, index, ...(createdBy !== undefined ? { createdBy } : {}) };
  });
}

/** One dir of a container's overlay stack, top first. */
export type StackEntry =
  | { dir: string; source: 'upper' }
  /** The per-container layer holding the runtime's mount points (/dev, /proc, /sys). */
  | { dir: string; source: 'init' }
  | { dir: string; source: 'layer'; layer: LayerRef };

/**
 * The container's overlay stack, top first: its upper dir, then its lowers. A lower is recognised as
 * an image layer by its path (`layers/<diff-id-hex>/diff`), so the stack is right even when the image
 * has since been removed (the history lines are then unknown).
 */
export async function containerStack(
  ctx: EngineContext,
  record: ContainerRecord,
  /** Images already loaded by the caller (the snapshot), to skip reading them again. */
  known?: ReadonlyMap<Digest, Image>,
): Promise<StackEntry[]> {
  const image = known?.get(record.imageId) ?? (await loadImage(ctx, record.imageId).catch(() => undefined));
  const refs = new Map<string, LayerRef>();
  if (image) for (const ref of imageLayerRefs(image)) refs.set(ref.diffId, ref);
  const upper = rootfsPaths(containerDir(ctx, record.id)).upper;
  const stack: StackEntry[] = [{ dir: upper, source: 'upper' }];
  const diffIds = image?.config.rootfs.diff_ids ?? [];
  for (const dir of record.lowerDirs) {
    const diffId = lowerDiffId(ctx, dir);
    if (diffId === undefined) {
      stack.push({ dir, source: 'init' });
      continue;
    }
    const layer = refs.get(diffId) ?? { diffId, index: diffIds.indexOf(diffId) };
    stack.push({ dir, source: 'layer', layer });
  }
  return stack;
}

/** `layers/<hex>/diff` under the store's layer dir → `sha256:<hex>`; anything else → undefined. */
function lowerDiffId(ctx: EngineContext, dir: string): Digest | undefined {
  if (basename(dir) !== 'diff' || dirname(dirname(dir)) !== ctx.paths.layers) return undefined;
  const diffId = `sha256:${basename(dirname(dir))}`;
  return isDigest(diffId) ? diffId : undefined;
}
