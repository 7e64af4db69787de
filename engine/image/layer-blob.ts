// Turns an uncompressed layer tar into a stored blob in one pass: the tar is hashed (its diff_id) and
// stored as is (local layers, as Docker keeps them) or gzipped with fixed settings (push, load).

import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline, Transform } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { createGzip, constants as zlibConstants } from 'node:zlib';
import type { EngineContext } from '../context.ts';
import { type Digest, digestFromHash } from '../oci/digest.ts';
import { tempName } from '../store/atomic.ts';
import { openBlob, writeBlob } from '../store/blobs.ts';

/** Fixed so that the same tar always gives the same blob digest. */
export const GZIP_LEVEL = 6;

export interface LayerBlob {
  /** Digest and size of the compressed blob, as the manifest names it. */
  digest: Digest;
  size: number;
  /** Digest and size of the uncompressed tar, as the config's rootfs names it. */
  diffId: Digest;
  uncompressedSize: number;
}

/**
 * Gzip settings that make the output a function of the input alone. Node's zlib writes a header with
 * no file name and mtime 0, so only the level and memory settings need pinning.
 */
export function deterministicGzip() {
  return createGzip({
    level: GZIP_LEVEL,
    memLevel: 8,
    windowBits: 15,
    strategy: zlibConstants.Z_DEFAULT_STRATEGY,
  });
}

/**
 * Stores `tar` as a layer blob and returns both of its digests. `none` stores the tar itself (one
 * hash, no compression: the blob digest is the diff_id), as Docker keeps local layers; push gzips it.
 */
export async function writeLayerBlob(
  ctx: EngineContext,
  tar: Readable,
  onProgress?: (bytes: number) => void,
  compression: 'gzip' | 'none' = 'gzip',
): Promise<LayerBlob> {
  if (compression === 'none') {
    const blob = await writeBlob(ctx, tar, {}, onProgress);
    return { ...blob, diffId: blob.digest, uncompressedSize: blob.size };
  }
  const hashTar = digester();
  const gzip = deterministicGzip();
  let failure: Error | undefined;
  // pipeline destroys every stage when one fails, so the blob writer sees the error while iterating.
  pipeline(tar, hashTar.stream, gzip, (err) => {
    if (err) failure = err;
  });
  let blob: { digest: Digest; size: number };
  try {
    blob = await writeBlob(ctx, gzip, {}, onProgress);
  } catch (err) {
    throw failure ?? err;
  }
  if (failure) throw failure;
  return { ...blob, diffId: hashTar.digest(), uncompressedSize: hashTar.size() };
}

/** A gzip rendering of a stored uncompressed layer, in a temp file until `release()`. */
export interface CompressedLayer {
  digest: Digest;
  size: number;
  path: string;
  release(): Promise<void>;
}

/**
 * Gzips the stored uncompressed blob `digest` with the fixed settings into a temp file, hashing the
 * output as it is written: the same tar always gives the same digest, so pushes are reproducible.
 */
export async function compressLayerBlob(ctx: EngineContext, digest: Digest): Promise<CompressedLayer> {
  await mkdir(ctx.paths.tmp, { recursive: true });
  const path = join(ctx.paths.tmp, tempName('gzip'));
  const hashOut = digester();
  try {
    await pipelineAsync(
      openBlob(ctx, digest),
      deterministicGzip(),
      hashOut.stream,
      createWriteStream(path, { flags: 'wx' }),
      ctx.signal ? { signal: ctx.signal } : {},
    );
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
  return { digest: hashOut.digest(), size: hashOut.size(), path, release: () => rm(path, { force: true }) };
}

/** A pass-through stage that hashes and counts what flows through it: one pass gives both. */
function digester(): { stream: Transform; digest(): Digest; size(): number } {
  const hash = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  return { stream, digest: () => digestFromHash(hash), size: () => size };
}
