// Per-file lookups for the pictures: which layer a path of a container's merged view comes from, and
// the file's content in the image versus in the container (for the content diff beside the stack).

import { closeSync, constants as fsConstants, fstatSync, openSync, readlinkSync, readSync } from 'node:fs';
import { resolveContainer } from '../../engine/container/lifecycle.ts';
import type { EngineContext } from '../../engine/context.ts';
import { cleanContainerPath, type EntryKind, findPathOrigin } from '../../engine/inspect/which-layer.ts';
import { containerStack, type LayerRef, type StackEntry } from './layers.ts';

export type Source = 'upper' | 'init' | LayerRef;

export type WhichLayer =
  | {
      path: string;
      found: true;
      source: Source;
      kind: EntryKind;
      /** For a path in the upper dir that a lower layer also has: the layer it was copied up from. */
      copiedUpFrom?: LayerRef;
    }
  /** Not in the merged view; `deletedIn` is where the whiteout hiding a lower copy lives. */
  | { path: string; found: false; deletedIn?: Source };

function sourceOf(entry: StackEntry): Source {
  return entry.source === 'layer' ? entry.layer : entry.source;
}

/** Which layer `path` of `container` (id, name or id prefix) comes from, honouring whiteouts. */
export async function whichLayer(ctx: EngineContext, container: string, path: string): Promise<WhichLayer> {
  const clean = cleanContainerPath(path);
  const record = await resolveContainer(ctx, container);
  const stack = await containerStack(ctx, record);
  const origin = findPathOrigin(
    stack.map((s) => s.dir),
    clean,
  );
  if (!origin.found) {
    const at = origin.deletedAt === undefined ? undefined : stack[origin.deletedAt];
    return { path: clean, found: false, ...(at ? { deletedIn: sourceOf(at) } : {}) };
  }
  const entry = stack[origin.index]!;
  const result: WhichLayer = { path: clean, found: true, source: sourceOf(entry), kind: origin.kind };
  if (entry.source === 'upper') {
    const below = findPathOrigin(
      stack.slice(1).map((s) => s.dir),
      clean,
    );
    const from = below.found ? stack[below.index + 1] : undefined;
    if (from?.source === 'layer') result.copiedUpFrom = from.layer;
  }
  return result;
}

/** Bytes of a file shown as text; longer files are cut (and say so). */
export const MAX_CONTENT_BYTES = 64 * 1024;

export type FileContent =
  | { kind: 'text'; text: string; size: number; truncated: boolean }
  | { kind: 'binary'; size: number }
  | { kind: 'symlink'; target: string }
  | { kind: 'dir' }
  | { kind: 'other' };

export interface FileVersion {
  source: Source;
  content: FileContent;
}

export interface FileVersions {
  path: string;
  /** The file as the container's image has it (its layers only), or null when the image lacks it. */
  image: FileVersion | null;
  /** The file as the container sees it now (upper over the image), or null when it is absent. */
  container: FileVersion | null;
}

/** The content of `path` in the container's image and in the container, for a content diff. */
export async function fileVersions(
  ctx: EngineContext,
  container: string,
  path: string,
): Promise<FileVersions> {
  const clean = cleanContainerPath(path);
  const record = await resolveContainer(ctx, container);
  const stack = await containerStack(ctx, record);
  const layers = stack.filter((s) => s.source === 'layer');
  return {
    path: clean,
    image: versionIn(layers, clean),
    container: versionIn(stack, clean),
  };
}

function versionIn(stack: readonly StackEntry[], path: string): FileVersion | null {
  const origin = findPathOrigin(
    stack.map((s) => s.dir),
    path,
  );
  if (!origin.found) return null;
  return { source: sourceOf(stack[origin.index]!), content: readContent(origin.hostPath, origin.kind) };
}

/**
 * Reads what a layer holds at `hostPath` without following a symlink there: the layer dirs belong
 * to containers, and a symlink must never make the server read a host file.
 */
export function readContent(hostPath: string, kind: EntryKind): FileContent {
  if (kind === 'dir') return { kind: 'dir' };
  if (kind === 'symlink') return { kind: 'symlink', target: readlinkSync(hostPath) };
  if (kind !== 'file') return { kind: 'other' };
  const fd = openSync(hostPath, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    // Swapped for a device or FIFO since the lstat: do not read it.
    if (!st.isFile()) return { kind: 'other' };
    const size = st.size;
    const buf = Buffer.alloc(Math.min(size, MAX_CONTENT_BYTES));
    let read = 0;
    while (read < buf.length) {
      const n = readSync(fd, buf, read, buf.length - read, read);
      if (n === 0) break;
      read += n;
    }
    // A cut at the cap may split a character: the text ends before it.
    const bytes = size > read ? trimPartialUtf8(buf.subarray(0, read)) : buf.subarray(0, read);
    if (isBinary(bytes)) return { kind: 'binary', size };
    return { kind: 'text', text: bytes.toString('utf8'), size, truncated: size > read };
  } finally {
    closeSync(fd);
  }
}

/** Git's heuristic: a NUL byte in the first 8000 bytes; plus text that is not valid UTF-8. */
function isBinary(bytes: Buffer): boolean {
  if (bytes.subarray(0, 8000).includes(0)) return true;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return false;
  } catch {
    return true;
  }
}

/** Drops an incomplete UTF-8 sequence at the end (where a read stopped mid-character). */
function trimPartialUtf8(bytes: Buffer): Buffer {
  for (let back = 1; back <= 3 && back <= bytes.length; back++) {
    const b = bytes[bytes.length - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? bytes.subarray(0, bytes.length - back) : bytes;
  }
  return bytes;
}
