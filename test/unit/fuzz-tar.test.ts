// Fuzzing the layer reader's tar parser (engine/layer/tar-format.ts) and path normalisation: arbitrary
// bytes and mutated valid archives, in any chunking, must parse or be refused with UnsafeLayerError —
// never a RangeError, URIError or a hang — and what parses keeps the invariants unpack relies on.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UnsafeLayerError } from '../../engine/errors.ts';
import { encodeEntry, type TarEntry, TarParser } from '../../engine/layer/tar-format.ts';
import { normalise } from '../../engine/layer/unpack.ts';
import { fuzz, parsesOrRefuses } from '../fuzz/budget.ts';
import { chunking, fixChecksum, mutatedTar, validTar } from '../fuzz/tar-arbitraries.ts';

/** Parses `bytes` in chunks of `step`; returns the entries and how many data bytes were forwarded. */
function parseAll(bytes: Buffer, step: number): { entries: TarEntry[]; dataBytes: number } {
  const entries: TarEntry[] = [];
  let dataBytes = 0;
  const parser = new TarParser(
    {
      entry: (e) => {
        entries.push(e);
        return true;
      },
      data: (chunk) => {
        dataBytes += chunk.length;
      },
    },
    { maxMetaBytes: 64 * 1024 },
  );
  for (let i = 0; i < bytes.length; i += step) parser.push(bytes.subarray(i, i + step));
  parser.finish();
  return { entries, dataBytes };
}

/** What the unpack filter may assume of every entry the parser hands it. */
function expectSane(entries: TarEntry[], dataBytes: number, input: number): void {
  for (const e of entries) {
    expect(Number.isSafeInteger(e.size) && e.size >= 0, `size ${e.size}`).toBe(true);
    expect(Number.isSafeInteger(e.uid) && e.uid >= 0, `uid ${e.uid}`).toBe(true);
    expect(Number.isSafeInteger(e.gid) && e.gid >= 0, `gid ${e.gid}`).toBe(true);
    expect(e.mode).toBeGreaterThanOrEqual(0);
    expect(e.mode).toBeLessThanOrEqual(0o7777);
  }
  // Data is never invented: at most what came in (padding included).
  expect(dataBytes).toBeLessThanOrEqual(input);
}

/** A one-block header for a file `a`, with `patch` applied and the checksum made right again. */
function header(patch: (h: Buffer) => void): Buffer {
  const h = encodeEntry({ type: 'file', path: 'a', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 0 });
  patch(h);
  fixChecksum(h, 0);
  return h;
}

function paxHeader(body: string): Buffer {
  const b = Buffer.from(body, 'latin1');
  const h = header((h) => {
    h.write('x', 156, 1, 'latin1');
    h.write(b.length.toString(8).padStart(11, '0'), 124, 11, 'latin1');
  });
  return Buffer.concat([h, b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
}

describe('fuzz: tar parser', () => {
  it('parses or refuses arbitrary bytes in any chunking', async () => {
    await fuzz(
      'tar/arbitrary-bytes',
      3000,
      fc.property(fc.uint8Array({ maxLength: 4096 }), chunking, (bytes, step) => {
        const out = parsesOrRefuses(() => parseAll(Buffer.from(bytes), step));
        if (out) expectSane(out.entries, out.dataBytes, bytes.length);
      }),
    );
  });

  it('reads every valid archive the same way whatever the chunking', async () => {
    await fuzz(
      'tar/valid',
      300,
      fc.property(validTar, chunking, (tar, step) => {
        // Valid archives may still be refused by policy-free parsing only for their content, never
        // here: the parser itself must accept whatever the encoder writes.
        const whole = parseAll(tar.bytes, tar.bytes.length);
        const chunked = parseAll(tar.bytes, step);
        expect(chunked.entries).toEqual(whole.entries);
        expectSane(whole.entries, whole.dataBytes, tar.bytes.length);
      }),
    );
  });

  it('parses or refuses mutated valid archives (fields rewritten, checksums fixed, cuts, PAX junk)', async () => {
    await fuzz(
      'tar/mutated',
      1500,
      fc.property(mutatedTar, chunking, (bytes, step) => {
        const out = parsesOrRefuses(() => parseAll(bytes, step));
        if (out) expectSane(out.entries, out.dataBytes, bytes.length);
      }),
    );
  });

  // Crashes the fuzzer found, kept as fixed examples (fixed in tar-format.ts).
  it('regression: a negative base-256 size is refused, not a RangeError or an endless loop', () => {
    for (const flag of ['0', 'x', 'L']) {
      // 0xff then zeros: GNU base-256 for -2^88.
      const h = header((h) => {
        h.fill(0, 124, 136);
        h[124] = 0xff;
        h.write(flag, 156, 1, 'latin1');
      });
      const bytes = Buffer.concat([h, Buffer.alloc(4096, 1)]);
      expect(() => parseAll(bytes, 700), `typeflag ${flag}`).toThrow(UnsafeLayerError);
    }
  });

  it('regression: a negative base-256 uid or gid is refused (it would shift below the userns base)', () => {
    // ff ff ff ff ff fe 7c 00 is -99328: the filter's "uid < usernsSize" check let it through, and
    // usernsBase 100000 + -99328 made the file's owner host uid 672, outside the container's range.
    for (const offset of [108, 116]) {
      const h = header((h) => {
        Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0x7c, 0x00]).copy(h, offset);
      });
      expect(() => parseAll(Buffer.concat([h, Buffer.alloc(1024)]), 512)).toThrow(/negative/);
    }
  });

  it('regression: a malformed LIBARCHIVE.xattr name is refused, not a URIError', () => {
    const bytes = Buffer.concat([
      paxHeader('30 LIBARCHIVE.xattr.%E0%A4%A=x\n'),
      header(() => {}),
      Buffer.alloc(1024),
    ]);
    expect(() => parseAll(bytes, 512)).toThrow(UnsafeLayerError);
  });
});

describe('fuzz: layer path normalisation', () => {
  it('returns a relative path without "." or ".." components, or refuses', async () => {
    const part = fc.oneof(
      fc.constantFrom('', '.', '..', '...', 'a', '.wh.x', '\0', 'x'.repeat(256)),
      fc.string({ unit: 'binary', maxLength: 12 }),
    );
    await fuzz(
      'tar/normalise',
      2000,
      fc.property(fc.array(part, { maxLength: 12 }), fc.boolean(), (parts, absolute) => {
        const raw = (absolute ? '/' : '') + parts.join('/');
        const path = parsesOrRefuses(() => normalise(raw));
        if (path === undefined) return;
        expect(path.startsWith('/')).toBe(false);
        expect(path.includes('\0')).toBe(false);
        for (const p of path === '' ? [] : path.split('/')) {
          expect(p === '' || p === '.' || p === '..').toBe(false);
        }
      }),
    );
  });
});
