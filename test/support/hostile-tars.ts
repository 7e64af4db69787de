// A corpus of hostile layer tars (built in memory with tar-stream and zlib) for the unpack tests:
// path escapes, symlink and hard-link tricks, devices, header and compression bombs, forged overlay
// metadata, truncation. Each case says what unpacking it must do.

import { createGzip, gzipSync, zstdCompressSync } from 'node:zlib';
import tar from 'tar-stream';
import type { Compression } from '../../engine/oci/media-types.ts';

/** One tar entry, in tar-stream's terms plus optional data. */
export type EntrySpec = Partial<Omit<tar.Header, 'pax'>> & {
  name: string;
  pax?: Record<string, string>;
  data?: string | Buffer;
};

/** Packs entries into an uncompressed tar. */
export async function buildTar(entries: EntrySpec[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const { data, ...header } of entries) {
    await new Promise<void>((resolve, reject) => {
      pack.entry({ mtime: new Date('2024-01-01T00:00:00Z'), ...header }, data ?? '', (err) =>
        err ? reject(err) : resolve(),
      );
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export function compress(tarBytes: Buffer, compression: Compression): Buffer {
  if (compression === 'gzip') return gzipSync(tarBytes);
  if (compression === 'zstd') return zstdCompressSync(tarBytes);
  return tarBytes;
}

/**
 * One raw 512-byte header with a type flag tar-stream will not write for us (GNU `L`, bare `x`), its
 * checksum filled in, followed by `body` padded to a block.
 */
export function rawEntry(flag: string, name: string, body: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'latin1');
  header.write('0000644\0', 100, 8, 'latin1');
  header.write('0000000\0', 108, 8, 'latin1');
  header.write('0000000\0', 116, 8, 'latin1');
  header.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124, 12, 'latin1');
  header.write('00000000000\0', 136, 12, 'latin1');
  header.write(flag, 156, 1, 'latin1');
  header.write('ustar\x0000', 257, 8, 'latin1');
  header.fill(32, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  header[154] = 0;
  const padding = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([header, body, padding]);
}

/** One PAX record, `<len> <key>=<value>\n`, its length counting itself. */
export function paxRecord(key: string, value: string): Buffer {
  const rest = 1 + key.length + 1 + value.length + 1;
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return Buffer.from(`${len} ${key}=${value}\n`, 'latin1');
}

/** A tar holding one file of `size` zero bytes, compressed to a few KB: a decompression bomb. */
export async function zeroFileBomb(size: number, compression: 'gzip' | 'zstd'): Promise<Buffer> {
  const header = Buffer.alloc(512);
  // Build the header with tar-stream's encoder by packing an empty-bodied copy, then patch the size.
  const small = await buildTar([{ name: 'zeros', size: 0 }]);
  small.copy(header, 0, 0, 512);
  header.write(size.toString(8).padStart(11, '0'), 124, 11, 'latin1');
  header.fill(32, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  header[154] = 0;
  if (compression === 'zstd') {
    return zstdCompressSync(Buffer.concat([header, Buffer.alloc(size), Buffer.alloc(1024)]));
  }
  // Stream the zeros through gzip so the bomb never sits in memory uncompressed.
  const gz = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on('data', (c: Buffer) => {
    out.push(c);
  });
  const ended = new Promise<void>((resolve) => gz.on('end', () => resolve()));
  gz.write(header);
  const zeros = Buffer.alloc(1024 * 1024);
  for (let left = size; left > 0; left -= zeros.length) {
    if (!gz.write(left >= zeros.length ? zeros : zeros.subarray(0, left))) {
      await new Promise((resolve) => gz.once('drain', resolve));
    }
  }
  gz.end(Buffer.alloc(1024));
  await ended;
  return Buffer.concat(out);
}

export type Outcome =
  | { kind: 'refused'; message: RegExp; code: 'UNSAFE_LAYER' | 'SIZE_EXCEEDED' }
  | { kind: 'unpacked' };

export interface HostileCase {
  name: string;
  blob: Buffer;
  compression: Compression;
  outcome: Outcome;
}

const refused = (message: RegExp, code: 'UNSAFE_LAYER' | 'SIZE_EXCEEDED' = 'UNSAFE_LAYER'): Outcome => ({
  kind: 'refused',
  message,
  code,
});

/**
 * The corpus. `outside` is a directory next to the target that no case may touch. Bomb cases
 * assume the test context caps layers at `capBytes` uncompressed bytes.
 */
export async function hostileCases(outside: string, capBytes: number): Promise<HostileCase[]> {
  const plain = async (name: string, entries: EntrySpec[], outcome: Outcome): Promise<HostileCase> => ({
    name,
    blob: await buildTar(entries),
    compression: 'none',
    outcome,
  });
  const good = await buildTar([{ name: 'ok', data: 'fine' }]);
  return [
    await plain('dot-dot traversal', [{ name: '../escaped', data: 'x' }], refused(/leaves the layer root/)),
    await plain(
      'deep dot-dot traversal',
      [{ name: 'a/b/../../../escaped', data: 'x' }],
      refused(/leaves the layer root/),
    ),
    await plain(
      'symlink then write through it',
      [
        { name: 'esc', type: 'symlink', linkname: outside },
        { name: 'esc/pwned', data: 'x' },
      ],
      refused(/parent "esc" is a symlink/),
    ),
    await plain(
      'relative symlink then write through it',
      [
        { name: 'd/', type: 'directory' },
        { name: 'd/up', type: 'symlink', linkname: '../..' },
        { name: 'd/up/pwned', data: 'x' },
      ],
      refused(/is a symlink/),
    ),
    await plain(
      'symlink replaced by a directory, then written into',
      [
        { name: 'esc', type: 'symlink', linkname: outside },
        { name: 'esc', type: 'directory' },
        { name: 'esc/pwned', data: 'x' },
      ],
      refused(/a directory would replace a symlink/),
    ),
    await plain(
      'hard link to a relative outside path',
      [{ name: 'passwd', type: 'link', linkname: '../../../etc/passwd' }],
      refused(/leaves the layer root/),
    ),
    await plain(
      'hard link to an absolute host path',
      [{ name: 'passwd', type: 'link', linkname: '/etc/passwd' }],
      refused(/hard link target .* is not a file earlier in this layer/),
    ),
    await plain(
      'hard link through a symlink',
      [
        { name: 'esc', type: 'symlink', linkname: '/etc' },
        { name: 'passwd', type: 'link', linkname: 'esc/passwd' },
      ],
      refused(/is not a file earlier in this layer/),
    ),
    await plain(
      'whiteout of ..',
      [
        { name: 'd/', type: 'directory' },
        { name: 'd/.wh...', data: '' },
      ],
      refused(/whiteout names no file/),
    ),
    await plain('whiteout via ../x', [{ name: '../.wh.x', data: '' }], refused(/leaves the layer root/)),
    await plain(
      'forged overlay opaque xattr',
      [{ name: 'd/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y' } }],
      refused(/overlay metadata/),
    ),
    await plain(
      'forged overlay redirect xattr on a file',
      [{ name: 'f', data: 'x', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/etc' } }],
      refused(/overlay metadata/),
    ),
    await plain(
      'enormous PAX header',
      [{ name: 'f', data: 'x', pax: { comment: 'A'.repeat(2 * 1024 * 1024) } }],
      refused(/extended header is \d+ bytes/),
    ),
    await plain(
      'path over PATH_MAX',
      [{ name: `${'d/'.repeat(2100)}f`, data: 'x' }],
      refused(/over 4096 bytes/),
    ),
    await plain('component over NAME_MAX', [{ name: 'n'.repeat(300), data: 'x' }], refused(/over 255 bytes/)),
    await plain(
      'uid beyond the namespace',
      // The default range ends at container id 2^31 - 100001 (engine/config.ts): 2^31 is beyond it.
      [{ name: 'f', data: 'x', pax: { uid: String(2 ** 31) } }],
      refused(/outside the container's id range/),
    ),
    await plain(
      'absolute path with dot-dot',
      [{ name: '/../../etc/escaped', data: 'x' }],
      refused(/leaves the layer root/),
    ),
    await plain(
      'whiteout through a symlink',
      [
        { name: 'esc', type: 'symlink', linkname: outside },
        { name: 'esc/.wh.victim', data: '' },
      ],
      refused(/parent "esc" is a symlink/),
    ),
    await plain(
      'opaque whiteout through a symlink',
      [
        { name: 'esc', type: 'symlink', linkname: outside },
        { name: 'esc/.wh..wh..opq', data: '' },
      ],
      refused(/parent "esc" is a symlink/),
    ),
    await plain(
      'duplicate entry: a file replacing a directory',
      [
        { name: 'd/', type: 'directory' },
        { name: 'd/keep', data: 'k' },
        { name: 'd', data: 'flat' },
      ],
      refused(/would replace a directory/),
    ),
    {
      name: 'enormous GNU long name',
      blob: Buffer.concat([
        rawEntry('L', '././@LongLink', Buffer.alloc(2 * 1024 * 1024, 0x61)),
        await buildTar([{ name: 'f', data: 'x' }]),
      ]),
      compression: 'none',
      outcome: refused(/extended header is \d+ bytes, over the limit/),
    },
    {
      // Each under the per-header cap, together 3 MB held for one entry: the cap is on the sum.
      name: 'PAX headers that add up',
      blob: Buffer.concat([
        ...Array.from({ length: 6 }, (_, i) =>
          rawEntry('x', 'PaxHeader', paxRecord(`comment${i}`, 'A'.repeat(512 * 1024))),
        ),
        await buildTar([{ name: 'f', data: 'x' }]),
      ]),
      compression: 'none',
      outcome: refused(/extended header is \d+ bytes, over the limit/),
    },
    {
      name: 'truncated gzip stream',
      blob: gzipSync(await buildTar([{ name: 'big', data: Buffer.alloc(64 * 1024, 1) }])).subarray(0, 40),
      compression: 'gzip',
      outcome: refused(/gzip stream is truncated or corrupt/),
    },
    {
      name: 'truncated zstd stream',
      blob: zstdCompressSync(await buildTar([{ name: 'big', data: Buffer.alloc(64 * 1024, 1) }])).subarray(
        0,
        30,
      ),
      compression: 'zstd',
      outcome: refused(/zstd stream is truncated or corrupt/),
    },
    {
      name: 'corrupt gzip stream',
      blob: (() => {
        const gz = gzipSync(good);
        gz.fill(0x55, 10, gz.length - 8);
        return gz;
      })(),
      compression: 'gzip',
      outcome: refused(/gzip stream is truncated or corrupt/),
    },
    {
      name: 'truncated tar',
      blob: (await buildTar([{ name: 'big', data: Buffer.alloc(4096, 1) }])).subarray(0, 2048),
      compression: 'none',
      outcome: refused(/truncated/),
    },
    {
      name: 'not a tar',
      blob: Buffer.alloc(2048, 0x41),
      compression: 'none',
      outcome: refused(/not a tar stream/),
    },
    {
      name: 'gzip blob declared as zstd',
      blob: gzipSync(good),
      compression: 'zstd',
      outcome: refused(/media type says zstd but the blob is gzip/),
    },
    {
      name: 'gzip bomb',
      blob: await zeroFileBomb(capBytes * 8, 'gzip'),
      compression: 'gzip',
      outcome: refused(/exceeds the limit/, 'SIZE_EXCEEDED'),
    },
    {
      name: 'zstd bomb',
      blob: await zeroFileBomb(capBytes * 8, 'zstd'),
      compression: 'zstd',
      outcome: refused(/exceeds the limit/, 'SIZE_EXCEEDED'),
    },
  ];
}

/** Cases that unpack, with a twist: what lands where is checked by the tests. */
export async function acceptedOddities(): Promise<Record<string, Buffer>> {
  return {
    absolutePaths: await buildTar([{ name: '/etc/abs', data: 'inside' }]),
    devices: await buildTar([
      { name: 'dev/', type: 'directory' },
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3 },
      { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
      { name: 'dev/fifo', type: 'fifo' },
      { name: 'dev/keep', data: 'k' },
    ]),
    setuid: await buildTar([{ name: 'bin/su', data: '#!', mode: 0o4755, uid: 0, gid: 0 }]),
    duplicates: await buildTar([
      { name: 'f', data: 'first' },
      { name: 'f', data: 'second' },
    ]),
  };
}

/**
 * Layers that unpack, each naming `outside` (a host directory) through a symlink; the tests check
 * that nothing lands there. A two-element array is an image of two layers.
 */
export async function outsidePointingLayers(outside: string): Promise<Record<string, Buffer[]>> {
  return {
    // The file replaces the symlink: nothing is written through it.
    fileOverOutsideSymlink: [
      await buildTar([
        { name: 'f', type: 'symlink', linkname: `${outside}/target` },
        { name: 'f', data: 'inside' },
      ]),
    ],
    // The same behind 512 KB of other content: large enough for GNU tar rather than the in-process writer.
    fileOverOutsideSymlinkLarge: [
      await buildTar([
        { name: 'pad', data: Buffer.alloc(512 * 1024, 1) },
        { name: 'f', type: 'symlink', linkname: `${outside}/target` },
        { name: 'f', data: 'inside' },
      ]),
    ],
    // A hard link to the symlink links the symlink itself, not what it points at.
    hardlinkToOutsideSymlink: [
      await buildTar([
        { name: 'esc', type: 'symlink', linkname: outside },
        { name: 'alias', type: 'link', linkname: 'esc' },
      ]),
    ],
    // Each layer is unpacked into its own empty directory, so the lower layer's symlink is not there
    // to follow when the upper layer writes `esc/pwned`: overlayfs shows the upper directory instead.
    symlinkInLowerLayerWrittenThroughInUpper: [
      await buildTar([{ name: 'esc', type: 'symlink', linkname: outside }]),
      await buildTar([{ name: 'esc/pwned', data: 'x' }]),
    ],
  };
}
