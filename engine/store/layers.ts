// Unpacked layers under `layers/<diff-id-hex>/`: `diff/` (an overlayfs lowerdir) and `layer.json`.
// A layer is unpacked into `layers/.tmp-*` and renamed into place whole, so a directory named by a
// diff_id is always complete and verified; a crashed unpack leaves only a `.tmp-*` dir nobody uses.

import { randomBytes } from 'node:crypto';
import { readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { EngineContext } from '../context.ts';
import { DigestMismatchError, InvalidArgumentError } from '../errors.ts';
import { IN_PROCESS_BYTES, unpackLayer } from '../layer/unpack.ts';
import { type Digest, digestHex, isDigest } from '../oci/digest.ts';
import { layerCompression } from '../oci/media-types.ts';
import type { Layer } from '../oci/types.ts';
import { readJsonIfExists, syncDir } from './atomic.ts';
import { openBlob } from './blobs.ts';
import { layerPath } from './paths.ts';

export interface LayerInfo {
  diffId: Digest;
  /** The compressed blob it was unpacked from. */
  digest: Digest;
  mediaType: string;
  /** Bytes of file content once unpacked (what `docker images` adds up as SIZE). */
  size: number;
  entries: number;
  unpackedAt: string;
}

export function layerDiffDir(ctx: EngineContext, diffId: Digest): string {
  return join(layerPath(ctx.paths, diffId), 'diff');
}

export async function layerExists(ctx: EngineContext, diffId: Digest): Promise<boolean> {
  try {
    return (await stat(join(layerPath(ctx.paths, diffId), 'layer.json'))).isFile();
  } catch {
    return false;
  }
}

export async function readLayerInfo(ctx: EngineContext, diffId: Digest): Promise<LayerInfo | undefined> {
  return (await readJsonIfExists(join(layerPath(ctx.paths, diffId), 'layer.json'))) as LayerInfo | undefined;
}

export async function listLayers(ctx: EngineContext): Promise<LayerInfo[]> {
  let names: string[];
  try {
    names = await readdir(ctx.paths.layers);
  } catch {
    return [];
  }
  const out: LayerInfo[] = [];
  for (const name of names) {
    const diffId = `sha256:${name}`;
    if (!isDigest(diffId)) continue;
    const info = await readLayerInfo(ctx, diffId);
    if (info) out.push(info);
  }
  return out;
}

// Callers in this process that want the same layer share one unpack.
const inFlight = new Map<string, Promise<string>>();

/**
 * Returns the `diff/` dir of `layer`, unpacking its blob (which must be in the store) first when
 * needed and checking that the uncompressed stream hashes to the layer's diff_id. Safe to call
 * concurrently, in this process and across processes: the first rename wins, the rest discard.
 */
export function ensureLayer(ctx: EngineContext, layer: Layer): Promise<string> {
  const key = `${ctx.root}\0${layer.diffId}`;
  let pending = inFlight.get(key);
  if (!pending) {
    pending = unpackOnce(ctx, layer).finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  return pending;
}

/**
 * Unpacks `layer` from `source`, the blob's bytes as they arrive from the registry, while the same
 * bytes are being stored (pull tees the download): the layer is only renamed into place once
 * `stored` resolves, i.e. once the blob store has verified the blob's digest and size. When the layer
 * is already there or being unpacked, `source` is drained and that result shared.
 */
export function ensureLayerFrom(
  ctx: EngineContext,
  layer: Layer,
  source: Readable,
  stored: Promise<unknown>,
): Promise<string> {
  const key = `${ctx.root}\0${layer.diffId}`;
  const pending = inFlight.get(key);
  if (pending) {
    source.resume();
    return pending;
  }
  const mine = unpackOnce(ctx, layer, { source, stored }).finally(() => inFlight.delete(key));
  inFlight.set(key, mine);
  return mine;
}

async function unpackOnce(
  ctx: EngineContext,
  layer: Layer,
  from?: { source: Readable; stored: Promise<unknown> },
): Promise<string> {
  const { diffId, descriptor } = layer;
  const final = layerPath(ctx.paths, diffId);
  if (await layerExists(ctx, diffId)) {
    from?.source.resume();
    return join(final, 'diff');
  }
  const compression = layerCompression(descriptor.mediaType);
  if (compression === undefined) {
    from?.source.destroy();
    throw new InvalidArgumentError(
      `unsupported layer media type ${descriptor.mediaType}`,
      descriptor.mediaType,
    );
  }
  const tmp = join(
    ctx.paths.layers,
    `.tmp-${digestHex(diffId).slice(0, 12)}-${randomBytes(6).toString('hex')}`,
  );
  try {
    const source = from?.source ?? openBlob(ctx, descriptor.digest);
    const result = await unpackLayer(ctx, source, compression, join(tmp, 'diff'), {
      inProcessBytes: IN_PROCESS_BYTES,
    });
    if (result.diffId !== diffId) {
      throw new DigestMismatchError(diffId, result.diffId, `layer ${descriptor.digest} (diff_id)`);
    }
    // Unpacked from bytes still in flight: only a verified blob makes the layer real.
    await from?.stored;
    const info: LayerInfo = {
      diffId,
      digest: descriptor.digest,
      mediaType: descriptor.mediaType,
      size: result.size,
      entries: result.entries,
      unpackedAt: new Date().toISOString(),
    };
    // The directory is renamed into place and the parent fsynced below; layer.json needs no own fsync
    // round (a crash before the parent's fsync loses the whole layer, which is re-unpacked).
    await writeFile(join(tmp, 'layer.json'), `${JSON.stringify(info, null, 2)}\n`);
    try {
      await rename(tmp, final);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Another unpacker got there first: its copy is as good as ours.
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !(await layerExists(ctx, diffId))) throw err;
      await rm(tmp, { recursive: true, force: true });
    }
    await syncDir(ctx.paths.layers);
    return join(final, 'diff');
  } catch (err) {
    from?.source.destroy();
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Removes an unpacked layer: renamed aside first, so no half-deleted layer is ever seen as whole. */
export async function removeLayer(ctx: EngineContext, diffId: Digest): Promise<void> {
  const aside = join(ctx.paths.layers, `.tmp-rm-${randomBytes(6).toString('hex')}`);
  try {
    await rename(layerPath(ctx.paths, diffId), aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  await rm(aside, { recursive: true, force: true });
}

/** Removes `layers/.tmp-*` left by crashed unpacks or removals older than `olderThanMs` (default 1 h). */
export async function cleanupLayerTemps(
  ctx: EngineContext,
  options: { olderThanMs?: number } = {},
): Promise<number> {
  const cutoff = Date.now() - (options.olderThanMs ?? 60 * 60 * 1000);
  let names: string[];
  try {
    names = await readdir(ctx.paths.layers);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith('.tmp-')) continue;
    const path = join(ctx.paths.layers, name);
    try {
      if ((await stat(path)).mtimeMs > cutoff) continue;
    } catch {
      continue;
    }
    // An orphaned tar of a killed engine may still be finishing its last entries in there.
    await rm(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    removed++;
  }
  return removed;
}
