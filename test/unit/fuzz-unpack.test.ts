// Fuzzing the whole unpack path (engine/layer/unpack.ts): magic-byte check, gzip/zstd decoding, the
// tar parser, the layer policy and GNU tar, on mutated valid layers and on corrupted compressed bytes.
// Each run unpacks into a temp dir as the current user (no root needed) and must either succeed with a
// tree inside that dir or fail with a typed engine error.

import { mkdtempSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { engineConfigSchema } from '../../engine/config.ts';
import { createContext } from '../../engine/context.ts';
import { unpackLayer } from '../../engine/layer/unpack.ts';
import type { Compression } from '../../engine/oci/media-types.ts';
import { fuzz, parsesOrRefusesAsync } from '../fuzz/budget.ts';
import { mutatedTar, validTar } from '../fuzz/tar-arbitraries.ts';

const root = mkdtempSync(join(tmpdir(), 'layerlab-fuzz-unpack-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// As root, the production id mapping; otherwise our own uid as the only id (entries owned by anyone
// else are refused, which is one more typed refusal the property accepts).
const uid = process.getuid?.() ?? 0;
const ctx = createContext(root, {
  config: engineConfigSchema.parse({
    mirrors: {},
    ...(uid === 0 ? {} : { usernsBase: uid, usernsSize: 1 }),
    limits: { layerBytes: 8 * 1024 * 1024, layerEntries: 200 },
  }),
});

let n = 0;

/** Unpacks `blob` into a fresh dir, checks the outcome, and removes the dir. */
async function unpackOnce(blob: Buffer, compression: Compression): Promise<void> {
  const target = join(root, `t${n++}`);
  try {
    const result = await parsesOrRefusesAsync(() =>
      unpackLayer(ctx, Readable.from([blob]), compression, target),
    );
    if (result) expect(result.diffId).toMatch(/^sha256:[a-f0-9]{64}$/);
    // Success or not, nothing was written beside the target (where a `../` entry would land).
    expect(await readdir(root)).toEqual([basename(target)]);
  } finally {
    rmSync(target, { recursive: true, force: true });
  }
}

function compress(tar: Buffer, compression: Compression): Buffer {
  if (compression === 'gzip') return gzipSync(tar);
  if (compression === 'zstd') return zstdCompressSync(tar);
  return tar;
}

const compressionArb = fc.constantFrom<Compression>('none', 'gzip', 'zstd');

describe('fuzz: unpackLayer', () => {
  it('unpacks or refuses mutated valid layers, in every compression', async () => {
    await fuzz(
      'unpack/mutated-tar',
      30,
      fc.asyncProperty(
        fc.oneof(
          validTar.map((t) => t.bytes),
          mutatedTar,
        ),
        compressionArb,
        (tar, compression) => unpackOnce(compress(tar, compression), compression),
      ),
    );
  });

  it('refuses corrupted compressed streams and wrong magic bytes with a typed error', async () => {
    await fuzz(
      'unpack/corrupt-stream',
      30,
      fc.asyncProperty(
        validTar,
        compressionArb,
        compressionArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.option(fc.nat(), { nil: undefined }),
        async (tar, actual, declared, flips, cut) => {
          const blob = Buffer.from(compress(tar.bytes, actual));
          for (const [at, value] of flips) blob[at % blob.length] = value;
          const bytes = cut === undefined ? blob : blob.subarray(0, cut % (blob.length + 1));
          await unpackOnce(bytes, declared);
        },
      ),
    );
  });
});
