// fast-check arbitraries for tar fuzzing: valid archives (ustar, PAX and GNU long names, every entry
// type, binary xattrs) that know where their header blocks are, and the mutations applied to them —
// byte flips, header fields rewritten with a correct checksum (so the parser gets past it), cuts.

import fc from 'fast-check';
import { BLOCK, END_OF_ARCHIVE, type EntryType, encodeEntry } from '../../engine/layer/tar-format.ts';

export interface FuzzTar {
  bytes: Buffer;
  /** Offsets of every header block (PAX and GNU long-name headers included). */
  headers: number[];
}

interface EntryInput {
  type: EntryType;
  path: string;
  linkpath: string;
  data: Uint8Array;
  uid: number;
  gid: number;
  mode: number;
  mtime: number;
  xattrs: [string, Uint8Array][];
  gnuLongName: boolean;
}

const nameChar = fc.constantFrom(
  'a',
  'b',
  '.',
  '/',
  '..',
  '.wh.',
  '.wh..wh..opq',
  'é',
  '\u00ff',
  'x'.repeat(60),
);
const pathArb = fc.array(nameChar, { minLength: 1, maxLength: 8 }).map((parts) => parts.join(''));

const entryArb: fc.Arbitrary<EntryInput> = fc.record({
  type: fc.constantFrom<EntryType>('file', 'file', 'dir', 'symlink', 'hardlink', 'char', 'block', 'fifo'),
  path: fc.oneof(pathArb, fc.constant(`${'d/'.repeat(70)}f`), fc.constant('p'.repeat(150))),
  linkpath: fc.oneof(pathArb, fc.constant(`/${'t'.repeat(120)}`)),
  data: fc.uint8Array({ maxLength: 1500 }),
  uid: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 70_000 }), fc.constant(2 ** 21)),
  gid: fc.integer({ min: 0, max: 70_000 }),
  mode: fc.integer({ min: 0, max: 0o7777 }),
  mtime: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 34 })),
  xattrs: fc.array(
    fc.tuple(fc.constantFrom('user.a', 'security.capability', 'trusted.overlay.opaque'), fc.uint8Array()),
    { maxLength: 2 },
  ),
  gnuLongName: fc.boolean(),
});

/** A GNU `L` (long name) header and body, as GNU tar writes for names over 100 bytes. */
function gnuLongNameBlocks(path: string): Buffer {
  const body = Buffer.from(`${path}\0`, 'latin1');
  const header = encodeEntry({ type: 'file', path: '././@LongLink', mode: 0, uid: 0, gid: 0, mtime: 0 });
  header.write('L', 156, 1, 'latin1');
  header.write(body.length.toString(8).padStart(11, '0'), 124, 11, 'latin1');
  fixChecksum(header, 0);
  return Buffer.concat([header, body, Buffer.alloc(padding(body.length))]);
}

function padding(n: number): number {
  return (BLOCK - (n % BLOCK)) % BLOCK;
}

/** Rewrites the checksum of the header block at `offset` for its current contents. */
export function fixChecksum(bytes: Buffer, offset: number): void {
  bytes.fill(32, offset + 148, offset + 156);
  let sum = 0;
  for (let i = offset; i < offset + BLOCK; i++) sum += bytes[i]!;
  bytes.write(sum.toString(8).padStart(6, '0'), offset + 148, 6, 'latin1');
  bytes[offset + 154] = 0;
}

function encodeTar(entries: EntryInput[]): FuzzTar {
  const parts: Buffer[] = [];
  const headers: number[] = [];
  let at = 0;
  const add = (b: Buffer, headerBlocks: number) => {
    for (let k = 0; k < headerBlocks; k++) headers.push(at + k * BLOCK);
    parts.push(b);
    at += b.length;
  };
  for (const e of entries) {
    const data = e.type === 'file' ? Buffer.from(e.data) : Buffer.alloc(0);
    if (e.gnuLongName && Buffer.byteLength(e.path, 'latin1') > 100) {
      const long = gnuLongNameBlocks(e.path);
      headers.push(at);
      parts.push(long);
      at += long.length;
    }
    const header = encodeEntry({
      type: e.type,
      path: e.path,
      linkpath: e.linkpath,
      mode: e.mode,
      uid: e.uid,
      gid: e.gid,
      size: data.length,
      mtime: e.mtime,
      xattrs: new Map(e.xattrs.map(([k, v]) => [k, Buffer.from(v)])),
    });
    // A PAX header comes first when present: its header block, its body, then the ustar block.
    const blocks = header.length / BLOCK;
    if (blocks > 1) headers.push(at, at + header.length - BLOCK);
    else headers.push(at);
    parts.push(header, data, Buffer.alloc(padding(data.length)));
    at += header.length + data.length + padding(data.length);
  }
  add(END_OF_ARCHIVE, 0);
  return { bytes: Buffer.concat(parts), headers };
}

/** A well-formed archive of 0–6 entries. */
export const validTar: fc.Arbitrary<FuzzTar> = fc.array(entryArb, { maxLength: 6 }).map(encodeTar);

/** Header fields (offset, length) a mutation rewrites. */
const FIELDS: [number, number][] = [
  [0, 100], // name
  [100, 8], // mode
  [108, 8], // uid
  [116, 8], // gid
  [124, 12], // size
  [136, 12], // mtime
  [156, 1], // typeflag
  [157, 100], // linkname
  [257, 8], // magic + version
  [329, 8], // devmajor
  [337, 8], // devminor
  [345, 155], // prefix
];

/** What a header field is overwritten with: octal, GNU base-256 (positive and negative), junk. */
const fieldValue = (length: number): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    fc
      .bigInt({ min: 0n, max: 8n ** BigInt(Math.max(1, length - 1)) - 1n })
      .map((n) => Buffer.from(`${n.toString(8).padStart(length - 1, '0')}\0`, 'latin1').subarray(0, length)),
    fc.uint8Array({ minLength: length, maxLength: length }).map((b) => {
      const out = Buffer.from(b);
      out[0] = (out[0]! & 0x7f) | 0x80; // base-256, positive or (0xff…) negative
      return out;
    }),
    fc.constant(Buffer.alloc(length, 0xff)),
    fc.uint8Array({ minLength: 1, maxLength: length }),
    fc.constantFrom('x', 'g', 'L', 'K', 'S', '7', 'V', 'M', '\0').map((s) => Buffer.from(s, 'latin1')),
  );

type Mutation =
  | { kind: 'flip'; at: number; value: number }
  | { kind: 'field'; header: number; field: number; value: Uint8Array; checksum: boolean }
  | { kind: 'pax'; header: number; body: string }
  | { kind: 'cut'; at: number }
  | { kind: 'dup'; header: number };

const paxBody = fc.oneof(
  fc.constantFrom(
    '10 size=-1\n',
    '30 LIBARCHIVE.xattr.%E0%A4%A=x\n',
    '25 LIBARCHIVE.xattr.%zz=x\n',
    '13 uid=1e400\n',
    '20 GNU.sparse.size=1\n',
    '99999999999 a=b\n',
    '0 a=b\n',
    '5 x\n',
    '17 mtime=-1.5e9\n',
    '12 path=..\n',
  ),
  fc
    .tuple(
      fc.constantFrom(
        'path',
        'linkpath',
        'size',
        'uid',
        'gid',
        'mtime',
        'SCHILY.xattr.user.k',
        'LIBARCHIVE.xattr.a%20b',
      ),
      fc.string({ unit: 'binary', maxLength: 40 }),
    )
    .map(([k, v]) => {
      const rest = ` ${k}=${v}\n`;
      const len = Buffer.byteLength(rest) + String(Buffer.byteLength(rest) + 3).length;
      return `${len}${rest}`;
    }),
);

const mutationArb = (tar: FuzzTar): fc.Arbitrary<Mutation> => {
  const headerIndex = fc.integer({ min: 0, max: Math.max(0, tar.headers.length - 1) });
  const at = fc.integer({ min: 0, max: Math.max(0, tar.bytes.length - 1) });
  return fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at, value: fc.integer({ min: 0, max: 255 }) }),
    fc
      .record({
        header: headerIndex,
        field: fc.integer({ min: 0, max: FIELDS.length - 1 }),
        checksum: fc.boolean(),
      })
      .chain((r) =>
        fieldValue(FIELDS[r.field]![1]).map((value) => ({ kind: 'field' as const, ...r, value })),
      ),
    fc.record({ kind: fc.constant('pax' as const), header: headerIndex, body: paxBody }),
    fc.record({ kind: fc.constant('cut' as const), at }),
    fc.record({ kind: fc.constant('dup' as const), header: headerIndex }),
  );
};

function apply(tar: FuzzTar, m: Mutation): FuzzTar {
  const bytes = Buffer.from(tar.bytes);
  const header = tar.headers[(m as { header?: number }).header ?? 0];
  switch (m.kind) {
    case 'flip':
      if (bytes.length > 0) bytes[m.at % bytes.length] = m.value;
      return { bytes, headers: tar.headers };
    case 'field': {
      if (header === undefined) return tar;
      const [offset, length] = FIELDS[m.field]!;
      bytes.fill(0, header + offset, header + offset + length);
      Buffer.from(m.value).copy(bytes, header + offset, 0, length);
      if (m.checksum) fixChecksum(bytes, header);
      return { bytes, headers: tar.headers };
    }
    case 'pax': {
      // A PAX header with this body inserted before the chosen header.
      const where = header ?? 0;
      const body = Buffer.from(m.body, 'latin1');
      const h = encodeEntry({ type: 'file', path: 'PaxHeader', mode: 0o644, uid: 0, gid: 0, mtime: 0 });
      h.write('x', 156, 1, 'latin1');
      h.write(body.length.toString(8).padStart(11, '0'), 124, 11, 'latin1');
      fixChecksum(h, 0);
      const inserted = Buffer.concat([h, body, Buffer.alloc(padding(body.length))]);
      const shift = inserted.length;
      return {
        bytes: Buffer.concat([bytes.subarray(0, where), inserted, bytes.subarray(where)]),
        headers: tar.headers.map((o) => (o >= where ? o + shift : o)).concat(where),
      };
    }
    case 'cut':
      return { bytes: bytes.subarray(0, m.at), headers: tar.headers.filter((o) => o + BLOCK <= m.at) };
    case 'dup': {
      if (header === undefined) return tar;
      const block = bytes.subarray(header, header + BLOCK);
      return {
        bytes: Buffer.concat([bytes.subarray(0, header), block, bytes.subarray(header)]),
        headers: tar.headers.map((o) => (o >= header ? o + BLOCK : o)).concat(header),
      };
    }
  }
}

/** A valid archive with 1–4 mutations applied in turn. */
export const mutatedTar: fc.Arbitrary<Buffer> = validTar
  .chain((tar) =>
    fc
      .array(fc.nat(), { minLength: 1, maxLength: 4 })
      .chain((seeds) =>
        seeds.reduce<fc.Arbitrary<FuzzTar>>(
          (acc) => acc.chain((t) => mutationArb(t).map((m) => apply(t, m))),
          fc.constant(tar),
        ),
      ),
  )
  .map((t) => t.bytes);

/** Chunk sizes a stream may hand the parser: whole blocks, odd sizes, single bytes. */
export const chunking = fc.oneof(
  fc.constant(Number.MAX_SAFE_INTEGER),
  fc.constantFrom(1, 7, 511, 512, 513),
  fc.integer({ min: 1, max: 4096 }),
);

/**
 * Random entries as a tree: the last entry of a path wins, and `parents` holds every directory the
 * paths imply, so a generator can keep a path from being both a directory and a file.
 */
export function treeOf<T extends { path: string[] }>(
  entries: T[],
): { byPath: Map<string, T>; parents: Set<string> } {
  const byPath = new Map<string, T>();
  for (const e of entries) byPath.set(e.path.join('/'), e);
  const parents = new Set<string>();
  for (const p of byPath.keys()) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) parents.add(parts.slice(0, i).join('/'));
  }
  return { byPath, parents };
}
