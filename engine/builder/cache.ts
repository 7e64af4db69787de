// The build cache: (parent image, instruction, content of COPY sources) → the image that step made.
// A hit is used only while that image is still in the store; `--no-cache` skips lookups.

import { join } from 'node:path';
import type { EngineContext } from '../context.ts';
import { type Digest, sha256 } from '../oci/digest.ts';
import { readJsonIfExists, writeFileAtomic } from '../store/atomic.ts';
import { withLock } from '../store/lock.ts';

export interface CacheEntry {
  key: string;
  imageId: Digest;
  parent: Digest | 'scratch';
  instruction: string;
}

// store/paths.ts has no entry for the cache (asked for one); the file sits beside repositories.json.
function cacheFile(ctx: EngineContext): string {
  return join(ctx.paths.root, 'build-cache.json');
}

/** The cache key of one step. `contentHash` is the diff_id of a COPY/ADD layer, else empty. */
export function cacheKey(parent: Digest | 'scratch', instruction: string, contentHash = ''): string {
  return sha256(`${parent}\n${instruction}\n${contentHash}`);
}

export async function buildCacheEntries(ctx: EngineContext): Promise<CacheEntry[]> {
  const data = (await readJsonIfExists(cacheFile(ctx))) as { entries?: CacheEntry[] } | undefined;
  return data?.entries ?? [];
}

export async function lookupCache(ctx: EngineContext, key: string): Promise<Digest | undefined> {
  return (await buildCacheEntries(ctx)).find((e) => e.key === key)?.imageId;
}

export async function storeCache(ctx: EngineContext, entry: CacheEntry): Promise<void> {
  await withLock(ctx, 'build-cache', async () => {
    const entries = (await buildCacheEntries(ctx)).filter((e) => e.key !== entry.key);
    entries.push(entry);
    await writeFileAtomic(cacheFile(ctx), `${JSON.stringify({ entries }, null, 2)}\n`);
  });
}
