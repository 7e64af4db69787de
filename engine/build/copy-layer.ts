// COPY and ADD without a container: the sources are read from the build context and written straight
// into a layer tar, sorted, with fixed owners and clamped mtimes so the same context gives the same tar.

import { createReadStream, type Stats } from 'node:fs';
import { lstat, open, readdir, readlink, realpath } from 'node:fs/promises';
import { posix, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { BuildError } from '../errors.ts';

/** A directory's metadata as the image already has it (ids as the container sees them). */
export interface DirMeta {
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
}

/** Whether a context path (relative, `/`-separated) is excluded by .dockerignore. */
export type Ignored = (relativePath: string) => boolean;

interface WalkContext {
  contextDir: string;
  ignored: Ignored;
}

export interface PlanOptions {
  /** WORKDIR, against which a relative destination resolves. */
  workdir?: string;
  existingDir?: ExistingDir;
  ignored?: Ignored;
}

/** Looks a directory up in the image being built; undefined when it is not there. */
export type ExistingDir = (absolutePath: string) => Promise<DirMeta | undefined>;

interface CopyEntry {
  source: string;
  target: string;
  stats: Stats;
  /** For the destination directory: the image's own metadata, or `new` for one COPY creates. */
  dir?: DirMeta | 'new';
}

export interface CopyPlan {
  /** Host paths under the context and the absolute path each becomes in the image, sorted by target. */
  entries: CopyEntry[];
  /** Parent directories of the destination the layer must carry, with the image's metadata if any. */
  parents: { path: string; meta?: DirMeta }[];
  /** Whether any source was a directory (Docker's history says `dir:` then, else `file:`). */
  hasDir: boolean;
}

export interface CopyOptions {
  uid: number;
  gid: number;
  /** Every mtime is clamped to at most this (reproducible builds). */
  mtime: Date;
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]');
  return new RegExp(`^${escaped}$`);
}

/** Resolves one source inside the context; refuses paths that leave it, as Docker does. */
/** The path relative to the context, with `/` separators, as .dockerignore patterns see it. */
function contextRelative(contextDir: string, path: string): string {
  return relative(contextDir, path).split(sep).join('/');
}

async function resolveSource(contextDir: string, source: string, ignored: Ignored): Promise<string[]> {
  if (/^[a-z]+:\/\//i.test(source)) {
    throw new BuildError(
      `${source}: remote URLs in ADD are not supported by Layerlab; download the file into the context`,
    );
  }
  const clean = posix.normalize(`/${source}`);
  const full = resolve(contextDir, `.${clean}`);
  const real = await realpath(contextDir);
  if (
    full !== real &&
    !full.startsWith(real + sep) &&
    full !== contextDir &&
    !full.startsWith(contextDir + sep)
  ) {
    throw new BuildError(`forbidden path outside the build context: ${source}`, { input: source });
  }
  const base = posix.basename(clean);
  if (/[*?]/.test(base)) {
    const dir = resolve(contextDir, `.${posix.dirname(clean)}`);
    const re = globToRegExp(base);
    const names = (await readdir(dir).catch(() => [] as string[]))
      .filter((n) => re.test(n) && !ignored(contextRelative(contextDir, resolve(dir, n))))
      .sort();
    if (names.length === 0) throw new BuildError(`COPY failed: no source files were specified for ${source}`);
    return names.map((n) => resolve(dir, n));
  }
  try {
    if (full !== contextDir && ignored(contextRelative(contextDir, full))) throw new Error('excluded');
    await lstat(full);
  } catch {
    throw new BuildError(
      `COPY failed: file not found in build context or excluded by .dockerignore: stat ${source}: file does not exist`,
      {
        input: source,
      },
    );
  }
  return [full];
}

async function walk(dir: string, target: string, out: CopyEntry[], ctx: WalkContext): Promise<void> {
  for (const name of (await readdir(dir)).sort()) {
    const source = resolve(dir, name);
    if (ctx.ignored(contextRelative(ctx.contextDir, source))) continue;
    const stats = await lstat(source);
    const path = posix.join(target, name);
    out.push({ source, target: path, stats });
    if (stats.isDirectory()) await walk(source, path, out, ctx);
  }
}

/**
 * Works out what `COPY sources… dest` puts where, with Docker's rules: a directory source copies its
 * contents; several sources, a `dest/` ending or a directory already at `dest` in the image put the
 * sources inside it. Directories the image already has keep their mode and owner in the layer.
 */
export async function planCopy(
  contextDir: string,
  sources: string[],
  dest: string,
  opts: PlanOptions = {},
): Promise<CopyPlan> {
  const ignored = opts.ignored ?? (() => false);
  const existingDir = opts.existingDir ?? (async () => undefined);
  const resolved = (await Promise.all(sources.map((s) => resolveSource(contextDir, s, ignored)))).flat();
  const destAbs = posix.resolve(opts.workdir || '/', dest);
  const destMeta = await existingDir(destAbs);
  const destIsDir =
    dest.endsWith('/') || dest.endsWith('/.') || resolved.length > 1 || destMeta !== undefined;
  const entries: CopyEntry[] = [];
  let hasDir = false;
  for (const source of resolved) {
    const stats = await lstat(source);
    if (stats.isDirectory()) {
      hasDir = true;
      entries.push({ source, target: destAbs, stats, dir: destMeta ?? 'new' });
      await walk(source, destAbs, entries, { contextDir, ignored });
    } else {
      const name = posix.basename(relative(contextDir, source).split(sep).join('/'));
      entries.push({ source, target: destIsDir ? posix.join(destAbs, name) : destAbs, stats });
    }
  }
  if (destIsDir && !entries.some((e) => e.target === destAbs)) {
    entries.push({
      source: contextDir,
      target: destAbs,
      stats: await lstat(contextDir),
      dir: destMeta ?? 'new',
    });
  }
  // Later sources win on the same target, as they would overwrite in the image.
  const byTarget = new Map(entries.map((e) => [e.target, e]));
  const sorted = [...byTarget.values()].sort((a, b) =>
    a.target < b.target ? -1 : a.target > b.target ? 1 : 0,
  );
  const parents: CopyPlan['parents'] = [];
  const first = sorted[0]?.target ?? destAbs;
  for (let dir = posix.dirname(first); dir !== '/'; dir = posix.dirname(dir)) {
    if (byTarget.has(dir)) continue;
    const meta = await existingDir(dir);
    parents.unshift(meta ? { path: dir, meta } : { path: dir });
  }
  return { entries: sorted, parents, hasDir };
}

/** Whether the file starts like a tar or a compressed stream, which Docker's ADD would unpack. */
async function looksLikeArchive(path: string): Promise<boolean> {
  const handle = await open(path);
  try {
    const head = Buffer.alloc(262);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const magic = head.subarray(0, Math.min(bytesRead, 6));
    return (
      (magic[0] === 0x1f && magic[1] === 0x8b) || // gzip
      magic.subarray(0, 3).toString('latin1') === 'BZh' ||
      magic.equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) || // xz
      magic.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])) || // zstd
      (bytesRead >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar')
    );
  } finally {
    await handle.close();
  }
}

/** The first top-level source of an ADD that Docker would unpack rather than copy, if any. */
export async function findLocalArchive(plan: CopyPlan, contextDir: string): Promise<string | undefined> {
  for (const entry of plan.entries) {
    if (!entry.stats.isFile() || entry.dir !== undefined) continue;
    // Only sources named directly are unpacked by Docker, not files inside a copied directory.
    if (
      plan.entries.some(
        (e) => e.dir !== undefined && entry.target.startsWith(`${e.target}/`) && e.source !== contextDir,
      )
    ) {
      continue;
    }
    if (await looksLikeArchive(entry.source)) return relative(contextDir, entry.source);
  }
  return undefined;
}

/** Streams the plan as an uncompressed layer tar. */
export function copyLayerTar(plan: CopyPlan, opts: CopyOptions): Readable {
  const pack = tar.pack();
  const clamp = (d: Date) => (d.getTime() > opts.mtime.getTime() ? opts.mtime : d);
  const put = (header: Partial<tar.Header> & { name: string }, body?: NodeJS.ReadableStream) =>
    new Promise<void>((ok, fail) => {
      if (body === undefined) {
        pack.entry(header, (err) => (err ? fail(err) : ok()));
        return;
      }
      const sink = pack.entry(header, (err) => (err ? fail(err) : ok()));
      body.on('error', fail);
      body.pipe(sink);
    });
  const run = async () => {
    for (const { path, meta } of plan.parents) {
      // Parents the image lacks are made for root, whatever --chown says; existing ones keep theirs.
      const m = meta ?? { mode: 0o755, uid: 0, gid: 0, mtime: opts.mtime };
      await put({ name: `${path.slice(1)}/`, type: 'directory', ...m, mtime: clamp(m.mtime) });
    }
    for (const { source, target, stats, dir } of plan.entries) {
      if (target === '/') continue; // the image root is not an entry of its own
      if (dir !== undefined) {
        const m = dir === 'new' ? { mode: 0o755, uid: opts.uid, gid: opts.gid, mtime: opts.mtime } : dir;
        await put({ name: `${target.slice(1)}/`, type: 'directory', ...m, mtime: clamp(m.mtime) });
        continue;
      }
      const base = {
        name: target.slice(1),
        mode: stats.mode & 0o7777,
        uid: opts.uid,
        gid: opts.gid,
        mtime: clamp(stats.mtime),
      };
      if (stats.isDirectory()) await put({ ...base, name: `${base.name}/`, type: 'directory' });
      else if (stats.isSymbolicLink())
        await put({ ...base, type: 'symlink', linkname: await readlink(source) });
      else if (stats.isFile())
        await put({ ...base, type: 'file', size: stats.size }, createReadStream(source));
      else throw new BuildError(`COPY: ${source}: only files, directories and symlinks can be copied`);
    }
  };
  run().then(
    () => pack.finalize(),
    (err: unknown) => pack.destroy(err as Error),
  );
  return Readable.from(pack as AsyncIterable<Uint8Array>, { objectMode: false });
}
