// The tar format, byte by byte: a push parser that reads ustar/GNU/PAX headers off a stream without
// buffering file data, and an encoder for the normalised headers unpack.ts hands to GNU tar.
// Paths are kept as "binary" strings (latin1: one char per byte) so no file name is ever re-encoded.

import { UnsafeLayerError } from '../errors.ts';

export const BLOCK = 512;

export type EntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  type: EntryType;
  /** Path as stored (PAX `path`, GNU long name or ustar prefix/name), latin1-decoded. */
  path: string;
  linkpath: string;
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data that follow the header (0 for header-only types). */
  size: number;
  /** Seconds since the epoch; `mtimeText` keeps a PAX value with its fraction. */
  mtime: number;
  mtimeText?: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes from PAX `SCHILY.xattr.*` / `LIBARCHIVE.xattr.*`, values as raw bytes. */
  xattrs: Map<string, Buffer>;
}

export interface TarLimits {
  /** Largest PAX or GNU long-name body accepted (a header bomb guard). */
  maxMetaBytes: number;
}

export interface TarSink {
  /** A header; return true to receive the entry's data (and padding) through `data`. */
  entry(entry: TarEntry): boolean;
  data(chunk: Buffer): void;
}

const TYPES: Record<string, EntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

type State = 'header' | 'meta' | 'data' | 'end';

interface Pending {
  pax: Map<string, Buffer>;
  /** Bytes of every extended header read for the next entry: many small ones are one big one. */
  metaBytes?: number;
  longName?: string;
  longLink?: string;
}

/**
 * A push parser: feed it chunks with `push`, then call `finish`. It never holds more than one header
 * or one metadata body in memory; file data goes straight to the sink or is skipped.
 */
export class TarParser {
  private state: State = 'header';
  private readonly header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  private meta: Buffer[] = [];
  private metaKind = '';
  private remaining = 0; // bytes left in the current data or meta body, padding included
  private metaSize = 0;
  private forward = false;
  private pending: Pending = { pax: new Map() };
  private readonly sink: TarSink;
  private readonly limits: TarLimits;

  constructor(sink: TarSink, limits: TarLimits) {
    this.sink = sink;
    this.limits = limits;
  }

  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      switch (this.state) {
        case 'header': {
          const take = Math.min(BLOCK - this.headerFill, chunk.length - offset);
          chunk.copy(this.header, this.headerFill, offset, offset + take);
          this.headerFill += take;
          offset += take;
          if (this.headerFill === BLOCK) {
            this.headerFill = 0;
            this.onHeader();
          }
          break;
        }
        case 'meta': {
          const take = Math.min(this.remaining, chunk.length - offset);
          this.meta.push(chunk.subarray(offset, offset + take));
          this.remaining -= take;
          offset += take;
          if (this.remaining === 0) this.onMeta();
          break;
        }
        case 'data': {
          const take = Math.min(this.remaining, chunk.length - offset);
          if (this.forward) this.sink.data(chunk.subarray(offset, offset + take));
          this.remaining -= take;
          offset += take;
          if (this.remaining === 0) this.state = 'header';
          break;
        }
        case 'end':
          // Everything after the end-of-archive block (more zero blocks, trailing padding) is ignored,
          // though it still counts for the diff_id, which covers the whole stream.
          return;
      }
    }
  }

  /** Throws when the stream stopped inside a header or an entry. */
  finish(): void {
    if (this.state === 'end') return;
    if (this.state === 'header' && this.headerFill === 0 && this.pending.pax.size === 0) return;
    throw new UnsafeLayerError('(layer)', 'the tar stream is truncated');
  }

  private onHeader(): void {
    const h = this.header;
    if (isZeroBlock(h)) {
      this.state = 'end';
      return;
    }
    verifyChecksum(h);
    const flag = String.fromCharCode(h[156]!);
    const size = readCount(h, 124, 12, 'size');
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      const metaBytes = (this.pending.metaBytes ?? 0) + size;
      if (metaBytes > this.limits.maxMetaBytes) {
        throw new UnsafeLayerError(
          readString(h, 0, 100),
          `its extended header is ${metaBytes} bytes, over the limit of ${this.limits.maxMetaBytes}`,
        );
      }
      this.pending.metaBytes = metaBytes;
      this.metaKind = flag;
      this.metaSize = size;
      this.meta = [];
      this.remaining = padded(size);
      this.state = this.remaining === 0 ? 'header' : 'meta';
      if (this.remaining === 0) this.onMeta();
      return;
    }
    const type = TYPES[flag];
    const name = ustarName(h);
    if (type === undefined) {
      const reason =
        flag === 'S' ? 'sparse files are not supported' : `unsupported entry type ${JSON.stringify(flag)}`;
      throw new UnsafeLayerError(this.pending.longName ?? name, reason);
    }
    const pax = this.pending.pax;
    const entry: TarEntry = {
      type,
      path: paxString(pax, 'path') ?? this.pending.longName ?? name,
      linkpath: paxString(pax, 'linkpath') ?? this.pending.longLink ?? readString(h, 157, 100),
      mode: readNumber(h, 100, 8) & 0o7777,
      uid: paxNumber(pax, 'uid') ?? readCount(h, 108, 8, 'uid'),
      gid: paxNumber(pax, 'gid') ?? readCount(h, 116, 8, 'gid'),
      size: paxNumber(pax, 'size') ?? size,
      mtime: readNumber(h, 136, 12),
      devmajor: readNumber(h, 329, 8),
      devminor: readNumber(h, 337, 8),
      xattrs: new Map(),
    };
    const mtimeText = paxString(pax, 'mtime');
    if (mtimeText !== undefined && /^-?\d+(\.\d+)?$/.test(mtimeText)) {
      entry.mtime = Math.floor(Number(mtimeText));
      entry.mtimeText = mtimeText;
    }
    for (const [key, value] of pax) {
      if (key.startsWith('SCHILY.xattr.')) entry.xattrs.set(key.slice(13), value);
      else if (key.startsWith('LIBARCHIVE.xattr.')) {
        entry.xattrs.set(xattrName(key.slice(17)), Buffer.from(value.toString('latin1'), 'base64'));
      } else if (key.startsWith('GNU.sparse.'))
        throw new UnsafeLayerError(entry.path, 'sparse files are not supported');
    }
    this.pending = { pax: new Map() };
    // As in Go's archive/tar: links, devices, directories and FIFOs carry no data whatever the size says.
    const dataSize = type === 'file' ? entry.size : 0;
    entry.size = dataSize;
    this.forward = this.sink.entry(entry);
    this.remaining = padded(dataSize);
    this.state = this.remaining === 0 ? 'header' : 'data';
  }

  private onMeta(): void {
    const body = Buffer.concat(this.meta).subarray(0, this.metaSize);
    this.meta = [];
    this.state = 'header';
    switch (this.metaKind) {
      case 'x':
        for (const [k, v] of parsePax(body)) this.pending.pax.set(k, v);
        break;
      case 'L':
        this.pending.longName = cString(body);
        break;
      case 'K':
        this.pending.longLink = cString(body);
        break;
      // 'g' (global PAX) sets defaults for the rest of the archive; Docker ignores them, and so do we.
    }
  }
}

function padded(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

function verifyChecksum(h: Buffer): void {
  const stored = readNumber(h, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 32 : h[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  if (stored !== unsigned && stored !== signed) {
    throw new UnsafeLayerError('(layer)', 'not a tar stream (bad header checksum)');
  }
}

function ustarName(h: Buffer): string {
  const name = readString(h, 0, 100);
  // Only POSIX ustar ("ustar\0") has a prefix field; GNU's "ustar  " keeps other data there.
  if (h.toString('latin1', 257, 263) === 'ustar\0') {
    const prefix = readString(h, 345, 155);
    if (prefix !== '') return `${prefix}/${name}`;
  }
  return name;
}

function readString(b: Buffer, offset: number, length: number): string {
  let end = offset;
  while (end < offset + length && b[end] !== 0) end++;
  return b.toString('latin1', offset, end);
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.toString('latin1', 0, nul === -1 ? b.length : nul);
}

/** An octal field, or GNU's base-256 form (high bit set) for values that do not fit. */
export function readNumber(b: Buffer, offset: number, length: number): number {
  const first = b[offset]!;
  if (first & 0x80) {
    const negative = first === 0xff;
    let value = first & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + b[offset + i]!;
    if (negative) value = value - 2 ** (8 * length - 1);
    return value;
  }
  let value = 0;
  let i = offset;
  const end = offset + length;
  while (i < end && (b[i] === 32 || b[i] === 0)) i++;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c === 0 || c === 32) break;
    if (c < 48 || c > 55) throw new UnsafeLayerError('(layer)', 'not a tar stream (bad numeric field)');
    value = value * 8 + (c - 48);
  }
  return value;
}

/** A size or an owner: GNU base-256 can spell negatives, which would shift an id below the userns base. */
function readCount(b: Buffer, offset: number, length: number, field: string): number {
  const value = readNumber(b, offset, length);
  if (value < 0 || !Number.isSafeInteger(value)) {
    throw new UnsafeLayerError('(layer)', `not a tar stream (negative or oversized ${field} ${value})`);
  }
  return value;
}

/** libarchive percent-encodes xattr names; a malformed escape is a malformed header, not a URIError. */
function xattrName(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw new UnsafeLayerError('(layer)', `malformed LIBARCHIVE.xattr name ${JSON.stringify(encoded)}`);
  }
}

/** PAX records: `<len> <key>=<value>\n`; values kept as bytes (xattr values are binary). */
export function parsePax(body: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < body.length) {
    const space = body.indexOf(32, pos);
    if (space === -1) break;
    const len = Number(body.toString('latin1', pos, space));
    if (!Number.isInteger(len) || len <= 0 || pos + len > body.length) {
      throw new UnsafeLayerError('(layer)', 'malformed PAX extended header');
    }
    const record = body.subarray(space + 1, pos + len - 1);
    const eq = record.indexOf(61);
    if (eq === -1) throw new UnsafeLayerError('(layer)', 'malformed PAX extended header');
    out.set(record.toString('latin1', 0, eq), record.subarray(eq + 1));
    pos += len;
  }
  return out;
}

function paxString(pax: Map<string, Buffer>, key: string): string | undefined {
  return pax.get(key)?.toString('latin1');
}

function paxNumber(pax: Map<string, Buffer>, key: string): number | undefined {
  const text = paxString(pax, key);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new UnsafeLayerError('(layer)', `bad PAX ${key} ${text}`);
  return n;
}

// ---- encoding ----

export interface OutHeader {
  type: EntryType;
  path: string;
  linkpath?: string;
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  mtime: number;
  mtimeText?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Map<string, Buffer>;
}

const FLAGS: Record<EntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

/** The header block(s) for one entry: a PAX header when needed, then the ustar header. */
export function encodeEntry(h: OutHeader): Buffer {
  const records: [string, Buffer][] = [];
  let name = h.path;
  let prefix = '';
  const pathBytes = Buffer.byteLength(h.path, 'latin1');
  if (pathBytes > 100) {
    const split = splitPrefix(h.path);
    if (split) [prefix, name] = split;
    else {
      records.push(['path', Buffer.from(h.path, 'latin1')]);
      name = h.path.slice(0, 100);
    }
  }
  let linkpath = h.linkpath ?? '';
  if (linkpath.length > 100) {
    records.push(['linkpath', Buffer.from(linkpath, 'latin1')]);
    linkpath = linkpath.slice(0, 100);
  }
  if (h.mtimeText?.includes('.')) records.push(['mtime', Buffer.from(h.mtimeText)]);
  for (const [key, value] of h.xattrs ?? []) records.push([`SCHILY.xattr.${key}`, value]);

  const ustar = Buffer.alloc(BLOCK);
  ustar.write(name, 0, 100, 'latin1');
  writeNumber(ustar, 100, 8, h.mode);
  writeNumber(ustar, 108, 8, h.uid);
  writeNumber(ustar, 116, 8, h.gid);
  writeNumber(ustar, 124, 12, h.size ?? 0);
  writeNumber(ustar, 136, 12, Math.max(0, h.mtime));
  ustar.write(FLAGS[h.type], 156, 1, 'latin1');
  ustar.write(linkpath, 157, 100, 'latin1');
  ustar.write('ustar\x0000', 257, 8, 'latin1');
  writeNumber(ustar, 329, 8, h.devmajor ?? 0);
  writeNumber(ustar, 337, 8, h.devminor ?? 0);
  ustar.write(prefix, 345, 155, 'latin1');
  finishChecksum(ustar);
  if (records.length === 0) return ustar;
  return Buffer.concat([encodePax(records), ustar]);
}

function splitPrefix(path: string): [string, string] | undefined {
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== '/') continue;
    if (i <= 155 && path.length - i - 1 <= 100 && path.length - i - 1 > 0)
      return [path.slice(0, i), path.slice(i + 1)];
    if (path.length - i - 1 > 100) return undefined;
  }
  return undefined;
}

function encodePax(records: [string, Buffer][]): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of records) {
    const rest = 1 + Buffer.byteLength(key, 'latin1') + 1 + value.length + 1;
    let len = rest + String(rest).length;
    if (String(len).length !== String(rest).length) len = rest + String(len).length;
    parts.push(Buffer.from(`${len} ${key}=`, 'latin1'), value, Buffer.from('\n'));
  }
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(BLOCK);
  header.write('PaxHeader', 0, 100, 'latin1');
  writeNumber(header, 100, 8, 0o644);
  writeNumber(header, 108, 8, 0);
  writeNumber(header, 116, 8, 0);
  writeNumber(header, 124, 12, body.length);
  writeNumber(header, 136, 12, 0);
  header.write('x', 156, 1, 'latin1');
  header.write('ustar\x0000', 257, 8, 'latin1');
  finishChecksum(header);
  return Buffer.concat([header, body, Buffer.alloc(padded(body.length) - body.length)]);
}

/** Octal when it fits, else base-256 (GNU tar reads both). */
function writeNumber(b: Buffer, offset: number, length: number, value: number): void {
  const octal = value.toString(8);
  if (octal.length <= length - 1) {
    b.write(octal.padStart(length - 1, '0'), offset, length - 1, 'latin1');
    b[offset + length - 1] = 0;
    return;
  }
  let v = value;
  for (let i = length - 1; i > 0; i--) {
    b[offset + i] = v % 256;
    v = Math.floor(v / 256);
  }
  b[offset] = 0x80;
}

function finishChecksum(b: Buffer): void {
  b.fill(32, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  b[154] = 0;
  b[155] = 32;
}

/** Two zero blocks: the end of an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);
