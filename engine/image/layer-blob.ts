// Turns an uncompressed layer tar into a stored blob in one pass: the tar is hashed (its diff_id),
// gzipped with fixed settings, and the gzip stream is hashed and written by the blob store.

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline, Transform } from 'node:stream';
import { createGzip, constants as zlibConstants } from 'node:zlib';
import type { EngineContext } from '../context.ts';
import { type Digest, digestFromHash } from '../oci/digest.ts';
import { writeBlob } from '../store/blobs.ts';

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

/** Stores `tar` as a gzip layer blob and returns both of its digests. */
export async function writeLayerBlob(
  ctx: EngineContext,
  tar: Readable,
  onProgress?: (bytes: number) => void,
): Promise<LayerBlob> {
  const tarHash = createHash('sha256');
  let uncompressedSize = 0;
  const hashTar = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      tarHash.update(chunk);
      uncompressedSize += chunk.length;
      callback(null, chunk);
    },
  });
  const gzip = deterministicGzip();
  let failure: Error | undefined;
  // pipeline destroys every stage when one fails, so the blob writer sees the error while iterating.
  pipeline(tar, hashTar, gzip, (err) => {
    if (err) failure = err;
  });
  let blob: { digest: Digest; size: number };
  try {
    blob = await writeBlob(ctx, gzip, {}, onProgress);
  } catch (err) {
    throw failure ?? err;
  }
  if (failure) throw failure;
  return { ...blob, diffId: digestFromHash(tarHash), uncompressedSize };
}
