// Whether an image in the store conforms to the OCI image spec: its documents (oci/conformance.ts)
// and the bytes the store holds for them (digests, sizes, diff_ids, history against layers).

import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import type { EngineContext } from '../context.ts';
import { StoreError } from '../errors.ts';
import { checkConfig, checkManifest } from '../oci/conformance.ts';
import { type Digest, digestFromHash, sha256 } from '../oci/digest.ts';
import { layerCompression } from '../oci/media-types.ts';
import type { Image } from '../oci/types.ts';
import { hasBlob, openBlob, readBlob } from '../store/blobs.ts';

/** Digest and size of a blob as stored. */
async function hashBlob(ctx: EngineContext, digest: Digest): Promise<{ digest: Digest; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of openBlob(ctx, digest)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: digestFromHash(hash), size };
}

/** Digest of a layer's uncompressed tar (its diff_id as it should be). */
async function hashUncompressed(ctx: EngineContext, digest: Digest, mediaType: string): Promise<Digest> {
  const hash = createHash('sha256');
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback();
    },
  });
  const compression = layerCompression(mediaType);
  if (compression === 'gzip') await pipeline(openBlob(ctx, digest), createGunzip(), sink);
  else if (compression === 'zstd') await pipeline(openBlob(ctx, digest), createZstdDecompress(), sink);
  else await pipeline(openBlob(ctx, digest), sink);
  return digestFromHash(hash);
}

/**
 * Every problem with `image` as stored: document shapes, blob digests and sizes, diff_ids against the
 * uncompressed layers, and history against the layer count. An empty list means it conforms.
 */
export async function checkImage(ctx: EngineContext, image: Image): Promise<string[]> {
  const problems: string[] = [];
  const manifestBytes = await readBlob(ctx, image.manifestDigest);
  if (sha256(manifestBytes) !== image.manifestDigest)
    problems.push('manifest: blob does not match its digest');
  let manifest: unknown;
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8'));
  } catch {
    return [...problems, 'manifest: not JSON'];
  }
  problems.push(...checkManifest(manifest));
  if (problems.length > 0) return problems;
  const m = manifest as {
    config: { digest: Digest; size: number };
    layers: { digest: Digest; size: number; mediaType: string }[];
  };

  if (m.config.digest !== image.id)
    problems.push(`manifest.config.digest: ${m.config.digest} is not the image id ${image.id}`);
  const configBytes = await readBlob(ctx, m.config.digest);
  if (sha256(configBytes) !== m.config.digest) problems.push('config: blob does not match its digest');
  if (configBytes.length !== m.config.size) {
    problems.push(`manifest.config.size: ${m.config.size}, blob has ${configBytes.length} bytes`);
  }
  let config: unknown;
  try {
    config = JSON.parse(configBytes.toString('utf8'));
  } catch {
    return [...problems, 'config: not JSON'];
  }
  problems.push(...checkConfig(config));
  if (problems.length > 0) return problems;
  const c = config as { rootfs: { diff_ids: Digest[] }; history?: { empty_layer?: boolean }[] };

  if (c.rootfs.diff_ids.length !== m.layers.length) {
    problems.push(
      `config.rootfs.diff_ids: ${c.rootfs.diff_ids.length} entries for ${m.layers.length} layers`,
    );
  }
  if (c.history !== undefined) {
    const nonEmpty = c.history.filter((h) => h.empty_layer !== true).length;
    if (nonEmpty !== m.layers.length) {
      problems.push(`config.history: ${nonEmpty} non-empty entries for ${m.layers.length} layers`);
    }
  }
  for (const [i, layer] of m.layers.entries()) {
    if (!(await hasBlob(ctx, layer.digest))) {
      problems.push(`manifest.layers[${i}]: blob ${layer.digest} is not in the store`);
      continue;
    }
    const hashed = await hashBlob(ctx, layer.digest);
    if (hashed.digest !== layer.digest)
      problems.push(`manifest.layers[${i}]: blob does not match its digest`);
    if (hashed.size !== layer.size)
      problems.push(`manifest.layers[${i}].size: ${layer.size}, blob has ${hashed.size} bytes`);
    const diffId = c.rootfs.diff_ids[i];
    try {
      const actual = await hashUncompressed(ctx, layer.digest, layer.mediaType);
      if (diffId !== undefined && actual !== diffId) {
        problems.push(`config.rootfs.diff_ids[${i}]: ${diffId}, uncompressed layer is ${actual}`);
      }
    } catch (err) {
      problems.push(`manifest.layers[${i}]: cannot decompress: ${(err as Error).message}`);
    }
  }
  return problems;
}

/** Throws a `StoreError` listing every problem when `image` does not conform to the OCI image spec. */
export async function validateImage(ctx: EngineContext, image: Image): Promise<void> {
  const problems = await checkImage(ctx, image);
  if (problems.length > 0) {
    throw new StoreError(
      `image ${image.id} does not conform to the OCI image spec:\n  ${problems.join('\n  ')}`,
      {
        input: image.id,
      },
    );
  }
}
