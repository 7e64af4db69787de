// Crash-safe file writes for the store: write a temp file next to the target, fsync it, rename it
// into place, fsync the directory. A kill -9 leaves either the old file or the new one, never half.

import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A name no other writer will pick: `.tmp-<base>-<random>`, recognisable by `isTempName`. */
export function tempName(base: string): string {
  return `.tmp-${base}-${randomBytes(6).toString('hex')}`;
}

export function isTempName(name: string): boolean {
  return name.startsWith('.tmp-');
}

/** fsyncs a directory so a rename inside it survives a power cut. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` with `data` atomically (temp file in the same directory, fsync, rename). With
 * `durable: false` the fsyncs are skipped: readers still see the old file or the new one, never half,
 * but a power cut may lose the update (container records: state, not content; re-derived on start).
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: { durable?: boolean } = {},
): Promise<void> {
  const durable = options.durable !== false;
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, tempName(basename(path)));
  try {
    const handle = await open(tmp, 'wx', 0o644);
    try {
      await handle.writeFile(data);
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  if (durable) await syncDir(dir);
}

/** Reads and parses a JSON file, or returns `undefined` when it does not exist. */
export async function readJsonIfExists(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
