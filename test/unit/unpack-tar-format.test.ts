// The tar parser and header encoder on their own: fields, PAX records with binary values, base-256
// numbers, chunk boundaries anywhere, truncation; and path normalisation for layer entries.

import { describe, expect, it } from 'vitest';
import { UnsafeLayerError } from '../../engine/errors.ts';
import {
  END_OF_ARCHIVE,
  encodeEntry,
  type OutHeader,
  parsePax,
  readNumber,
  type TarEntry,
  TarParser,
} from '../../engine/layer/tar-format.ts';
import { normalise } from '../../engine/layer/unpack.ts';
import { buildTar } from '../support/hostile-tars.ts';

/** Parses `bytes` fed in chunks of `step` bytes; returns entries with their forwarded data. */
function parse(bytes: Buffer, step = bytes.length): { entry: TarEntry; data: Buffer }[] {
  const out: { entry: TarEntry; data: Buffer[] }[] = [];
  const parser = new TarParser(
    {
      entry: (entry) => {
        out.push({ entry, data: [] });
        return true;
      },
      data: (chunk) => {
        out.at(-1)!.data.push(Buffer.from(chunk));
      },
    },
    { maxMetaBytes: 64 * 1024 },
  );
  for (let i = 0; i < bytes.length; i += step) parser.push(bytes.subarray(i, i + step));
  parser.finish();
  return out.map(({ entry, data }) => ({ entry, data: Buffer.concat(data).subarray(0, entry.size) }));
}

function entryOf(h: OutHeader, data = Buffer.alloc(0)): Buffer {
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([encodeEntry({ ...h, size: data.length }), data, pad]);
}

describe('TarParser', () => {
  it('reads what tar-stream writes, across any chunk boundaries', async () => {
    const tarBytes = await buildTar([
      { name: 'dir/', type: 'directory', mode: 0o750, uid: 10, gid: 20 },
      { name: 'dir/file', data: 'content', mode: 0o644, mtime: new Date('2020-02-03T04:05:06Z') },
      { name: 'link', type: 'symlink', linkname: '/dir/file' },
      { name: `${'deep/'.repeat(40)}leaf`, data: 'x' },
    ]);
    for (const step of [tarBytes.length, 512, 100, 7, 1]) {
      const parsed = parse(tarBytes, step);
      expect(parsed.map((p) => [p.entry.type, p.entry.path])).toEqual([
        ['dir', 'dir/'],
        ['file', 'dir/file'],
        ['symlink', 'link'],
        ['file', `${'deep/'.repeat(40)}leaf`],
      ]);
      expect(parsed[0]!.entry).toMatchObject({ mode: 0o750, uid: 10, gid: 20 });
      expect(parsed[1]!.data.toString()).toBe('content');
      expect(parsed[1]!.entry.mtime).toBe(Date.parse('2020-02-03T04:05:06Z') / 1000);
      expect(parsed[2]!.entry.linkpath).toBe('/dir/file');
    }
  });

  it('round-trips encoded headers: ustar prefix split, PAX paths, binary xattrs, big numbers', () => {
    const xattrs = new Map([['user.bin', Buffer.from([0, 0xff, 0x0a, 0x3d])]]);
    const headers: OutHeader[] = [
      { type: 'file', path: `${'p'.repeat(120)}/name`, mode: 0o4755, uid: 100_000, gid: 100_000, mtime: 1 },
      { type: 'file', path: 'q'.repeat(200), mode: 0o644, uid: 0, gid: 0, mtime: 2, xattrs },
      { type: 'symlink', path: 's', linkpath: `/${'t'.repeat(150)}`, mode: 0o777, uid: 0, gid: 0, mtime: 3 },
      { type: 'char', path: 'wh', mode: 0, uid: 3_000_000, gid: 0, mtime: 2 ** 34, devmajor: 0, devminor: 0 },
    ];
    const bytes = Buffer.concat([
      ...headers.map((h) => entryOf(h, h.type === 'file' ? Buffer.from('d') : undefined)),
      END_OF_ARCHIVE,
    ]);
    const parsed = parse(bytes, 333);
    expect(parsed[0]!.entry.path).toBe(`${'p'.repeat(120)}/name`);
    expect(parsed[0]!.entry.mode).toBe(0o4755);
    expect(parsed[1]!.entry.path).toBe('q'.repeat(200));
    expect(parsed[1]!.entry.xattrs).toEqual(xattrs);
    expect(parsed[1]!.data.toString()).toBe('d');
    expect(parsed[2]!.entry.linkpath).toBe(`/${'t'.repeat(150)}`);
    expect(parsed[3]!.entry).toMatchObject({ type: 'char', uid: 3_000_000, mtime: 2 ** 34 });
  });

  it('reads no data for header-only types, whatever their size field says (as Go does)', () => {
    const symlink = encodeEntry({
      type: 'symlink',
      path: 's',
      linkpath: 't',
      mode: 0o777,
      uid: 0,
      gid: 0,
      size: 700,
      mtime: 0,
    });
    const file = entryOf(
      { type: 'file', path: 'f', mode: 0o644, uid: 0, gid: 0, mtime: 0 },
      Buffer.from('x'),
    );
    const parsed = parse(Buffer.concat([symlink, file, END_OF_ARCHIVE]));
    expect(parsed.map((p) => [p.entry.path, p.entry.size])).toEqual([
      ['s', 0],
      ['f', 1],
    ]);
  });

  it('keeps non-UTF-8 file names byte for byte', () => {
    const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]).toString('latin1'); // "café" in Latin-1
    const parsed = parse(
      Buffer.concat([
        entryOf({ type: 'file', path: latin1, mode: 0o644, uid: 0, gid: 0, mtime: 0 }),
        END_OF_ARCHIVE,
      ]),
    );
    expect(Buffer.from(parsed[0]!.entry.path, 'latin1')).toEqual(Buffer.from([0x63, 0x61, 0x66, 0xe9]));
  });

  it('reports truncation, bad checksums and oversized extended headers', async () => {
    const tarBytes = await buildTar([{ name: 'f', data: 'x'.repeat(2000) }]);
    expect(() => parse(tarBytes.subarray(0, 1000))).toThrow(/truncated/);
    expect(() => parse(tarBytes.subarray(0, 300))).toThrow(/truncated/);
    const corrupt = Buffer.from(tarBytes);
    corrupt[0] = 0x5a;
    expect(() => parse(corrupt)).toThrow(/bad header checksum/);
    const bigPax = await buildTar([{ name: 'f', pax: { comment: 'c'.repeat(100_000) } }]);
    expect(() => parse(bigPax)).toThrow(UnsafeLayerError);
    // A stream that ends cleanly after an entry, without the end-of-archive blocks, is accepted.
    expect(parse(tarBytes.subarray(0, 512 + 2048)).length).toBe(1);
  });

  it('decodes octal and base-256 numeric fields', () => {
    const b = Buffer.alloc(12);
    b.write('0000644\0', 0, 'latin1');
    expect(readNumber(b, 0, 8)).toBe(0o644);
    const big = Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    expect(readNumber(big, 0, 12)).toBe(2 ** 32);
  });

  it('parses PAX records with = and newlines inside values', () => {
    const value = 'a=b\nc';
    const record = `11 k=${value}\n`;
    expect(parsePax(Buffer.from(record)).get('k')?.toString()).toBe(value);
  });
});

describe('normalise', () => {
  it('makes paths relative to the layer root as Docker does', () => {
    expect(normalise('./etc/passwd')).toBe('etc/passwd');
    expect(normalise('/etc//passwd/')).toBe('etc/passwd');
    expect(normalise('./')).toBe('');
    expect(normalise('a/./b')).toBe('a/b');
  });

  it('refuses .., NUL bytes and over-long names', () => {
    expect(() => normalise('../x')).toThrow(/leaves the layer root/);
    expect(() => normalise('a/../../x')).toThrow(/leaves the layer root/);
    expect(() => normalise('a\0b')).toThrow(/NUL/);
    expect(() => normalise('x'.repeat(256))).toThrow(/over 255 bytes/);
    expect(() => normalise('a/'.repeat(2049))).toThrow(/over 4096 bytes/);
  });
});
