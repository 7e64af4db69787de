// A container's overlay upper dir as an OCI layer tar: the one place overlay whiteouts turn back into
// OCI ones (`.wh.<name>`, `.wh..wh..opq`). Commit and build stream it into E's appendLayer. The
// upper dir is the container's: it is read through engine/fs/in-root.ts, so a symlink in it can
// never put a host file into the layer, even if something renames entries during the walk.

import { closeSync, createReadStream, constants as fsConstants, fstatSync, type Stats } from 'node:fs';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import type { EngineContext } from '../context.ts';
import { LayerlabError } from '../errors.ts';
import { Tree } from '../fs/in-root.ts';
import { isOpaqueDir, isWhiteout } from './diff.ts';

export interface TarUpperOptions {
  /** Clamp every mtime to at most this (reproducible builds: `SOURCE_DATE_EPOCH`). */
  mtime?: Date;
}

const EMPTY = Buffer.alloc(0);

type EntryHeader = Partial<tar.Header> & { name: string; pax?: Record<string, string> };

/** The largest owner tar-stream's six-digit octal uid/gid fields can spell. */
const MAX_USTAR_ID = 0o777777;

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';

/**
 * Streams `upperDir` as an uncompressed layer tar. Entries are sorted by name with each directory
 * before its contents; a whiteout becomes an empty `.wh.<name>` file, an opaque directory is followed
 * by `.wh..wh..opq`; `trusted.overlay.*` xattrs stay behind while others travel as PAX
 * `SCHILY.xattr.*`; a second path to an inode already written becomes a hard link; ids are shifted
 * back from the user-namespace range to the container's own.
 */
export function tarUpper(ctx: EngineContext, upperDir: string, opts: TarUpperOptions = {}): Readable {
  const pack = tar.pack();
  const tree = Tree.open(upperDir);
  if (!tree) {
    pack.destroy(new LayerlabError('STORE', `no upper dir at ${upperDir}`, { input: upperDir }));
  } else {
    new UpperTarWriter(ctx, tree, pack, opts)
      .run()
      .finally(() => tree.close())
      .then(
        () => pack.finalize(),
        (err: unknown) => pack.destroy(err as Error),
      );
  }
  return Readable.from(pack as AsyncIterable<Uint8Array>, { objectMode: false });
}

interface Planned {
  /** Name in the tar, relative, no leading slash. */
  name: string;
  /** Path of the entry in the upper dir (undefined for the synthetic opaque marker). */
  source: string | undefined;
  /** The entry's own stat; for the opaque marker, its directory's. */
  st: Stats | undefined;
  /** Whether this entry stands for a whiteout. */
  whiteout: boolean;
  /** Whether it is the opaque marker of the directory `st` describes. */
  opaque?: boolean;
}

class UpperTarWriter {
  private readonly hardlinks = new Map<string, string>();
  private readonly ctx: EngineContext;
  private readonly upper: Tree;
  private readonly pack: tar.Pack;
  private readonly opts: TarUpperOptions;

  constructor(ctx: EngineContext, upper: Tree, pack: tar.Pack, opts: TarUpperOptions) {
    this.ctx = ctx;
    this.upper = upper;
    this.pack = pack;
    this.opts = opts;
  }

  async run(): Promise<void> {
    await this.dir('');
  }

  /** Writes the children of `rel` (`''` = the root, `etc` = upper/etc), recursing into directories. */
  private async dir(rel: string): Promise<void> {
    const names = this.upper.readdir(rel || '/') ?? [];
    const planned = names.flatMap((name) => this.plan(rel, name) ?? []);
    planned.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
    for (const item of planned) {
      await this.write(item);
      if (item.st?.isDirectory() && !item.whiteout) {
        const childRel = rel === '' ? entryBase(item.name) : `${rel}/${entryBase(item.name)}`;
        if (isOpaqueDir(this.upper, item.source!)) {
          await this.write({
            name: `${childRel}/${OPAQUE_WHITEOUT}`,
            source: undefined,
            st: item.st,
            whiteout: true,
            opaque: true,
          });
        }
        await this.dir(childRel);
      }
    }
  }

  /** What to write for `name` in `rel`; undefined when it is gone since the listing. */
  private plan(rel: string, name: string): Planned | undefined {
    const source = `${rel}/${name}`;
    const st = this.upper.lstat(source);
    if (st === undefined) return undefined;
    const prefix = rel === '' ? '' : `${rel}/`;
    if (isWhiteout(st)) {
      return { name: `${prefix}${WHITEOUT_PREFIX}${name}`, source, st, whiteout: true };
    }
    return { name: `${prefix}${name}${st.isDirectory() ? '/' : ''}`, source, st, whiteout: false };
  }

  private async write(item: Planned): Promise<void> {
    const { st, source } = item;
    if (item.whiteout || st === undefined || source === undefined) {
      // Empty regular files, as Docker's archive writes them (moby pkg/archive, the overlay whiteout
      // converter): a removed entry's `.wh.` file has mode 0600 and the whiteout device's owner; the
      // opaque marker takes its directory's permissions and owner.
      const mtime = this.clamp(st ? st.mtime : new Date(0));
      const mode = item.opaque && st ? st.mode & 0o777 : 0o600;
      const uid = st ? this.unshift(st.uid) : 0;
      const gid = st ? this.unshift(st.gid) : 0;
      await this.entry({ name: item.name, type: 'file', size: 0, mode, uid, gid, mtime });
      return;
    }
    const uid = this.unshift(st.uid);
    const gid = this.unshift(st.gid);
    const header: EntryHeader = {
      name: item.name,
      // tar-stream replaces a mode of 0 by 0644/0755 (`if (!header.mode)`) but writes only the low
      // twelve bits: passing the whole st_mode, file-type bits included, keeps a mode-000 file 000,
      // as Docker's archive (Go's tar.FileInfoHeader) stores it.
      mode: st.mode,
      uid,
      gid,
      mtime: this.clamp(st.mtime),
      size: 0,
    };
    let pax = st.isDirectory() || st.isFile() ? this.xattrs(source) : undefined;
    // tar-stream's ustar owner fields hold six octal digits and silently write 777777 for more; a
    // larger owner travels as PAX `uid`/`gid`, as Go's archive/tar writes it.
    if (uid > MAX_USTAR_ID || gid > MAX_USTAR_ID) {
      pax = { ...pax, uid: String(uid), gid: String(gid) };
    }
    if (pax) header.pax = pax;
    if (st.isDirectory()) {
      await this.entry({ ...header, type: 'directory' });
    } else if (st.isSymbolicLink()) {
      const linkname = this.upper.readlink(source);
      if (linkname === undefined) throw changedError(source);
      await this.entry({ ...header, type: 'symlink', linkname });
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? this.hardlinks.get(key) : undefined;
      if (first !== undefined) {
        await this.entry({ ...header, type: 'link', linkname: first });
        return;
      }
      if (st.nlink > 1) this.hardlinks.set(key, item.name);
      await this.file({ ...header, type: 'file', size: st.size }, source, st);
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const type = st.isCharacterDevice() ? 'character-device' : 'block-device';
      await this.entry({ ...header, type, devmajor: major(st.rdev), devminor: minor(st.rdev) });
    } else if (st.isFIFO()) {
      await this.entry({ ...header, type: 'fifo' });
    }
    // Sockets cannot be stored in a tar; Docker skips them too.
  }

  private entry(header: EntryHeader): Promise<void> {
    return new Promise((resolve, reject) => {
      // An empty body ends the entry at once; without one tar-stream waits for the sink to end.
      this.pack.entry(header, EMPTY, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** A regular file's bytes, piped in so a large file never sits in memory whole. */
  private file(header: EntryHeader, source: string, planned: Stats): Promise<void> {
    const fd = this.upper.openFd(
      source,
      fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY,
    );
    if (fd === undefined) throw changedError(source);
    const st = fstatSync(fd);
    if (!st.isFile() || st.ino !== planned.ino || st.dev !== planned.dev) {
      closeSync(fd);
      throw changedError(source);
    }
    return new Promise((resolve, reject) => {
      const input = createReadStream('', { fd, autoClose: true });
      // A file that changes size while read fails the entry (tar-stream: "Size mismatch"), and with
      // it the whole stream: a running container must be paused first (commit does).
      const fail = (err: Error) => {
        input.destroy();
        reject(err);
      };
      const sink = this.pack.entry(header, (err) => (err ? fail(err) : resolve()));
      sink.on('error', fail);
      input.on('error', (err) => {
        sink.destroy(err);
        fail(err);
      });
      input.pipe(sink as unknown as NodeJS.WritableStream);
    });
  }

  /** Container ids: the upper dir holds host ids shifted by the user-namespace base. */
  private unshift(id: number): number {
    const { usernsBase, usernsSize } = this.ctx.config;
    return id >= usernsBase && id < usernsBase + usernsSize ? id - usernsBase : id;
  }

  private clamp(mtime: Date): Date {
    const limit = this.opts.mtime;
    return limit && mtime.getTime() > limit.getTime() ? limit : mtime;
  }

  /** Xattrs other than overlayfs' own, as PAX records; binary values that are not UTF-8 are skipped. */
  private xattrs(path: string): Record<string, string> | undefined {
    let pax: Record<string, string> | undefined;
    for (const [name, value] of this.upper.xattrs(path)) {
      if (name.startsWith('trusted.overlay.')) continue;
      const text = value.toString('utf8');
      if (!Buffer.from(text, 'utf8').equals(value)) continue;
      pax ??= {};
      pax[`SCHILY.xattr.${name}`] = text;
    }
    return pax;
  }
}

/** The upper dir changed under the writer: commit pauses the container, so this is not expected. */
function changedError(path: string): LayerlabError {
  return new LayerlabError('STORE', `${path} changed while it was being archived`, { input: path });
}

function entryBase(name: string): string {
  const trimmed = name.endsWith('/') ? name.slice(0, -1) : name;
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** glibc's gnu_dev_major/minor over the st_rdev Node reports. */
function major(rdev: number): number {
  return ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
}

function minor(rdev: number): number {
  return (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
}
