// The per-root cap on stored layer bytes (`limits.storedLayerBytes`, set per session by the server):
// a root's usage is the size of every distinct layer its image records reference (unpacked size when
// known, as `docker images` shows it), so a layer shared by ten of its images counts once and an image
// removed with `docker rmi` frees its share. Checked before an image is recorded (commit, build steps,
// pull, load) and, for a pull, before any layer is downloaded.

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { EngineContext } from '../context.ts';
import { ConflictError } from '../errors.ts';
import { humanSize } from '../format/text.ts';
import type { Digest } from '../oci/digest.ts';
import type { Image } from '../oci/types.ts';
import { readJsonIfExists } from './atomic.ts';
import { readBlob } from './blobs.ts';
import { readLayerInfo } from './layers.ts';

/** One layer an image references: its diff_id and the bytes it takes. */
export interface LayerUsage {
  diffId: Digest;
  size: number;
}

/** The layers of `image`, sized by their unpacked size when the layer is unpacked, else the blob's. */
export async function imageLayerUsage(ctx: EngineContext, image: Image): Promise<LayerUsage[]> {
  const out: LayerUsage[] = [];
  for (const [i, layer] of image.manifest.layers.entries()) {
    const diffId = image.config.rootfs.diff_ids[i];
    if (!diffId) continue;
    const info = await readLayerInfo(ctx, diffId);
    out.push({ diffId, size: info?.size ?? layer.size });
  }
  return out;
}

/** Distinct layers referenced by the root's image records, by diff_id. */
async function storedLayers(ctx: EngineContext): Promise<Map<Digest, number>> {
  const layers = new Map<Digest, number>();
  const names = await readdir(ctx.paths.images).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    const record = (await readJsonIfExists(join(ctx.paths.images, name))) as
      | { manifestDigest?: Digest }
      | undefined;
    if (!record?.manifestDigest) continue;
    let manifest: { layers?: { size?: number }[] };
    let config: { rootfs?: { diff_ids?: Digest[] } };
    try {
      manifest = JSON.parse((await readBlob(ctx, record.manifestDigest)).toString('utf8'));
      const configDigest = (manifest as { config?: { digest?: Digest } }).config?.digest;
      if (!configDigest) continue;
      config = JSON.parse((await readBlob(ctx, configDigest)).toString('utf8'));
    } catch {
      continue; // a record whose blobs are gone holds no bytes (system check reports it)
    }
    for (const [i, diffId] of (config.rootfs?.diff_ids ?? []).entries()) {
      if (layers.has(diffId)) continue;
      const info = await readLayerInfo(ctx, diffId);
      layers.set(diffId, info?.size ?? manifest.layers?.[i]?.size ?? 0);
    }
  }
  return layers;
}

/** Bytes of layers the root's images hold now. */
export async function storedLayerBytes(ctx: EngineContext): Promise<number> {
  let total = 0;
  for (const size of (await storedLayers(ctx)).values()) total += size;
  return total;
}

/**
 * Refuses when the root's images together with `incoming` layers would hold more than the limit.
 * Layers the root already references cost nothing more.
 */
export async function assertLayerQuota(ctx: EngineContext, incoming: readonly LayerUsage[]): Promise<void> {
  const max = ctx.config.limits.storedLayerBytes;
  if (max === undefined) return;
  const layers = await storedLayers(ctx);
  let current = 0;
  for (const size of layers.values()) current += size;
  let total = current;
  for (const layer of incoming) {
    if (layers.has(layer.diffId)) continue;
    layers.set(layer.diffId, layer.size);
    total += layer.size;
  }
  if (total > max) {
    throw new ConflictError(
      `storage quota exceeded: this session's images hold ${humanSize(current)} of layers and this would add ${humanSize(total - current)} (limit ${humanSize(max)}); remove images with \`docker rmi\` or \`docker image prune\``,
    );
  }
}
