// `docker cp` between a container's filesystem and a host path, with Docker's rules for files,
// directories, `dir/.` and missing destinations. The container's side is read and written through
// engine/fs/in-root.ts (every parent resolved inside its tree, every last name never followed), and
// owners shifted by the user namespace; the host side is the caller's, and only the CLI decides
// whether it may be used at all (never in the browser terminal).

import {
  closeSync,
  constants as fsConstants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  type Stats,
  statSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { join, posix } from 'node:path';
import type { EngineContext } from '../context.ts';
import { InvalidArgumentError, NotFoundError } from '../errors.ts';
import { Tree } from '../fs/in-root.ts';
import { rootfsPaths } from '../runtime/overlay.ts';
import { resolveContainer } from './lifecycle.ts';
import { containerDir } from './state.ts';

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY, O_DIRECTORY } = fsConstants;
const CHUNK = 64 * 1024;

/** What was copied: bytes as Docker counts them (its tar stream's size), for "Successfully copied". */
export interface CopyResult {
  bytes: number;
}

/** A tar stream's size for one entry: its header and the content padded to 512-byte blocks. */
function tarBytes(size: number): number {
  return 512 + Math.ceil(size / 512) * 512;
}

function openTree(ctx: EngineContext, id: string): Tree {
  const tree = Tree.open(rootfsPaths(containerDir(ctx, id)).merged);
  if (!tree) throw new NotFoundError(`container ${id} has no filesystem mounted`, id);
  return tree;
}

/**
 * Where a copy lands on a destination: into an existing directory under the source's name, over an
 * existing file, or as the destination itself; `contentsOnly` (`SRC/.`) copies a directory's entries.
 */
function target(
  srcIsDir: boolean,
  srcPath: string,
  dest: { exists: boolean; isDir: boolean },
  destPath: string,
): string {
  const contentsOnly = /\/\.$/.test(srcPath);
  if (!dest.exists) {
    if (!srcIsDir && destPath.endsWith('/')) {
      throw new InvalidArgumentError(`no such directory: ${destPath}`, destPath);
    }
    return destPath;
  }
  if (dest.isDir)
    return contentsOnly ? destPath : posix.join(destPath, posix.basename(srcPath.replace(/\/+$/, '')));
  if (srcIsDir) throw new InvalidArgumentError('cannot copy a directory to a file', destPath);
  return destPath;
}

/** `docker cp CONTAINER:SRC HOST_DEST`. */
export async function copyFromContainer(
  ctx: EngineContext,
  idOrName: string,
  src: string,
  hostDest: string,
): Promise<CopyResult> {
  const record = await resolveContainer(ctx, idOrName);
  const tree = openTree(ctx, record.id);
  try {
    const srcStat = tree.atEntry(src, (p) => safeLstat(p));
    if (!srcStat) throw new NotFoundError(`Could not find the file ${src} in container ${idOrName}`, src);
    const destStat = safeStat(hostDest);
    const landing = target(
      srcStat.isDirectory(),
      src,
      { exists: destStat !== undefined, isDir: destStat?.isDirectory() ?? false },
      hostDest,
    );
    const result = { bytes: 1024 };
    const copy = (from: string, to: string): void => {
      tree.atEntry(from, (proc) => {
        const st = lstatSync(proc);
        if (st.isSymbolicLink()) {
          symlinkSync(readlinkSync(proc), to);
          result.bytes += 512;
        } else if (st.isDirectory()) {
          const names = listDir(tree, from);
          if (!safeStat(to)?.isDirectory()) mkdirSync(to, { mode: st.mode & 0o7777 });
          result.bytes += 512;
          for (const name of names.sort()) copy(posix.join(from, name), join(to, name));
        } else if (st.isFile()) {
          const fd = openSync(proc, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
          try {
            const opened = fstatSync(fd);
            if (!opened.isFile()) return;
            const out = openSync(to, 'w', opened.mode & 0o7777);
            try {
              pump(fd, out);
            } finally {
              closeSync(out);
            }
            result.bytes += tarBytes(opened.size);
          } finally {
            closeSync(fd);
          }
        }
        // Devices, FIFOs and sockets are not copied out: they are the container's, not files.
      });
    };
    if (srcStat.isDirectory() && /\/\.$/.test(src) && destStat === undefined) mkdirSync(hostDest);
    if (srcStat.isDirectory() && /\/\.$/.test(src)) {
      const base = src.replace(/\/\.$/, '') || '/';
      const names = listDir(tree, base);
      for (const name of names.sort()) copy(posix.join(base, name), join(landing, name));
    } else {
      copy(src, landing);
    }
    return result;
  } finally {
    tree.close();
  }
}

/** `docker cp HOST_SRC CONTAINER:DEST`: files land owned by the container's root. */
export async function copyToContainer(
  ctx: EngineContext,
  idOrName: string,
  hostSrc: string,
  dest: string,
): Promise<CopyResult> {
  const record = await resolveContainer(ctx, idOrName);
  const srcStat = safeLstat(hostSrc);
  if (!srcStat) throw new NotFoundError(`lstat ${hostSrc}: no such file or directory`, hostSrc);
  const owner = { uid: ctx.config.usernsBase, gid: ctx.config.usernsBase };
  const tree = openTree(ctx, record.id);
  try {
    const destStat = tree.stat(dest);
    if (destStat === undefined) {
      const parent = posix.dirname(posix.resolve('/', dest));
      if (!tree.stat(parent)?.isDirectory()) {
        throw new NotFoundError(`Could not find the file ${parent} in container ${idOrName}`, dest);
      }
    }
    const landing = target(
      srcStat.isDirectory(),
      hostSrc,
      { exists: destStat !== undefined, isDir: destStat?.isDirectory() ?? false },
      dest,
    );
    const result = { bytes: 1024 };
    const copy = (from: string, to: string): void => {
      const st = lstatSync(from);
      if (st.isSymbolicLink()) {
        tree.symlink(to, readlinkSync(from), owner);
        result.bytes += 512;
      } else if (st.isDirectory()) {
        if (!tree.mkdirs(to, st.mode & 0o7777, owner)) {
          throw new InvalidArgumentError(`cannot overwrite non-directory ${to} with directory`, to);
        }
        result.bytes += 512;
        for (const name of readdirSync(from).sort()) copy(join(from, name), posix.join(to, name));
      } else if (st.isFile()) {
        const out = tree.createFile(to, st.mode, owner);
        if (out === undefined)
          throw new NotFoundError(
            `Could not find the file ${posix.dirname(to)} in container ${idOrName}`,
            to,
          );
        try {
          const fd = openSync(from, O_RDONLY | O_NOFOLLOW);
          try {
            pump(fd, out);
          } finally {
            closeSync(fd);
          }
        } finally {
          closeSync(out);
        }
        result.bytes += tarBytes(st.size);
      }
    };
    if (srcStat.isDirectory() && /\/\.$/.test(hostSrc)) {
      const base = hostSrc.replace(/\/\.$/, '');
      if (destStat === undefined && !tree.mkdirs(landing, srcStat.mode & 0o7777, owner)) {
        throw new InvalidArgumentError(`cannot create ${landing}`, landing);
      }
      for (const name of readdirSync(base).sort()) copy(join(base, name), posix.join(landing, name));
    } else {
      copy(hostSrc, landing);
    }
    return result;
  } finally {
    tree.close();
  }
}

/** The names in the container's directory `path`, its last component never followed. */
function listDir(tree: Tree, path: string): string[] {
  if (posix.resolve('/', path) === '/') return tree.readdir('') ?? [];
  return (
    tree.atEntry(path, (proc) => {
      const fd = openSync(proc, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      try {
        // The fd's own magic link names the directory already opened: nothing is resolved again.
        return readdirSync(`/proc/self/fd/${fd}`);
      } finally {
        closeSync(fd);
      }
    }) ?? []
  );
}

function pump(from: number, to: number): void {
  const buf = Buffer.alloc(CHUNK);
  for (;;) {
    const n = readSync(from, buf, 0, CHUNK, null);
    if (n === 0) return;
    let written = 0;
    while (written < n) written += writeSync(to, buf, written, n - written);
  }
}

function safeLstat(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

function safeStat(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}
