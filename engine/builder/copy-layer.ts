// COPY and ADD without a container: the sources are read from the build context and written straight
// into a layer tar, sorted, with fixed owners and clamped mtimes so the same context gives the same tar.

import { spawn } from 'node:child_process';
import { createReadStream, type Stats } from 'node:fs';
import { lstat, open, readdir, readlink, realpath } from 'node:fs/promises';
import { posix, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
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
  /** ADD of a local archive: its contents are extracted into `target` instead (a directory). */
  unpack?: ArchiveKind;
}

/** The compressions Docker's ADD recognises on a local archive (pkg/archive DetectCompression). */
export type ArchiveKind = 'tar' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

export interface CopyPlan {
  /** Host paths under the context and the absolute path each becomes in the image, sorted by target. */
  entries: CopyEntry[];
  /** Parent directories of the destination the layer must carry, with the image's metadata if any. */
  parents: { path: string; meta?: DirMeta }[];
  /** Whether any source was a directory (Docker's history says `dir:` then, else `file:`). */
  hasDir: boolean;
}

export interface CopyOptions {
  /** Owner of everything copied and of the directories the copy creates (`--chown`, else root). */
  uid: number;
  gid: number;
  /** `--chmod`: the mode of every copied file and directory. */
  mode?: number;
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
  const endsAsDir = dest.endsWith('/') || dest === '.' || dest.endsWith('/.');
  if (resolved.length > 1 && !endsAsDir) {
    // The classic builder's check and text (builder/dockerfile/copy.go), after wildcards are expanded.
    throw new BuildError(
      'When using COPY with more than one source file, the destination must be a directory and end with a /',
      { input: dest },
    );
  }
  const destIsDir = endsAsDir || resolved.length > 1 || destMeta !== undefined;
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

/** The archive kind of a file by its first bytes, as Docker detects it, or undefined. */
export async function archiveKind(path: string): Promise<ArchiveKind | undefined> {
  const handle = await open(path);
  try {
    const head = Buffer.alloc(262);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const magic = head.subarray(0, Math.min(bytesRead, 6));
    if (magic[0] === 0x1f && magic[1] === 0x8b) return 'gzip';
    if (magic.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
    if (magic.equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
    if (magic.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'zstd';
    if (bytesRead >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
    return undefined;
  } finally {
    await handle.close();
  }
}

/**
 * ADD: marks the sources Docker would extract (files named directly, not inside a copied directory,
 * that read as a tar, plain or compressed). Their contents go into the destination directory.
 */
export async function markArchives(plan: CopyPlan, contextDir: string, destAbs: string): Promise<void> {
  for (const entry of plan.entries) {
    if (!entry.stats.isFile() || entry.dir !== undefined) continue;
    if (
      plan.entries.some(
        (e) => e.dir !== undefined && entry.target.startsWith(`${e.target}/`) && e.source !== contextDir,
      )
    ) {
      continue;
    }
    const kind = await archiveKind(entry.source);
    // Docker extracts only what decompresses to a tar (archive.IsArchivePath); anything else is copied.
    if (kind === undefined || !(await startsWithTarHeader(entry.source, kind))) continue;
    entry.unpack = kind;
    // `ADD a.tar /srv` and `ADD a.tar /srv/` both extract into /srv.
    entry.target = entry.target === destAbs ? destAbs : posix.dirname(entry.target);
  }
}

/** The plan of `WORKDIR dir` when the image lacks it: the directory and missing parents. */
export async function mkdirPlan(
  path: string,
  contextDir: string,
  existingDir: ExistingDir,
): Promise<CopyPlan> {
  const stats = await lstat(contextDir);
  const parents: CopyPlan['parents'] = [];
  for (let dir = posix.dirname(path); dir !== '/'; dir = posix.dirname(dir)) {
    const meta = await existingDir(dir);
    parents.unshift(meta ? { path: dir, meta } : { path: dir });
  }
  return { entries: [{ source: contextDir, target: path, stats, dir: 'new' }], parents, hasDir: true };
}

/** Whether the (decompressed) file opens with a valid tar header: the checksum of its first block. */
async function startsWithTarHeader(path: string, kind: ArchiveKind): Promise<boolean> {
  const stream = decompressed(path, kind);
  const chunks: Buffer[] = [];
  let have = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      have += chunk.length;
      if (have >= 512) break;
    }
  } catch {
    return false;
  } finally {
    stream.destroy();
  }
  const block = Buffer.concat(chunks).subarray(0, 512);
  if (block.length < 512) return false;
  const stored = Number.parseInt(block.subarray(148, 156).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return stored === sum;
}

/** The decompressed bytes of an archive: zlib for gzip and zstd, the system tools for bzip2 and xz. */
function decompressed(path: string, kind: ArchiveKind): Readable {
  const file = createReadStream(path);
  if (kind === 'tar') return file;
  if (kind === 'gzip') return file.pipe(createGunzip());
  if (kind === 'zstd') return file.pipe(createZstdDecompress());
  const child = spawn(kind === 'xz' ? 'xz' : 'bzip2', ['-dc'], { stdio: ['pipe', 'pipe', 'ignore'] });
  file.pipe(child.stdin);
  child.stdin.on('error', () => {});
  const out = child.stdout;
  child.on('close', (code) => {
    if (code !== 0) out.destroy(new BuildError(`ADD: ${path}: cannot decompress (${kind} exited ${code})`));
  });
  child.on('error', (err) => out.destroy(new BuildError(`ADD: cannot run ${kind}: ${err.message}`)));
  return out;
}

type Put = (header: Partial<tar.Header> & { name: string }, body?: NodeJS.ReadableStream) => Promise<void>;

/**
 * Re-emits an archive's entries under `dir`, as Docker's ADD extracts it: owners and modes from the
 * archive (unless --chown), names kept inside `dir` (`..` and absolute names cannot leave it).
 */
async function extractInto(source: string, kind: ArchiveKind, dir: string, opts: CopyOptions, put: Put) {
  const inside = (name: string) => posix.join(dir, posix.normalize(`/${name}`)).slice(1);
  const clamp = (d: Date | undefined) =>
    d === undefined || d.getTime() > opts.mtime.getTime() ? opts.mtime : d;
  const chown = opts.uid !== 0 || opts.gid !== 0;
  const extract = tar.extract();
  const done = new Promise<void>((ok, fail) => {
    extract.on('entry', (header, body, next) => {
      const name = inside(header.name);
      const common = {
        mode: header.mode ?? 0o644,
        uid: chown ? opts.uid : (header.uid ?? 0),
        gid: chown ? opts.gid : (header.gid ?? 0),
        mtime: clamp(header.mtime),
      };
      let written: Promise<void>;
      if (name === '' || (header.type === 'directory' && `${name}/` === `${dir.slice(1)}/`)) {
        written = Promise.resolve();
        body.resume();
      } else if (header.type === 'file' || header.type === 'contiguous-file') {
        written = put({ ...common, name, type: 'file', size: header.size ?? 0 }, Readable.from(body));
      } else {
        body.resume();
        if (header.type === 'directory') written = put({ ...common, name: `${name}/`, type: 'directory' });
        else if (header.type === 'symlink')
          written = put({ ...common, name, type: 'symlink', linkname: header.linkname ?? '' });
        else if (header.type === 'link')
          written = put({ ...common, name, type: 'link', linkname: inside(header.linkname ?? '') });
        else
          written = Promise.reject(
            new BuildError(`ADD: ${header.name}: ${header.type} entries are not extracted by Layerlab`),
          );
      }
      written.then(() => next(), fail);
    });
    extract.on('finish', () => ok());
    extract.on('error', fail);
  });
  const stream = decompressed(source, kind);
  stream.on('error', (err) => extract.destroy(err));
  stream.pipe(extract);
  await done;
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
    // Directories the copy creates belong to the --chown owner, as in both of Docker's builders
    // (MkdirAllAndChownNew / BuildKit's CreateDestPath); ones the image has keep their metadata.
    const created = { mode: 0o755, uid: opts.uid, gid: opts.gid, mtime: opts.mtime };
    const written = new Set<string>();
    for (const { path, meta } of plan.parents) {
      const m = meta ?? created;
      written.add(path);
      await put({ name: `${path.slice(1)}/`, type: 'directory', ...m, mtime: clamp(m.mtime) });
    }
    for (const { source, target, stats, dir, unpack } of plan.entries) {
      if (unpack !== undefined) {
        if (target !== '/' && !written.has(target)) {
          written.add(target);
          await put({ name: `${target.slice(1)}/`, type: 'directory', ...created });
        }
        await extractInto(source, unpack, target, opts, put);
        continue;
      }
      if (target === '/') continue; // the image root is not an entry of its own
      if (dir !== undefined) {
        written.add(target);
        const m = dir === 'new' ? { ...created, mode: opts.mode ?? 0o755 } : dir;
        await put({ name: `${target.slice(1)}/`, type: 'directory', ...m, mtime: clamp(m.mtime) });
        continue;
      }
      const base = {
        name: target.slice(1),
        mode: opts.mode ?? stats.mode & 0o7777,
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
