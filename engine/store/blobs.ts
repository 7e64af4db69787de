// Content-addressed blobs (manifests, configs, compressed layers) under `blobs/<alg>/<hex>`. A blob is
// written to `tmp/`, hashed and counted while it streams, fsynced and only then renamed into place,
// so a file under `blobs/` always holds exactly the bytes its name promises.

import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { EngineContext } from '../context.ts';
import {
  CancelledError,
  DigestMismatchError,
  NotFoundError,
  SizeExceededError,
  StoreError,
} from '../errors.ts';
import { type Digest, digestAlgorithm, digestFromHash, isDigest } from '../oci/digest.ts';
import { tempName } from './atomic.ts';
import { blobPath } from './paths.ts';

export interface BlobExpectation {
  /** The digest the content must have; the blob is refused otherwise. */
  digest?: Digest;
  /** The exact size the content must have. */
  size?: number;
  /** A cap when the size is not known up front (e.g. a manifest of unknown length). */
  maxSize?: number;
}

export async function hasBlob(ctx: EngineContext, digest: Digest): Promise<boolean> {
  try {
    return (await stat(blobPath(ctx.paths, digest))).isFile();
  } catch {
    return false;
  }
}

/** Size in bytes of a stored blob; NotFoundError when absent. */
export async function blobSize(ctx: EngineContext, digest: Digest): Promise<number> {
  try {
    return (await stat(blobPath(ctx.paths, digest))).size;
  } catch {
    throw noSuchBlob(digest);
  }
}

/**
 * Streams `source` into the store. The content is hashed and counted as it is written; a size over
 * `expect.size`/`expect.maxSize` stops the copy at once, and a digest or size mismatch deletes the
 * temp file and throws. Returns the digest and size of what was stored.
 */
export async function writeBlob(
  ctx: EngineContext,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  expect: BlobExpectation = {},
  onProgress?: (bytes: number) => void,
): Promise<{ digest: Digest; size: number }> {
  const algorithm = expect.digest ? digestAlgorithm(expect.digest) : 'sha256';
  const what = `blob ${expect.digest ?? ''}`.trim();
  const limit = expect.size ?? expect.maxSize;
  await mkdir(ctx.paths.tmp, { recursive: true });
  const tmp = join(ctx.paths.tmp, tempName('blob'));
  const hash = createHash(algorithm);
  let size = 0;
  let committed = false;
  try {
    const handle = await open(tmp, 'wx', 0o644);
    try {
      for await (const chunk of source) {
        if (ctx.signal?.aborted) throw new CancelledError(`writing ${what}`);
        size += chunk.byteLength;
        if (limit !== undefined && size > limit) throw new SizeExceededError(what, limit);
        hash.update(chunk);
        await handle.write(chunk);
        onProgress?.(size);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    const digest = digestFromHash(hash, algorithm);
    if (expect.digest && digest !== expect.digest) throw new DigestMismatchError(expect.digest, digest, what);
    if (expect.size !== undefined && size !== expect.size) {
      throw new StoreError(`${what}: size mismatch: expected ${expect.size} bytes, got ${size}`, {
        input: expect.digest,
      });
    }
    const target = blobPath(ctx.paths, digest);
    if (!existsSync(target)) {
      await mkdir(join(ctx.paths.blobs, algorithm), { recursive: true });
      // No fsync of the directory: it would only make the name durable sooner, and a blob lost with
      // its name is simply absent (pulled again), never wrong. The content was synced above, so a
      // name that survives always holds exactly its bytes.
      await rename(tmp, target);
      committed = true;
    }
    return { digest, size };
  } catch (err) {
    destroySource(source, err);
    throw err;
  } finally {
    if (!committed) await rm(tmp, { force: true });
  }
}

function destroySource(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, err: unknown): void {
  const stream = source as Partial<Readable>;
  if (typeof stream.destroy === 'function' && !stream.destroyed) stream.destroy(err as Error);
}

/** Stores bytes already in memory (manifests, configs). */
export function writeBlobBytes(
  ctx: EngineContext,
  bytes: Uint8Array,
  expect: BlobExpectation = {},
): Promise<{ digest: Digest; size: number }> {
  return writeBlob(ctx, [bytes], expect);
}

export async function readBlob(ctx: EngineContext, digest: Digest): Promise<Buffer> {
  try {
    return await readFile(blobPath(ctx.paths, digest));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw noSuchBlob(digest);
    throw err;
  }
}

/** A stream of a stored blob; throws NotFoundError at once when it is absent. */
export function openBlob(ctx: EngineContext, digest: Digest): Readable {
  const path = blobPath(ctx.paths, digest);
  if (!existsSync(path)) throw noSuchBlob(digest);
  return createReadStream(path);
}

export async function removeBlob(ctx: EngineContext, digest: Digest): Promise<void> {
  await rm(blobPath(ctx.paths, digest), { force: true });
}

/** Every stored blob's digest. */
export async function listBlobs(ctx: EngineContext): Promise<Digest[]> {
  const out: Digest[] = [];
  for (const algorithm of ['sha256', 'sha512']) {
    let names: string[];
    try {
      names = await readdir(join(ctx.paths.blobs, algorithm));
    } catch {
      continue;
    }
    for (const name of names) {
      const digest = `${algorithm}:${name}`;
      if (isDigest(digest)) out.push(digest);
    }
  }
  return out.sort();
}

export interface BlobCheck {
  checked: number;
  /** Blobs whose content no longer hashes to their name, with what they hash to now. */
  corrupt: { digest: Digest; actual: Digest }[];
}

/** Re-hashes every blob (for `system check`): bit rot or tampering shows up here. */
export async function verifyBlobs(ctx: EngineContext): Promise<BlobCheck> {
  const result: BlobCheck = { checked: 0, corrupt: [] };
  for (const digest of await listBlobs(ctx)) {
    if (ctx.signal?.aborted) throw new CancelledError('verifying blobs');
    const algorithm = digestAlgorithm(digest);
    const hash = createHash(algorithm);
    for await (const chunk of createReadStream(blobPath(ctx.paths, digest))) hash.update(chunk as Buffer);
    const actual = digestFromHash(hash, algorithm);
    result.checked++;
    if (actual !== digest) result.corrupt.push({ digest, actual });
  }
  return result;
}

/**
 * Removes leftovers of interrupted writes from `tmp/`. Only entries older than `olderThanMs`
 * (default one hour) go, so a write in progress in another engine process is left alone.
 */
export async function cleanupTemp(
  ctx: EngineContext,
  options: { olderThanMs?: number } = {},
): Promise<number> {
  const cutoff = Date.now() - (options.olderThanMs ?? 60 * 60 * 1000);
  let removed = 0;
  let names: string[];
  try {
    names = await readdir(ctx.paths.tmp);
  } catch {
    return 0;
  }
  for (const name of names) {
    const path = join(ctx.paths.tmp, name);
    try {
      if ((await stat(path)).mtimeMs > cutoff) continue;
    } catch {
      continue;
    }
    await rm(path, { recursive: true, force: true });
    removed++;
  }
  return removed;
}

function noSuchBlob(digest: Digest): NotFoundError {
  return new NotFoundError(`No such blob: ${digest}`, digest);
}
