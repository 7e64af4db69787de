// Evaluates a lesson check against the session's real engine state: containers and their diffs
// (the engine's `containerDiff`), files through each container's overlay stack, images and their
// layers from the store. Answers pass / not yet, with the step's hint and a sentence on what was seen.
// Container trees and layers are read only through engine/fs/in-root.ts: a check's path, whatever it
// holds (`..`, symlinks the container swaps in), never names anything outside them. A workspace file
// is opened by its bare name without following a symlink, and an archive is only scanned for names.
// A push is confirmed by the session's own registry itself, through the session's registry client.

import { createHash } from 'node:crypto';
import { constants, readSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import tar from 'tar-stream';
import { BUILDKIT_HISTORY_COMMENT } from '../../engine/builder/history.ts';
import { type ContainerRecord, readAllRecords } from '../../engine/container/record.ts';
import { reconcile } from '../../engine/container/state.ts';
import { containerDiff } from '../../engine/container/views.ts';
import type { EngineContext } from '../../engine/context.ts';
import { LayerlabError, NotFoundError, RegistryError } from '../../engine/errors.ts';
import { withTree, withTrees } from '../../engine/fs/in-root.ts';
import { processInfo } from '../../engine/host/processes.ts';
import { findPathOriginIn } from '../../engine/inspect/which-layer.ts';
import { isWhiteout } from '../../engine/layer/diff.ts';
import type { Digest } from '../../engine/oci/digest.ts';
import { type Image, imageLayers } from '../../engine/oci/types.ts';
import { familiarName, parseReference, repositoryName } from '../../engine/reference/reference.ts';
import { RegistryClient } from '../../engine/registry/client.ts';
import {
  getImageRecord,
  imageFromManifest,
  listImages,
  loadImage,
  resolveImageId,
} from '../../engine/store/images.ts';
import { ensureLayer } from '../../engine/store/layers.ts';
import { inspectVolume, volumeDataDir } from '../../engine/volume/volumes.ts';
import { type FileContent, readContent } from '../pictures/files.ts';
import { containerStack } from '../pictures/layers.ts';
import { sessionWorkspace } from '../sessions/workspace.ts';
import {
  type Check,
  type CommandRanCheck,
  type ContainerCheck,
  type ContainersDifferCheck,
  type FileCondition,
  globMatch,
  type ImageCheck,
  type PushedCheck,
  type VolumeCheck,
  type WorkspaceFileCheck,
} from './schema.ts';

export interface CheckResult {
  pass: boolean;
  /** The lesson's hint for a check that does not pass yet. */
  hint?: string;
  /** What was seen, in a sentence: "no container from busybox has /hello.txt in its diff". */
  detail?: string;
  /** Why the step may be stuck, shown after the hint (the container limit is reached). */
  note?: string;
}

/** A command the session's terminals ran (from `terminal.command` events), for `command-ran`. */
export interface RanCommand {
  command: string;
  exitCode: number;
}

export interface EvaluateOptions {
  commands?: readonly RanCommand[];
}

/** Evaluates a parsed check (see `parseCheck`) against `ctx`'s state. */
export async function evaluateCondition(
  ctx: EngineContext,
  check: Check,
  options: EvaluateOptions = {},
): Promise<CheckResult> {
  const state = new StateCache(ctx);
  return evaluate(state, check, options);
}

async function evaluate(state: StateCache, check: Check, options: EvaluateOptions): Promise<CheckResult> {
  if ('all' in check) {
    for (const child of check.all) {
      const result = await evaluate(state, child, options);
      if (!result.pass) return withHint(result, check.hint);
    }
    return { pass: true };
  }
  if ('any' in check) {
    let first: CheckResult | undefined;
    for (const child of check.any) {
      const result = await evaluate(state, child, options);
      if (result.pass) return { pass: true };
      first ??= result;
    }
    return withHint(first ?? { pass: false }, check.hint);
  }
  if ('not' in check) {
    const result = await evaluate(state, check.not, options);
    if (!result.pass) return { pass: true };
    return withHint({ pass: false, detail: 'the opposite of what this step wants is true' }, check.hint);
  }
  switch (check.kind) {
    case 'container':
      return withHint(await containerCheck(state, check), check.hint);
    case 'image':
      return withHint(await imageCheck(state, check), check.hint);
    case 'containers-differ':
      return withHint(await containersDiffer(state, check), check.hint);
    case 'command-ran':
      return withHint(commandRan(check, options.commands ?? []), check.hint);
    case 'workspace-file':
      return withHint(await workspaceFile(state, check), check.hint);
    case 'volume':
      return withHint(await volumeCheck(state, check), check.hint);
    case 'pushed':
      return withHint(await pushedCheck(state, check), check.hint);
  }
}

/** An outer hint wins over an inner one: the lesson author wrote it for this step. */
function withHint(result: CheckResult, hint: string | undefined): CheckResult {
  if (result.pass || hint === undefined) return result;
  return { ...result, hint };
}

/** Reads each container and image once per evaluation, however many sub-checks look at them. */
class StateCache {
  readonly ctx: EngineContext;
  #containers?: Promise<ContainerRecord[]>;
  #images = new Map<string, Promise<Digest | undefined>>();

  constructor(ctx: EngineContext) {
    this.ctx = ctx;
  }

  containers(): Promise<ContainerRecord[]> {
    this.#containers ??= readAllRecords(this.ctx).then((records) =>
      // The reader's containers: what `ps -a` lists (a classic build's working containers too).
      Promise.all(records.filter((r) => !r.external || r.listed).map((r) => reconcile(this.ctx, r))),
    );
    return this.#containers;
  }

  /** The image id `ref` names in this session, or undefined when it names none. */
  imageId(ref: string): Promise<Digest | undefined> {
    let id = this.#images.get(ref);
    if (!id) {
      id = resolveImageId(this.ctx, ref).catch((err) => {
        if (err instanceof NotFoundError) return undefined;
        throw err;
      });
      this.#images.set(ref, id);
    }
    return id;
  }
}

function normalRef(ref: string): string {
  try {
    return familiarName(parseReference(ref));
  } catch {
    return ref;
  }
}

/** Containers from the image `ref`: by the id it resolves to now, or by the name they were run with. */
async function containersFrom(state: StateCache, ref: string | undefined): Promise<ContainerRecord[]> {
  const all = await state.containers();
  if (ref === undefined) return all;
  const id = await state.imageId(ref);
  const wanted = normalRef(ref);
  return all.filter((c) => c.imageId === id || normalRef(c.image) === wanted);
}

function inRange(
  n: number,
  range: { min?: number | undefined; max?: number | undefined } | undefined,
): boolean {
  const min = range?.min ?? 1;
  return n >= min && (range?.max === undefined || n <= range.max);
}

function describeRange(range: { min?: number | undefined; max?: number | undefined } | undefined): string {
  const min = range?.min ?? 1;
  if (range?.max === undefined) return min === 1 ? 'at least one' : `at least ${min}`;
  return min === range.max ? `exactly ${min}` : `between ${min} and ${range.max}`;
}

async function containerCheck(state: StateCache, check: ContainerCheck): Promise<CheckResult> {
  const name = check.name?.replace(/^\//, '');
  const candidates = (await containersFrom(state, check.image)).filter(
    (c) => name === undefined || c.name === name,
  );
  const matching: ContainerRecord[] = [];
  let closest = '';
  for (const record of candidates) {
    const why = await containerMismatch(state.ctx, record, check);
    if (why === undefined) matching.push(record);
    else closest ||= `${record.name}: ${why}`;
  }
  const what = ['container', check.image ? `from ${check.image}` : '', name ? `named ${name}` : '']
    .filter(Boolean)
    .join(' ');
  const n = matching.length;
  if (inRange(n, check.count)) return { pass: true, detail: `${n} matching container${n === 1 ? '' : 's'}` };
  if (candidates.length === 0) return { pass: false, detail: `no ${what} yet` };
  const need = describeRange(check.count);
  return {
    pass: false,
    detail: `${n} of ${candidates.length} matching, ${need} needed${closest ? ` (${closest})` : ''}`,
  };
}

/** Why `record` does not satisfy the check's per-container conditions, or undefined when it does. */
async function containerMismatch(
  ctx: EngineContext,
  record: ContainerRecord,
  check: ContainerCheck,
): Promise<string | undefined> {
  if (check.name !== undefined && record.name !== check.name.replace(/^\//, ''))
    return `not named ${check.name}`;
  if (check.state !== undefined && record.state.status !== check.state) return `it is ${record.state.status}`;
  if (check.exitCode !== undefined) {
    if (record.state.status !== 'exited') return 'it has not exited';
    if (record.state.exitCode !== check.exitCode) return `it exited with ${record.state.exitCode}`;
  }
  if (check.process) {
    // The host pid the record holds is the container's only while it runs (reconciled above).
    const info = record.state.status === 'running' ? processInfo(record.state.pid) : undefined;
    if (!info) return 'its process is not running on the host';
    if (check.process.command !== undefined && !info.command.includes(check.process.command)) {
      return `its process runs ${JSON.stringify(info.command.slice(0, 80))}`;
    }
  }
  if (check.diff) {
    const changes = await containerDiff(ctx, record.id);
    for (const want of check.diff.has ?? []) {
      const found = changes.find(
        (c) => c.path === want.path && (want.kind === undefined || c.kind === want.kind),
      );
      if (!found) return `${want.path} is not in its diff${want.kind ? ` as ${want.kind}` : ''}`;
    }
    for (const want of check.diff.lacks ?? []) {
      const found = changes.find(
        (c) => c.path === want.path && (want.kind === undefined || c.kind === want.kind),
      );
      if (found) return `its diff has ${found.kind} ${found.path}`;
    }
  }
  if (check.file) return fileMismatch(await fileIn(ctx, record, check.file.path), check.file);
  return undefined;
}

/** Why a file (undefined when absent) does not meet `condition`, or undefined when it does. */
function fileMismatch(content: FileContent | undefined, condition: FileCondition): string | undefined {
  const { path, exists = true, contains, equals, lines } = condition;
  if (content === undefined) return exists ? `it has no ${path}` : undefined;
  if (!exists) return `it still has ${path}`;
  if (contains === undefined && equals === undefined && lines === undefined) return undefined;
  if (content.kind !== 'text') return `${path} is not a text file`;
  if (contains !== undefined && !content.text.includes(contains))
    return `${path} does not contain ${JSON.stringify(contains)}`;
  if (equals !== undefined && content.text !== equals && content.text !== `${equals}\n`) {
    return `${path} is not ${JSON.stringify(equals)}`;
  }
  if (lines !== undefined) {
    const n = content.text.split('\n').filter((line, i, all) => line !== '' || i < all.length - 1).length;
    if (!inRange(n, lines)) return `${path} has ${n} line${n === 1 ? '' : 's'}`;
  }
  return undefined;
}

async function volumeCheck(state: StateCache, check: VolumeCheck): Promise<CheckResult> {
  const volume = await inspectVolume(state.ctx, check.name).catch((err) => {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  });
  if (volume === undefined) return { pass: false, detail: `no volume ${check.name} yet` };
  if (check.file === undefined) return { pass: true, detail: `volume ${check.name}: ok` };
  const { path } = check.file;
  // The volume's files are the containers' to write: read through in-root like a layer.
  const content = withTree(volumeDataDir(state.ctx, volume.name), (tree) =>
    tree ? (readContent(tree, path) ?? undefined) : undefined,
  );
  const why = fileMismatch(content, check.file);
  if (why !== undefined) return { pass: false, detail: `volume ${check.name}: ${why}` };
  return { pass: true, detail: `volume ${check.name}: ok` };
}

/** A file of the container's merged view, read through its overlay stack (stopped ones too). */
async function fileIn(
  ctx: EngineContext,
  record: ContainerRecord,
  path: string,
): Promise<FileContent | undefined> {
  const stack = await containerStack(ctx, record);
  return withTrees(
    stack.map((s) => s.dir),
    (trees) => {
      const origin = findPathOriginIn(trees, path);
      return (origin.found && readContent(trees[origin.index]!, path)) || undefined;
    },
  );
}

async function imageCheck(state: StateCache, check: ImageCheck): Promise<CheckResult> {
  const { ctx } = state;
  let images: Image[];
  if (check.tag !== undefined) {
    const id = await state.imageId(check.tag);
    images = id === undefined ? [] : [await loadImage(ctx, id)];
    if (images.length === 0) return { pass: false, detail: `no image tagged ${normalRef(check.tag)} yet` };
  } else {
    let records = await listImages(ctx);
    if (check.dangling !== undefined) {
      const parents = new Set(records.map((r) => r.parent));
      records = records.filter((r) => (r.repoTags.length === 0 && !parents.has(r.id)) === check.dangling);
    }
    images = await Promise.all(records.map((r) => imageFromManifest(ctx, r.manifestDigest)));
  }
  const shareWith =
    check.sharesLayersWith === undefined ? undefined : await state.imageId(check.sharesLayersWith);
  if (check.sharesLayersWith !== undefined && shareWith === undefined) {
    return {
      pass: false,
      detail: `there is no image ${normalRef(check.sharesLayersWith)} to share layers with`,
    };
  }
  const base =
    shareWith === undefined ? undefined : new Set((await loadImage(ctx, shareWith)).config.rootfs.diff_ids);
  let matching = 0;
  let closest = '';
  for (const image of images) {
    const why = await imageMismatch(ctx, image, check, shareWith, base);
    if (why === undefined) matching++;
    else closest ||= why;
  }
  const what =
    check.tag !== undefined
      ? `image ${normalRef(check.tag)}`
      : check.dangling === true
        ? 'dangling image'
        : 'image';
  if (inRange(matching, check.count)) return { pass: true, detail: `${what}: ok` };
  return { pass: false, detail: closest ? `${what}: ${closest}` : `no ${what} matches` };
}

async function imageMismatch(
  ctx: EngineContext,
  image: Image,
  check: ImageCheck,
  shareWith: Digest | undefined,
  base: Set<Digest> | undefined,
): Promise<string | undefined> {
  const layers = imageLayers(image);
  if (check.layers && !inRange(layers.length, { min: check.layers.min ?? 0, max: check.layers.max })) {
    return `it has ${layers.length} layer${layers.length === 1 ? '' : 's'}`;
  }
  if (check.topLayerAdds !== undefined || check.topLayerDeletes !== undefined) {
    const top = layers.at(-1);
    if (!top) return 'it has no layers';
    const dir = await ensureLayer(ctx, top);
    // The path is looked up inside the layer: `..` stops at its root, and an entry reached only
    // through a symlink is not one the layer adds.
    const why = withTree(dir, (layer) => {
      if (check.topLayerAdds !== undefined) {
        const st = layer?.lstat(check.topLayerAdds);
        if (!st || isWhiteout(st)) return `its top layer does not add ${check.topLayerAdds}`;
      }
      if (check.topLayerDeletes !== undefined) {
        const st = layer?.lstat(check.topLayerDeletes);
        if (!st || !isWhiteout(st)) return `its top layer does not delete ${check.topLayerDeletes}`;
      }
      return undefined;
    });
    if (why !== undefined) return why;
  }
  if (check.builtBy !== undefined) {
    const newest = image.config.history?.at(-1);
    const by = newest?.comment === BUILDKIT_HISTORY_COMMENT ? 'buildkit' : 'classic';
    if (newest === undefined || by !== check.builtBy) {
      return check.builtBy === 'classic'
        ? 'BuildKit built it, not the classic builder'
        : 'BuildKit did not build it';
    }
  }
  if (base !== undefined) {
    if (image.id === shareWith) return 'it is that same image';
    if (!image.config.rootfs.diff_ids.some((d) => base.has(d))) return 'it shares no layer with it';
  }
  return undefined;
}

/** Bytes hashed to compare one file across containers; bigger files compare by their first part. */
const MAX_COMPARE_BYTES = 4 * 1024 * 1024;

async function containersDiffer(state: StateCache, check: ContainersDifferCheck): Promise<CheckResult> {
  const candidates = await containersFrom(state, check.image);
  if (candidates.length < 2) {
    return {
      pass: false,
      detail: `${candidates.length === 0 ? 'no container' : 'only one container'} from ${check.image} yet; two are needed`,
    };
  }
  const versions = new Set<string>();
  for (const record of candidates) versions.add(await fileKey(state.ctx, record, check.path));
  if (versions.size >= 2)
    return { pass: true, detail: `${versions.size} different versions of ${check.path}` };
  return {
    pass: false,
    detail: `all ${candidates.length} containers from ${check.image} have the same ${check.path}`,
  };
}

/** What a container's `path` is, as a comparable string: absent, a symlink target, or a content hash. */
async function fileKey(ctx: EngineContext, record: ContainerRecord, path: string): Promise<string> {
  const stack = await containerStack(ctx, record);
  return withTrees(
    stack.map((s) => s.dir),
    (trees) => {
      const origin = findPathOriginIn(trees, path);
      if (!origin.found) return 'absent';
      const layer = trees[origin.index]!;
      const hashed = layer.withFile(path, 'entry', (fd) => {
        const hash = createHash('sha256');
        const buf = Buffer.alloc(64 * 1024);
        let total = 0;
        while (total < MAX_COMPARE_BYTES) {
          const n = readSync(fd, buf, 0, buf.length, total);
          if (n === 0) break;
          hash.update(buf.subarray(0, n));
          total += n;
        }
        return `file:${hash.digest('hex')}`;
      });
      return hashed ?? `${origin.kind}:${JSON.stringify(readContent(layer, path))}`;
    },
  );
}

function commandRan(check: CommandRanCheck, commands: readonly RanCommand[]): CheckResult {
  const pattern = check.pattern.trim();
  const found = commands.find(
    (c) =>
      globMatch(pattern, c.command.trim()) && (check.exitCode === undefined || c.exitCode === check.exitCode),
  );
  if (found) return { pass: true, detail: `ran: ${found.command}` };
  return { pass: false, detail: `no command matching ${JSON.stringify(pattern)} has run yet` };
}

/**
 * `<own registry>/<repository>:<tag>` was pushed by this session and is what the session holds under
 * that name: the image the name points to has a repo digest in that repository (recorded only once
 * the registry took the manifest, so a tag without a push or a failed push has none), and the
 * registry itself serves that digest under the tag now. The registry is the session's own namespace
 * (the client addresses it through the session's policy), so another session's push is never seen.
 */
async function pushedCheck(state: StateCache, check: PushedCheck): Promise<CheckResult> {
  const { ctx } = state;
  const own = ctx.registry?.policy?.own;
  if (!own) return { pass: false, detail: 'this session has no registry of its own to push to' };
  const ref = parseReference(`${own.host}/${check.repository}:${check.tag ?? 'latest'}`);
  const name = familiarName(ref);
  const id = await state.imageId(name);
  if (id === undefined) return { pass: false, detail: `no image tagged ${name} yet` };
  const prefix = `${repositoryName(ref)}@`;
  const recorded = (await getImageRecord(ctx, id)).repoDigests
    .filter((d) => d.startsWith(prefix))
    .map((d) => d.slice(prefix.length));
  if (recorded.length === 0) return { pass: false, detail: `${name} has not been pushed yet` };
  let served: Digest;
  try {
    // A GET by tag: the digest is checked against the bytes, and a tag never pushed is a 404.
    served = (await new RegistryClient(ctx).getManifest(ref)).digest;
  } catch (err) {
    if (err instanceof RegistryError && err.status === 404) {
      return { pass: false, detail: `your registry has no ${name} yet` };
    }
    if (err instanceof LayerlabError) {
      return { pass: false, detail: `the registry did not confirm ${name}: ${err.message}` };
    }
    throw err;
  }
  if (!recorded.includes(served)) {
    return { pass: false, detail: `your registry's ${name} is not the image you have under that name` };
  }
  return { pass: true, detail: `${name}: pushed` };
}

/** Entries an archive may have before the scan for a config gives up (a save holds a few dozen). */
const MAX_ARCHIVE_ENTRIES = 10_000;

async function workspaceFile(state: StateCache, check: WorkspaceFileCheck): Promise<CheckResult> {
  const file = join(sessionWorkspace(state.ctx).dir, check.path);
  // The reader's files: the last component is opened without following a symlink planted there.
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
  if (!handle) return { pass: false, detail: `there is no ${check.path} in your workspace yet` };
  try {
    const st = await handle.stat();
    if (!st.isFile()) return { pass: false, detail: `${check.path} is not a file` };
    if (check.minBytes !== undefined && st.size < check.minBytes) {
      return { pass: false, detail: `${check.path} holds only ${st.size} bytes` };
    }
    if (check.holdsImage !== undefined) {
      const id = await state.imageId(check.holdsImage);
      if (id === undefined) return { pass: false, detail: `no image ${normalRef(check.holdsImage)} yet` };
      const wanted = `blobs/sha256/${id.slice('sha256:'.length)}`;
      const found = await archiveHasEntry(handle, (name) => name.replace(/^\.\//, '') === wanted);
      if (!found) {
        return {
          pass: false,
          detail: `${check.path} does not hold the config of ${normalRef(check.holdsImage)} as it is now`,
        };
      }
    }
    return { pass: true, detail: `${check.path}: ok` };
  } finally {
    await handle.close();
  }
}

/** Whether the tar in `file` has an entry whose name `match`es; entry bodies are skipped, not kept. */
function archiveHasEntry(file: FileHandle, match: (name: string) => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    // The caller closes the handle: the stream only reads it.
    const input = file.createReadStream({ autoClose: false, start: 0 });
    const extract = tar.extract();
    let entries = 0;
    let settled = false;
    const finish = (found: boolean) => {
      if (settled) return;
      settled = true;
      input.unpipe(extract);
      input.destroy();
      extract.destroy();
      resolve(found);
    };
    extract.on('entry', (header, body, next) => {
      if (match(header.name)) return finish(true);
      if (++entries >= MAX_ARCHIVE_ENTRIES) return finish(false);
      body.on('end', next);
      body.resume();
    });
    extract.on('finish', () => finish(false));
    extract.on('error', () => finish(false));
    input.on('error', () => finish(false));
    input.pipe(extract);
  });
}
