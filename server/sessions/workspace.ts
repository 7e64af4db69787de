// The browser terminal's small filesystem: a per-session workspace dir (`<session root>/workspace`,
// made on first use, deleted with the session root) and the lesson build contexts, read-only. The
// reader names them by virtual paths (`image.tar`, `~/x`, `/workspace/x`, `/lessons/<name>`) that
// can never reach another host path, symlinks included.

import { constants } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, readdir, realpath, rename, unlink } from 'node:fs/promises';
import { dirname, join, posix, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EngineContext } from '../../engine/context.ts';
import { type ErrorCode, LayerlabError } from '../../engine/errors.ts';
import { humanSize } from '../../engine/format/text.ts';

/** The repo's lesson build contexts, shown to every session as `/lessons/<name>`. */
export const LESSON_CONTEXTS = fileURLToPath(new URL('../../content/lessons/contexts', import.meta.url));

export interface Workspace {
  /** The session's workspace on the host: `<session root>/workspace`. */
  readonly dir: string;
  /** The host dir whose subdirectories are `/lessons/<name>`. */
  readonly contexts: string;
  /** Bytes the workspace may hold; a save that would pass it is undone. */
  readonly limitBytes: number;
}

/** The workspace of a session's engine context; its size cap is the session's container disk limit. */
export function sessionWorkspace(
  ctx: Pick<EngineContext, 'paths' | 'config'>,
  options: { contexts?: string; limitBytes?: number } = {},
): Workspace {
  return {
    dir: join(ctx.paths.root, 'workspace'),
    contexts: options.contexts ?? LESSON_CONTEXTS,
    limitBytes: options.limitBytes ?? ctx.config.limits.containerDiskBytes,
  };
}

/** A path the terminal refuses or cannot use; the message is for the reader, with the path as typed. */
export class WorkspaceError extends LayerlabError {
  constructor(code: ErrorCode, message: string, input: string) {
    super(code, message, { input });
  }
}

export interface WorkspacePath {
  /** What the reader typed. */
  readonly input: string;
  /** The same place as this terminal names it: `/workspace/image.tar`, `/lessons/hello-build`. */
  readonly virtual: string;
  readonly hostPath: string;
  readonly writable: boolean;
  /** The host dir the path is under (the workspace, or the contexts dir). */
  readonly base: string;
  /** The part of `base` the path must stay in once symlinks are resolved: '' or a context's name. */
  readonly scope: string;
}

const HOME = '/workspace';
const LESSONS = '/lessons';

/**
 * Maps what the reader typed to a host path, lexically (no filesystem access): relative paths,
 * `~` and `/workspace/…` to the workspace, `/lessons/<name>/…` to that context; anything else is
 * refused. `realInside` then checks the real path on disk.
 */
export function resolveWorkspacePath(ws: Workspace, input: string): WorkspacePath | WorkspaceError {
  if (input === '' || input.includes('\0')) {
    return new WorkspaceError('INVALID_ARGUMENT', `invalid path ${JSON.stringify(input)}`, input);
  }
  let virtual: string;
  if (input === '~') virtual = HOME;
  else if (input.startsWith('~/')) virtual = `${HOME}/${input.slice(2)}`;
  else if (input.startsWith('/')) virtual = input;
  else virtual = `${HOME}/${input}`;
  // posix.resolve collapses `.` and `..` the way the kernel would for a real `/workspace` cwd.
  virtual = posix.resolve(virtual);
  const under = (root: string) => virtual === root || virtual.startsWith(`${root}/`);
  if (under(HOME)) {
    const rel = virtual.slice(HOME.length + 1);
    return { input, virtual, hostPath: join(ws.dir, rel), writable: true, base: ws.dir, scope: '' };
  }
  if (under(LESSONS)) {
    const rel = virtual.slice(LESSONS.length + 1);
    const scope = rel.split('/')[0]!;
    return { input, virtual, hostPath: join(ws.contexts, rel), writable: false, base: ws.contexts, scope };
  }
  return new WorkspaceError(
    'INVALID_ARGUMENT',
    `path ${input} is outside this terminal's workspace: use /lessons/<name> for the lesson build contexts, or a relative path for your workspace`,
    input,
  );
}

/** resolveWorkspacePath that throws its error. */
export function workspacePath(ws: Workspace, input: string): WorkspacePath {
  const resolved = resolveWorkspacePath(ws, input);
  if (resolved instanceof WorkspaceError) throw resolved;
  return resolved;
}

function within(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(sep) ? parent : `${parent}${sep}`);
}

/** Creates the workspace dir when a command first needs it. */
export async function ensureWorkspace(ws: Pick<Workspace, 'dir'>): Promise<void> {
  await mkdir(ws.dir, { recursive: true, mode: 0o700 });
}

/** Whether the host path `real` (already resolved) lies in `p`'s scope, taking the base's own real path. */
async function realInside(p: WorkspacePath, real: string): Promise<boolean> {
  return within(real, join(await realpath(p.base), p.scope));
}

function escapeError(p: WorkspacePath): WorkspaceError {
  return new WorkspaceError(
    'INVALID_ARGUMENT',
    `path ${p.input} leads outside ${p.writable ? 'your workspace' : `${LESSONS}/${p.scope}`} through a symbolic link`,
    p.input,
  );
}

/** The real host path of an existing `p`, refused when a symlink takes it out of its scope. */
async function realExisting(p: WorkspacePath, missing: () => WorkspaceError): Promise<string> {
  if (p.writable) await ensureWorkspace({ dir: p.base });
  let real: string;
  try {
    real = await realpath(p.hostPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR')
      throw missing();
    throw err;
  }
  if (!(await realInside(p, real))) throw escapeError(p);
  return real;
}

/** A build context: an existing directory in scope, as its real host path. */
export async function contextDir(ws: Workspace, input: string): Promise<string> {
  const p = workspacePath(ws, input);
  const missing = () =>
    new WorkspaceError('NOT_FOUND', `unable to prepare context: path "${input}" not found`, input);
  const real = await realExisting(p, missing);
  if (!(await lstat(real)).isDirectory()) {
    throw new WorkspaceError(
      'INVALID_ARGUMENT',
      `unable to prepare context: context must be a directory: ${input}`,
      input,
    );
  }
  return real;
}

/** A file to read (a Dockerfile for `-f`): an existing regular file in scope, as its real host path. */
export async function readableFile(ws: Workspace, input: string): Promise<string> {
  const p = workspacePath(ws, input);
  const real = await realExisting(
    p,
    () => new WorkspaceError('NOT_FOUND', `open ${input}: no such file or directory`, input),
  );
  if (!(await lstat(real)).isFile()) {
    throw new WorkspaceError('INVALID_ARGUMENT', `${input}: not a regular file`, input);
  }
  return real;
}

/**
 * Opens a file to read (`load -i`) without following a symlink in its last component, then checks
 * where the opened file really is (its /proc/self/fd link), so nothing can swap a link in between.
 */
export async function openForReading(ws: Workspace, input: string): Promise<FileHandle> {
  const p = workspacePath(ws, input);
  if (p.writable) await ensureWorkspace(ws);
  let handle: FileHandle;
  try {
    handle = await open(p.hostPath, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new WorkspaceError('NOT_FOUND', `open ${input}: no such file or directory`, input);
    if (code === 'ELOOP') throw escapeError(p);
    throw err;
  }
  try {
    if (!(await realInside(p, await realpath(`/proc/self/fd/${handle.fd}`)))) throw escapeError(p);
    if (!(await handle.stat()).isFile()) {
      throw new WorkspaceError('INVALID_ARGUMENT', `read ${input}: not a regular file`, input);
    }
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** Bytes of every file under the workspace (symlinks counted as themselves, never followed). */
export async function workspaceBytes(ws: Workspace): Promise<number> {
  let total = 0;
  const walk = async (dir: string): Promise<void> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else total += (await lstat(path).catch(() => ({ size: 0 }))).size;
    }
  };
  await walk(ws.dir);
  return total;
}

/** A file being written into the workspace: a temporary sibling renamed over the target on commit. */
export interface PendingFile {
  readonly handle: FileHandle;
  /** Checks the workspace's size and renames into place; undoes the write when over the limit. */
  commit(): Promise<void>;
  /** Removes the temporary file (a failed save leaves the target as it was, as Docker's CLI does). */
  abort(): Promise<void>;
}

function limitError(ws: Workspace, input: string, held: number): WorkspaceError {
  return new WorkspaceError(
    'SIZE_EXCEEDED',
    `write ${input}: your workspace would hold ${humanSize(held)}, over its limit of ${humanSize(ws.limitBytes)} (the session's disk limit); remove a file with 'rm FILE'`,
    input,
  );
}

/**
 * Creates a file for `save -o` in the workspace: refused outside it, over a symlink out of it, or
 * when the workspace is already full. The data goes to a new temporary file (O_EXCL, O_NOFOLLOW)
 * that `commit` renames over the target, which never follows a symlink at the target either.
 */
export async function createForWriting(ws: Workspace, input: string): Promise<PendingFile> {
  const p = workspacePath(ws, input);
  if (!p.writable) {
    throw new WorkspaceError(
      'INVALID_ARGUMENT',
      `path ${input} is read-only: ${LESSONS} holds the lesson build contexts; write to a relative path in your workspace`,
      input,
    );
  }
  if (p.hostPath === ws.dir) {
    throw new WorkspaceError('INVALID_ARGUMENT', `open ${input}: is a directory`, input);
  }
  await ensureWorkspace(ws);
  const parent = await realExisting(
    { ...p, hostPath: dirname(p.hostPath) },
    () => new WorkspaceError('NOT_FOUND', `open ${input}: no such file or directory`, input),
  );
  const target = join(parent, posix.basename(p.virtual));
  const existing = await lstat(target).catch(() => undefined);
  if (existing?.isDirectory())
    throw new WorkspaceError('INVALID_ARGUMENT', `open ${input}: is a directory`, input);
  const replaced = existing?.isFile() ? existing.size : 0;
  const held = (await workspaceBytes(ws)) - replaced;
  if (held >= ws.limitBytes) throw limitError(ws, input, held);

  const temp = join(
    parent,
    `.${posix.basename(p.virtual)}.${process.pid}.${Date.now().toString(36)}.partial`,
  );
  const handle = await open(
    temp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o644,
  );
  const abort = async () => {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
  };
  return {
    handle,
    abort,
    async commit() {
      await handle.sync().catch(() => {});
      const total = (await workspaceBytes(ws)) - replaced;
      if (total > ws.limitBytes) {
        await abort();
        throw limitError(ws, input, total);
      }
      await handle.close();
      await rename(temp, target);
    },
  };
}

export interface ListEntry {
  name: string;
  size: number;
  dir: boolean;
}

/** What `ls` shows: the entries of a directory in scope (or the one file), sorted by name. */
export async function listPath(ws: Workspace, input = '.'): Promise<ListEntry[]> {
  const p = workspacePath(ws, input);
  const real = await realExisting(
    p,
    () => new WorkspaceError('NOT_FOUND', `ls: cannot access '${input}': No such file or directory`, input),
  );
  const stats = await lstat(real);
  if (!stats.isDirectory()) return [{ name: posix.basename(p.virtual), size: stats.size, dir: false }];
  const entries: ListEntry[] = [];
  for (const entry of await readdir(real, { withFileTypes: true })) {
    // Hidden files are a save in progress; `ls` without -a does not show them either.
    if (entry.name.startsWith('.')) continue;
    const s = await lstat(join(real, entry.name)).catch(() => undefined);
    if (s) entries.push({ name: entry.name, size: s.size, dir: s.isDirectory() });
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** `rm FILE`: removes a file (never a directory, never through a symlink) from the workspace. */
export async function removeFile(ws: Workspace, input: string): Promise<void> {
  const p = workspacePath(ws, input);
  if (!p.writable || p.hostPath === ws.dir) {
    throw new WorkspaceError('INVALID_ARGUMENT', `rm: cannot remove '${input}': Read-only`, input);
  }
  await ensureWorkspace(ws);
  const parent = await realExisting(
    { ...p, hostPath: dirname(p.hostPath) },
    () => new WorkspaceError('NOT_FOUND', `rm: cannot remove '${input}': No such file or directory`, input),
  );
  const target = join(parent, posix.basename(p.virtual));
  const stats = await lstat(target).catch(() => undefined);
  if (!stats)
    throw new WorkspaceError('NOT_FOUND', `rm: cannot remove '${input}': No such file or directory`, input);
  if (stats.isDirectory())
    throw new WorkspaceError('INVALID_ARGUMENT', `rm: cannot remove '${input}': Is a directory`, input);
  await unlink(target); // unlink removes a symlink itself, never what it points to
}
