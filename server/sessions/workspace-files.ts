// The in-page editor's file operations on the session workspace: list a directory, read a text file,
// write one, seed a directory from a lesson build context. Paths are the terminal's virtual paths,
// mapped by workspace.ts (`workspacePath`); every access is then one openat2 from the workspace's
// (or the contexts') root fd with no symlink followed anywhere (engine/fs/in-root.ts), and writes go
// through a parent held by its fd: a symlink in the workspace is refused, never followed.

import { closeSync, constants, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { posix, relative } from 'node:path';
import { humanSize } from '../../engine/format/text.ts';
import { type DirEntry, type Tree, withTree } from '../../engine/fs/in-root.ts';
import { mkdirat, O_CLOEXEC, O_PATH, SysError } from '../../engine/sys/libc.ts';
import {
  ensureWorkspace,
  type Workspace,
  WorkspaceError,
  type WorkspacePath,
  workspacePath,
} from './workspace.ts';
import { EDIT_FILE_MAX_BYTES, WORKSPACE_MAX_ENTRIES, WORKSPACE_NAME_MAX_BYTES } from './workspace-limits.ts';

export type WorkspaceEntryKind = 'file' | 'dir' | 'symlink' | 'other';

export interface WorkspaceEntry {
  /** Relative to the listed directory, `/`-separated: `Dockerfile`, `src/app.txt`. */
  path: string;
  kind: WorkspaceEntryKind;
  /** Bytes (a file's size; 0 for a directory). */
  size: number;
}

export interface WorkspaceListing {
  /** The directory as the terminal names it: `~/app`, `/lessons/hello-build`. */
  path: string;
  /** False when nothing is there yet (an editor's directory before its first save). */
  exists: boolean;
  writable: boolean;
  /** Every entry below it, depth first, sorted by name; at most `WORKSPACE_MAX_ENTRIES`. */
  entries: WorkspaceEntry[];
  /** More entries than were listed. */
  truncated: boolean;
}

export interface WorkspaceText {
  path: string;
  text: string;
  size: number;
  writable: boolean;
}

export interface WorkspaceWrite {
  path: string;
  size: number;
  /** Whether the file is new (false: it replaced the previous content). */
  created: boolean;
}

export interface WorkspaceSeed {
  /** The workspace directory seeded: `~/app`. */
  path: string;
  /** Files copied from the context, relative to `path`; empty when the directory was kept as it was. */
  copied: string[];
  /** True when the directory existed and was left alone (the learner's edits kept). */
  kept: boolean;
}

/** Deepest directory a listing or a seed walks into. */
const MAX_DEPTH = 16;
/** A context file larger than this is not copied by a seed (lesson contexts are small text). */
const SEED_FILE_MAX_BYTES = 1024 * 1024;
const HOME = '/workspace';
/** The hidden temporary siblings a save writes before its rename (here and in workspace.ts). */
const PARTIAL = /^\..+\.partial$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The path as the terminal's prompt shows it: `~/app/Dockerfile`, `/lessons/hello-build`. */
function shown(p: WorkspacePath): string {
  if (p.virtual === HOME) return '~';
  return p.virtual.startsWith(`${HOME}/`) ? `~${p.virtual.slice(HOME.length)}` : p.virtual;
}

/** The path relative to its tree's root, as in-root.ts takes it ('.' for the root itself). */
function inTree(p: WorkspacePath): string {
  return relative(p.base, p.hostPath) || '.';
}

function refused(p: WorkspacePath, message: string): WorkspaceError {
  return new WorkspaceError('INVALID_ARGUMENT', message, p.input);
}

function notFound(p: WorkspacePath): WorkspaceError {
  return new WorkspaceError('NOT_FOUND', `open ${p.input}: no such file or directory`, p.input);
}

function throughLink(p: WorkspacePath, link: string): WorkspaceError {
  return refused(
    p,
    `path ${p.input} goes through the symbolic link ${link}, which the editor does not follow: open the file it points to by its own path`,
  );
}

/** Why `rel` could not be opened: a symlink on the way (named), or nothing there. */
function absent(tree: Tree, p: WorkspacePath, rel: string): WorkspaceError {
  const parts = rel.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    const st = tree.lstat(prefix);
    if (!st) break;
    if (st.isSymbolicLink()) return throughLink(p, shown({ ...p, virtual: posix.join(rootOf(p), prefix) }));
  }
  return notFound(p);
}

/** The virtual path of `p`'s tree root: `/workspace` or `/lessons`. */
function rootOf(p: WorkspacePath): string {
  return p.writable ? HOME : '/lessons';
}

/** Host errors never reach the page with host paths in them: they are worded with the reader's path. */
function hostFailure(p: WorkspacePath, what: string, err: unknown): unknown {
  if (!(err instanceof SysError)) return err;
  const why: Record<string, string> = {
    ENOSPC: 'no space left on device',
    EDQUOT: 'disk quota exceeded',
    ENOTDIR: 'not a directory',
    EISDIR: 'is a directory',
    ELOOP: 'too many levels of symbolic links',
    EEXIST: 'file exists',
  };
  return refused(p, `${what} ${p.input}: ${why[err.errno] ?? err.errno}`);
}

/** Opens the tree `p` lives in (the workspace, made on first use, or the contexts), runs `fn`. */
async function inItsTree<T>(ws: Workspace, p: WorkspacePath, fn: (tree: Tree) => T): Promise<T> {
  if (p.writable) await ensureWorkspace(ws);
  return withTree(p.base, (tree) => {
    if (!tree) throw notFound(p);
    return fn(tree);
  });
}

function kindOf(st: {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}): WorkspaceEntryKind {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

/**
 * The entries under directory `rel` of `tree`, depth first and sorted, up to `max`; symlinks are
 * listed as themselves, never entered. Hidden save-in-progress files are left out.
 */
function walk(tree: Tree, rel: string, max: number): { entries: WorkspaceEntry[]; truncated: boolean } {
  const entries: WorkspaceEntry[] = [];
  let truncated = false;
  const visit = (dir: string, prefix: string, depth: number): void => {
    let names: DirEntry[];
    try {
      names = tree.entries(dir) ?? [];
    } catch {
      return; // gone meanwhile, or unreadable: nothing to list there
    }
    const sorted = names.filter((e) => !PARTIAL.test(e.name)).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const { name } of sorted) {
      if (entries.length >= max) {
        truncated = true;
        return;
      }
      const child = dir === '.' ? name : `${dir}/${name}`;
      const st = tree.lstat(child);
      if (!st) continue;
      const kind = kindOf(st);
      const path = prefix ? `${prefix}/${name}` : name;
      entries.push({ path, kind, size: kind === 'file' ? st.size : 0 });
      if (kind === 'dir' && depth < MAX_DEPTH) visit(child, path, depth + 1);
    }
  };
  visit(rel, '', 1);
  return { entries, truncated };
}

/** `workspace.list`: everything under a directory of the workspace (or of a lesson context). */
export async function listWorkspaceDir(ws: Workspace, input: string): Promise<WorkspaceListing> {
  const p = workspacePath(ws, input);
  const path = shown(p);
  return inItsTree(ws, p, (tree) => {
    const rel = inTree(p);
    const st = tree.lstat(rel);
    if (!st) {
      const why = absent(tree, p, rel);
      if (why.code !== 'NOT_FOUND') throw why;
      return { path, exists: false, writable: p.writable, entries: [], truncated: false };
    }
    if (st.isSymbolicLink()) throw throughLink(p, path);
    if (!st.isDirectory()) throw refused(p, `${p.input}: not a directory`);
    return { path, exists: true, writable: p.writable, ...walk(tree, rel, WORKSPACE_MAX_ENTRIES) };
  });
}

/** Text the editor can show: valid UTF-8 without NUL bytes. */
function asText(bytes: Buffer): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

function tooLarge(p: WorkspacePath, size: number): WorkspaceError {
  return new WorkspaceError(
    'SIZE_EXCEEDED',
    `${p.input} is ${humanSize(size)}: the editor opens and saves files up to ${humanSize(EDIT_FILE_MAX_BYTES)}`,
    p.input,
  );
}

/** `workspace.read`: a text file of the workspace or a lesson context, up to `EDIT_FILE_MAX_BYTES`. */
export async function readWorkspaceText(ws: Workspace, input: string): Promise<WorkspaceText> {
  const p = workspacePath(ws, input);
  return inItsTree(ws, p, (tree) => {
    const rel = inTree(p);
    const st = tree.lstat(rel);
    if (!st) throw absent(tree, p, rel);
    if (st.isSymbolicLink()) throw throughLink(p, shown(p));
    if (st.isDirectory()) throw refused(p, `read ${p.input}: is a directory`);
    if (!st.isFile()) throw refused(p, `read ${p.input}: not a regular file`);
    if (st.size > EDIT_FILE_MAX_BYTES) throw tooLarge(p, st.size);
    // Read through the fd of one openat2, never following a symlink: what lstat saw may have changed.
    const file = tree.readFile(rel, EDIT_FILE_MAX_BYTES + 1, 'entry');
    if (!file) throw notFound(p);
    if (file.size > EDIT_FILE_MAX_BYTES) throw tooLarge(p, file.size);
    const text = asText(file.bytes);
    if (text === undefined) {
      throw refused(
        p,
        `${p.input} is a binary file (not UTF-8 text): the editor opens text files only; use the terminal for it`,
      );
    }
    return { path: shown(p), text, size: file.size, writable: p.writable };
  });
}

/** Refuses names the editor will not create: control characters, over NAME_MAX, temp-file names. */
function checkNames(p: WorkspacePath, rel: string): void {
  for (const name of rel.split('/')) {
    if (CONTROL.test(name)) {
      throw refused(p, `invalid file name ${JSON.stringify(name)}: control characters are not allowed`);
    }
    if (Buffer.byteLength(name) > WORKSPACE_NAME_MAX_BYTES) {
      throw refused(p, `file name too long (over ${WORKSPACE_NAME_MAX_BYTES} bytes): ${name.slice(0, 40)}…`);
    }
    if (PARTIAL.test(name))
      throw refused(p, `invalid file name ${name}: names like .*.partial are the workspace's own`);
  }
}

/** Files, directories and bytes under the workspace (symlinks counted as themselves, never entered). */
function usage(tree: Tree): { entries: number; bytes: number } {
  let entries = 0;
  let bytes = 0;
  const visit = (dir: string): void => {
    for (const e of tree.entries(dir) ?? []) {
      const child = dir === '.' ? e.name : `${dir}/${e.name}`;
      const st = tree.lstat(child);
      if (!st) continue;
      entries++;
      if (st.isDirectory()) visit(child);
      else bytes += st.size;
    }
  };
  visit('.');
  return { entries, bytes };
}

/** What a write adds: the directories to make on the way and whether the file is new, checked. */
interface Plan {
  dirs: string[];
  replaced: number | undefined;
}

/** Checks the way to `rel` in the workspace tree: parents are directories (or missing), no symlink. */
function plan(tree: Tree, p: WorkspacePath, rel: string): Plan {
  const parts = rel.split('/');
  const dirs: string[] = [];
  for (let i = 1; i < parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    const st = dirs.length > 0 ? undefined : tree.lstat(prefix);
    if (st?.isDirectory()) continue;
    if (st?.isSymbolicLink()) throw throughLink(p, `~/${prefix}`);
    if (st) throw refused(p, `open ${p.input}: ~/${prefix} is not a directory`);
    dirs.push(prefix);
  }
  const st = dirs.length > 0 ? undefined : tree.lstat(rel);
  if (st?.isDirectory()) throw refused(p, `open ${p.input}: is a directory`);
  if (st?.isSymbolicLink()) throw throughLink(p, shown(p));
  if (st && !st.isFile()) throw refused(p, `open ${p.input}: not a regular file`);
  return { dirs, replaced: st?.size };
}

/** Refuses a write that would pass the workspace's entry count or its byte limit. */
function checkRoom(
  ws: Workspace,
  p: WorkspacePath,
  used: { entries: number; bytes: number },
  add: Plan,
  size: number,
): void {
  const newEntries = add.dirs.length + (add.replaced === undefined ? 1 : 0);
  if (newEntries > 0 && used.entries + newEntries > WORKSPACE_MAX_ENTRIES) {
    throw new WorkspaceError(
      'SIZE_EXCEEDED',
      `write ${p.input}: your workspace holds ${used.entries} files and directories, its limit is ${WORKSPACE_MAX_ENTRIES}; remove some with 'rm FILE'`,
      p.input,
    );
  }
  const held = used.bytes - (add.replaced ?? 0) + size;
  if (held > ws.limitBytes) {
    throw new WorkspaceError(
      'SIZE_EXCEEDED',
      `write ${p.input}: your workspace would hold ${humanSize(held)}, over its limit of ${humanSize(ws.limitBytes)} (the session's disk limit); remove a file with 'rm FILE'`,
      p.input,
    );
  }
}

/**
 * Makes the planned directories and writes `bytes` to `rel`: each parent is held by the fd of one
 * openat2 that follows no symlink, the data goes to a new hidden sibling (O_EXCL, O_NOFOLLOW) renamed
 * over the name, so a reader (a `docker build`) sees the old file or the new one, never half of one.
 */
function place(tree: Tree, p: WorkspacePath, rel: string, dirs: readonly string[], bytes: Buffer): void {
  const parentFd = (dir: string): number => {
    const fd = tree.openFd(dir, O_PATH | constants.O_DIRECTORY, 'entry');
    if (fd === undefined) throw absent(tree, p, dir);
    return fd;
  };
  try {
    for (const dir of dirs) {
      const parent = parentFd(posix.dirname(dir));
      try {
        mkdirat(parent, posix.basename(dir), 0o755, dir);
      } finally {
        closeSync(parent);
      }
    }
    const parent = parentFd(posix.dirname(rel));
    try {
      const name = posix.basename(rel);
      const at = `/proc/self/fd/${parent}`;
      const temp = `.${name.slice(0, 200)}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}.partial`;
      const fd = openSync(
        `${at}/${temp}`,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | O_CLOEXEC,
        0o644,
      );
      try {
        let written = 0;
        while (written < bytes.length) written += writeSync(fd, bytes, written);
      } catch (err) {
        closeSync(fd);
        unlinkSync(`${at}/${temp}`);
        throw err;
      }
      closeSync(fd);
      // rename(2) replaces the name itself: it never follows a symlink that might be there by now.
      renameSync(`${at}/${temp}`, `${at}/${name}`);
    } finally {
      closeSync(parent);
    }
  } catch (err) {
    if (err instanceof WorkspaceError) throw err;
    if (err instanceof SysError) throw hostFailure(p, 'write', err);
    const code = (err as NodeJS.ErrnoException).code;
    if (code) throw refused(p, `write ${p.input}: ${code === 'ENOSPC' ? 'no space left on device' : code}`);
    throw err;
  }
}

function writablePath(ws: Workspace, input: string): { p: WorkspacePath; rel: string } {
  const p = workspacePath(ws, input);
  if (!p.writable) {
    throw refused(
      p,
      `path ${input} is read-only: /lessons holds the lesson build contexts; save to your workspace (~/…)`,
    );
  }
  const rel = inTree(p);
  if (rel === '.') throw refused(p, `open ${input}: is a directory`);
  checkNames(p, rel);
  return { p, rel };
}

/** `workspace.write`: creates or replaces a text file of the workspace, making its directories. */
export async function writeWorkspaceText(
  ws: Workspace,
  input: string,
  text: string,
): Promise<WorkspaceWrite> {
  const { p, rel } = writablePath(ws, input);
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > EDIT_FILE_MAX_BYTES) throw tooLarge(p, bytes.length);
  return inItsTree(ws, p, (tree) => {
    const planned = plan(tree, p, rel);
    checkRoom(ws, p, usage(tree), planned, bytes.length);
    place(tree, p, rel, planned.dirs, bytes);
    return { path: shown(p), size: bytes.length, created: planned.replaced === undefined };
  });
}

/**
 * `workspace.seed`: copies the lesson context `/lessons/<context>` into the workspace directory
 * `dir` when that directory is not there yet, so a lesson starts the reader with its files. A
 * directory already there is the reader's and is kept as it is, unless `overwrite`: then the
 * context's files replace theirs (other files stay). Symlinks and special files are not copied.
 */
export async function seedWorkspaceDir(
  ws: Workspace,
  context: string,
  dir: string,
  options: { overwrite?: boolean } = {},
): Promise<WorkspaceSeed> {
  const { p, rel } = writablePath(ws, dir);
  const source = workspacePath(ws, `/lessons/${context}`);
  if (source.scope !== context || context.includes('/')) {
    throw new WorkspaceError(
      'INVALID_ARGUMENT',
      `invalid lesson context name ${JSON.stringify(context)}`,
      context,
    );
  }
  // The context's files, read first (through its own root fd, no symlink followed).
  const files = withTree(source.base, (contexts) => {
    const st = contexts?.lstat(context);
    if (!contexts || !st?.isDirectory()) {
      throw new WorkspaceError('NOT_FOUND', `no lesson context ${context} (/lessons/${context})`, context);
    }
    const out: { path: string; bytes: Buffer }[] = [];
    for (const e of walk(contexts, context, WORKSPACE_MAX_ENTRIES).entries) {
      if (e.kind !== 'file' || e.size > SEED_FILE_MAX_BYTES) continue;
      const file = contexts.readFile(`${context}/${e.path}`, SEED_FILE_MAX_BYTES, 'entry');
      if (file) out.push({ path: e.path, bytes: file.bytes });
    }
    return out;
  });
  await ensureWorkspace(ws);
  return withTree(ws.dir, (tree) => {
    if (!tree) throw notFound(p);
    const there = tree.lstat(rel);
    if (there && !options.overwrite) {
      if (!there.isDirectory()) throw refused(p, `seed ${dir}: ${shown(p)} exists and is not a directory`);
      return { path: shown(p), copied: [], kept: true };
    }
    const copied: string[] = [];
    for (const file of files) {
      const target = `${rel}/${file.path}`;
      const one = { ...p, input: `${shown(p)}/${file.path}` };
      const planned = plan(tree, one, target);
      checkRoom(ws, one, usage(tree), planned, file.bytes.length);
      place(tree, one, target, planned.dirs, file.bytes);
      copied.push(file.path);
    }
    return { path: shown(p), copied, kept: false };
  });
}
