// COPY and ADD without a container: the sources are read from the build context and written straight
// into a layer tar, sorted, with fixed owners and clamped mtimes so the same context gives the same tar.

import { createReadStream, type Stats } from 'node:fs';
import { lstat, readdir, readlink, realpath } from 'node:fs/promises';
import { posix, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { BuildError } from '../errors.ts';

export interface CopyPlan {
  /** Host paths under the context and the absolute path each becomes in the image, sorted by target. */
  entries: { source: string; target: string; stats: Stats }[];
  /** Parent directories of the destination that the layer must carry. */
  parents: string[];
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
async function resolveSource(contextDir: string, source: string): Promise<string[]> {
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
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => re.test(n)).sort();
    if (names.length === 0) throw new BuildError(`COPY failed: no source files were specified for ${source}`);
    return names.map((n) => resolve(dir, n));
  }
  try {
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

async function walk(dir: string, target: string, out: CopyPlan['entries']): Promise<void> {
  for (const name of (await readdir(dir)).sort()) {
    const source = resolve(dir, name);
    const stats = await lstat(source);
    const path = posix.join(target, name);
    out.push({ source, target: path, stats });
    if (stats.isDirectory()) await walk(source, path, out);
  }
}

/**
 * Works out what `COPY sources… dest` puts where, with Docker's rules: a directory source copies its
 * contents; several sources or a `dest/` ending need `dest` to be a directory.
 */
export async function planCopy(
  contextDir: string,
  sources: string[],
  dest: string,
  workdir: string,
): Promise<CopyPlan> {
  const resolved = (await Promise.all(sources.map((s) => resolveSource(contextDir, s)))).flat();
  const destAbs = posix.resolve(workdir || '/', dest);
  const destIsDir = dest.endsWith('/') || dest.endsWith('/.') || resolved.length > 1;
  const entries: CopyPlan['entries'] = [];
  let hasDir = false;
  for (const source of resolved) {
    const stats = await lstat(source);
    if (stats.isDirectory()) {
      hasDir = true;
      entries.push({ source, target: destAbs, stats });
      await walk(source, destAbs, entries);
    } else {
      const name = posix.basename(relative(contextDir, source).split(sep).join('/'));
      entries.push({ source, target: destIsDir ? posix.join(destAbs, name) : destAbs, stats });
    }
  }
  if (destIsDir && !entries.some((e) => e.target === destAbs)) {
    const stats = await lstat(contextDir);
    entries.push({ source: contextDir, target: destAbs, stats });
  }
  // Later sources win on the same target, as they would overwrite in the image.
  const byTarget = new Map(entries.map((e) => [e.target, e]));
  const sorted = [...byTarget.values()].sort((a, b) =>
    a.target < b.target ? -1 : a.target > b.target ? 1 : 0,
  );
  const parents: string[] = [];
  const first = sorted[0]?.target ?? destAbs;
  for (let dir = posix.dirname(first); dir !== '/'; dir = posix.dirname(dir)) parents.unshift(dir);
  return { entries: sorted, parents: parents.filter((p) => !byTarget.has(p)), hasDir };
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
    for (const dir of plan.parents) {
      // Parent directories Docker creates for the destination belong to root, whatever --chown says.
      await put({
        name: `${dir.slice(1)}/`,
        type: 'directory',
        mode: 0o755,
        uid: 0,
        gid: 0,
        mtime: opts.mtime,
      });
    }
    for (const { source, target, stats } of plan.entries) {
      if (target === '/') continue; // the image root is not an entry of its own
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
