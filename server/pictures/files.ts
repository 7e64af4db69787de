// Per-file lookups for the pictures: which layer a path of a container's merged view comes from, and
// the file's content in the image versus in the container (for the content diff beside the stack).
// The layers and the upper dir are the container's: every read goes through engine/fs/in-root.ts.

import { resolveContainer } from '../../engine/container/lifecycle.ts';
import type { EngineContext } from '../../engine/context.ts';
import { type Tree, withTree, withTrees } from '../../engine/fs/in-root.ts';
import {
  cleanContainerPath,
  type EntryKind,
  entryKind,
  findPathOriginIn,
} from '../../engine/inspect/which-layer.ts';
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
  return withTrees(
    stack.map((s) => s.dir),
    (trees): WhichLayer => {
      const origin = findPathOriginIn(trees, clean);
      if (!origin.found) {
        const at = origin.deletedAt === undefined ? undefined : stack[origin.deletedAt];
        return { path: clean, found: false, ...(at ? { deletedIn: sourceOf(at) } : {}) };
      }
      const entry = stack[origin.index]!;
      const result: WhichLayer = { path: clean, found: true, source: sourceOf(entry), kind: origin.kind };
      if (entry.source === 'upper') {
        const below = findPathOriginIn(trees.slice(1), clean);
        const from = below.found ? stack[below.index + 1] : undefined;
        if (from?.source === 'layer') result.copiedUpFrom = from.layer;
      }
      return result;
    },
  );
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
  return withTrees(
    stack.map((s) => s.dir),
    (trees) => {
      const origin = findPathOriginIn(trees, path);
      const content = origin.found ? readContent(trees[origin.index]!, path) : null;
      // Gone between the lookup and the read: absent, as a lookup a moment later would say.
      return origin.found && content ? { source: sourceOf(stack[origin.index]!), content } : null;
    },
  );
}

/** What the layer at `layerDir` holds at `path` (see `readContent`); null when nothing is there. */
export function readContentIn(layerDir: string, path: string): FileContent | null {
  return withTree(layerDir, (tree) => (tree ? readContent(tree, path) : null));
}

/**
 * What `tree` (one layer, or a container's upper dir) holds at `path`, never following a symlink
 * (a symlink is described by its target). The kind is decided by the fd that is read, so whatever
 * the container renames meanwhile, the answer is about an entry of its own tree.
 */
export function readContent(tree: Tree, path: string): FileContent | null {
  const st = tree.lstat(path);
  if (st === undefined) return null;
  const kind = entryKind(st);
  if (kind === 'dir') return { kind: 'dir' };
  if (kind === 'symlink') {
    const target = tree.readlink(path);
    return target === undefined ? { kind: 'other' } : { kind: 'symlink', target };
  }
  if (kind !== 'file') return { kind: 'other' };
  // Swapped for something else since the lstat: a FIFO, a directory or nothing is not read.
  const file = tree.readFile(path, MAX_CONTENT_BYTES);
  if (file === undefined) return { kind: 'other' };
  const { size } = file;
  const read = file.bytes.length;
  // A cut at the cap may split a character: the text ends before it.
  const bytes = size > read ? trimPartialUtf8(file.bytes) : file.bytes;
  if (isBinary(bytes)) return { kind: 'binary', size };
  return { kind: 'text', text: bytes.toString('utf8'), size, truncated: size > read };
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
