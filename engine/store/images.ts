// Image records (`images/<config-hex>.json`) and the name table (`repositories.json`): which image a
// tag or a `repo@digest` names, and how a user's `busybox`, `sha256:…` or `3f57` resolves to an image.
// Writes are read-modify-write under the `images` lock with atomic file replacement.

import { readdir, rm } from 'node:fs/promises';
import { z } from 'zod';
import type { EngineContext } from '../context.ts';
import {
  ConflictError,
  InvalidArgumentError,
  InvalidReferenceError,
  NotFoundError,
  StoreError,
} from '../errors.ts';
import { type Digest, digestHex, isDigest } from '../oci/digest.ts';
import { type Image, imageConfigSchema, manifestSchema } from '../oci/types.ts';
import { familiarName, parseReference, type Reference, repositoryName } from '../reference/reference.ts';
import { readJsonIfExists, writeFileAtomic } from './atomic.ts';
import { readBlob } from './blobs.ts';
import { readLayerInfo } from './layers.ts';
import { withLock } from './lock.ts';
import { imageRecordPath } from './paths.ts';
import { assertLayerQuota, imageLayerUsage } from './quota.ts';

export interface ImageRecord {
  /** The config digest, as in Docker. */
  id: Digest;
  manifestDigest: Digest;
  manifestMediaType: string;
  /** Full references (`docker.io/library/busybox:latest`); show them with `familiarName`. */
  repoTags: string[];
  /** Full `repo@sha256:…` references of the manifest in registries it came from or went to. */
  repoDigests: string[];
  created: string;
  /** Unpacked size of the layers when known (what `docker images` shows), else their compressed size. */
  size: number;
  parent?: Digest;
}

const LOCK = 'images';

const storedRecordSchema = z.object({
  id: z.string().refine(isDigest),
  manifestDigest: z.string().refine(isDigest),
  manifestMediaType: z.string(),
  created: z.string(),
  size: z.number(),
  parent: z.string().refine(isDigest).optional(),
});
type StoredRecord = Omit<ImageRecord, 'repoTags' | 'repoDigests'>;

const repositoriesSchema = z.object({ refs: z.record(z.string(), z.string().refine(isDigest)) });
type Repositories = { refs: Record<string, Digest> };

export interface RecordImageOptions {
  manifestDigest: Digest;
  /** A full reference to point at the image (`docker.io/library/busybox:latest`). */
  tag?: string;
  /** A full `repo@sha256:…` the manifest is known under (set by pull and push). */
  repoDigest?: string;
  parent?: Digest;
}

/**
 * Records the image whose manifest (and config) are already in the store, tagging it when asked.
 * Idempotent: recording the same manifest again only adds the new names.
 */
/** `limits.maxImages` (the server's per-session cap): refuse a new image record past it. */
async function assertImageRoom(ctx: EngineContext): Promise<void> {
  const max = ctx.config.limits.maxImages;
  if (max === undefined) return;
  const count = (await readdir(ctx.paths.images).catch(() => [] as string[])).filter((n) =>
    n.endsWith('.json'),
  ).length;
  if (count >= max) {
    throw new ConflictError(
      `image limit reached: this session may keep at most ${max} images (build steps count too); remove some with \`docker rmi\` or \`docker image prune\``,
    );
  }
}

export async function recordImage(ctx: EngineContext, options: RecordImageOptions): Promise<Image> {
  const image = await imageFromManifest(ctx, options.manifestDigest);
  let size = 0;
  for (const [i, layer] of image.manifest.layers.entries()) {
    const diffId = image.config.rootfs.diff_ids[i];
    const info = diffId ? await readLayerInfo(ctx, diffId) : undefined;
    size += info?.size ?? layer.size;
  }
  const record: StoredRecord = {
    id: image.id,
    manifestDigest: image.manifestDigest,
    manifestMediaType: image.manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json',
    created: image.config.created ?? new Date().toISOString(),
    size,
    ...(options.parent ? { parent: options.parent } : {}),
  };
  const tagKey = options.tag === undefined ? undefined : refKey(parseReference(options.tag));
  const digestKey = options.repoDigest === undefined ? undefined : refKey(parseReference(options.repoDigest));
  let created = false;
  await withLock(ctx, LOCK, async () => {
    const existing = await readStoredRecord(ctx, image.id);
    if (!existing) {
      await assertImageRoom(ctx);
      await assertLayerQuota(ctx, await imageLayerUsage(ctx, image));
    }
    if (!existing || existing.manifestDigest !== record.manifestDigest || existing.size !== record.size) {
      created = !existing;
      await writeFileAtomic(
        imageRecordPath(ctx.paths, image.id),
        `${JSON.stringify({ ...existing, ...record }, null, 2)}\n`,
      );
    }
    if (tagKey !== undefined || digestKey !== undefined) {
      const repos = await readRepositories(ctx);
      if (tagKey !== undefined) repos.refs[tagKey] = image.id;
      if (digestKey !== undefined) repos.refs[digestKey] = image.id;
      await writeRepositories(ctx, repos);
    }
  });
  if (created) ctx.events({ type: 'image.created', imageId: image.id, ...(tagKey ? { ref: tagKey } : {}) });
  if (tagKey !== undefined) ctx.events({ type: 'image.tagged', imageId: image.id, ref: tagKey });
  return image;
}

/** Reads and validates a manifest and its config from the blob store. */
export async function imageFromManifest(ctx: EngineContext, manifestDigest: Digest): Promise<Image> {
  const manifest = manifestSchema.parse(JSON.parse((await readBlob(ctx, manifestDigest)).toString('utf8')));
  const config = imageConfigSchema.parse(
    JSON.parse((await readBlob(ctx, manifest.config.digest)).toString('utf8')),
  );
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new StoreError(
      `image ${manifest.config.digest}: ${manifest.layers.length} layers but ${config.rootfs.diff_ids.length} diff_ids`,
    );
  }
  return { id: manifest.config.digest, manifestDigest, manifest, config };
}

/**
 * Finds an image the way `docker image inspect` does: a 64-hex or `sha256:` id, then a name
 * (`busybox`, `busybox:1`, `busybox@sha256:…`, full refs), then a unique id prefix.
 */
export async function loadImage(ctx: EngineContext, nameOrId: string): Promise<Image> {
  const id = await resolveImageId(ctx, nameOrId);
  const record = await readStoredRecord(ctx, id);
  if (!record) throw new NotFoundError(`No such image: ${nameOrId}`, nameOrId);
  return imageFromManifest(ctx, record.manifestDigest);
}

/** The image id `nameOrId` names; NotFoundError "No such image: busybox:latest" otherwise. */
export async function resolveImageId(ctx: EngineContext, nameOrId: string): Promise<Digest> {
  const input = nameOrId.trim();
  if (/^sha256:[a-f0-9]{1,64}$/.test(input)) return resolveIdPrefix(ctx, input.slice(7), input);
  if (/^[a-f0-9]{64}$/.test(input)) return resolveIdPrefix(ctx, input, input);
  let ref: Reference | undefined;
  try {
    ref = parseReference(input);
  } catch (err) {
    if (!(err instanceof InvalidReferenceError)) throw err;
  }
  if (ref) {
    const repos = await readRepositories(ctx);
    const id = repos.refs[refKey(ref)];
    if (id !== undefined) return id;
  }
  if (/^[a-f0-9]+$/.test(input)) {
    const found = await findIdPrefix(ctx, input, input);
    if (found) return found;
  }
  if (!ref) throw new NotFoundError(`No such image: ${input}`, input);
  throw new NotFoundError(`No such image: ${familiarName(ref)}`, input);
}

async function resolveIdPrefix(ctx: EngineContext, hexPrefix: string, input: string): Promise<Digest> {
  const found = await findIdPrefix(ctx, hexPrefix, input);
  if (!found) throw new NotFoundError(`No such image: ${input}`, input);
  return found;
}

async function findIdPrefix(
  ctx: EngineContext,
  hexPrefix: string,
  input: string,
): Promise<Digest | undefined> {
  const matches = (await listImageIds(ctx)).filter((id) => digestHex(id).startsWith(hexPrefix));
  if (matches.length > 1)
    throw new InvalidArgumentError(
      `ambiguous image id prefix ${input}: ${matches.length} images match`,
      input,
    );
  return matches[0];
}

async function listImageIds(ctx: EngineContext): Promise<Digest[]> {
  let names: string[];
  try {
    names = await readdir(ctx.paths.images);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .map((n) => `sha256:${n.slice(0, -5)}`)
    .filter(isDigest);
}

/** The record of image `id` with its current names; NotFoundError when there is none. */
export async function getImageRecord(ctx: EngineContext, id: Digest): Promise<ImageRecord> {
  const stored = await readStoredRecord(ctx, id);
  if (!stored) throw new NotFoundError(`No such image: ${id}`, id);
  return withNames(stored, await readRepositories(ctx));
}

/** Every image, newest first (as `docker images` lists them). */
export async function listImages(ctx: EngineContext): Promise<ImageRecord[]> {
  const repos = await readRepositories(ctx);
  const out: ImageRecord[] = [];
  for (const id of await listImageIds(ctx)) {
    const stored = await readStoredRecord(ctx, id);
    if (stored) out.push(withNames(stored, repos));
  }
  return out.sort((a, b) =>
    a.created < b.created ? 1 : a.created > b.created ? -1 : a.id.localeCompare(b.id),
  );
}

/** Points `fullRef` (a tag, normalised as Docker does) at image `id`, moving it from any other image. */
export async function tagImage(ctx: EngineContext, id: Digest, fullRef: string): Promise<void> {
  const ref = parseReference(fullRef);
  if (ref.digest !== undefined)
    throw new InvalidArgumentError(`refusing to create a tag with a digest reference: ${fullRef}`, fullRef);
  const key = refKey(ref);
  await withLock(ctx, LOCK, async () => {
    if (!(await readStoredRecord(ctx, id))) throw new NotFoundError(`No such image: ${id}`, id);
    const repos = await readRepositories(ctx);
    repos.refs[key] = id;
    await writeRepositories(ctx, repos);
  });
  ctx.events({ type: 'image.tagged', imageId: id, ref: key });
}

/** Removes the name `fullRef` (tag or `repo@digest`); returns the image it pointed at. */
export async function untagImage(ctx: EngineContext, fullRef: string): Promise<Digest> {
  const ref = parseReference(fullRef);
  const key = refKey(ref);
  const id = await withLock(ctx, LOCK, async () => {
    const repos = await readRepositories(ctx);
    const target = repos.refs[key];
    if (target === undefined) throw new NotFoundError(`No such image: ${familiarName(ref)}`, fullRef);
    delete repos.refs[key];
    await writeRepositories(ctx, repos);
    return target;
  });
  ctx.events({ type: 'image.untagged', imageId: id, ref: key });
  return id;
}

/** Forgets image `id` and every name pointing at it. Blobs and layers are left to the caller. */
export async function deleteImageRecord(ctx: EngineContext, id: Digest): Promise<void> {
  const existed = await withLock(ctx, LOCK, async () => {
    const repos = await readRepositories(ctx);
    let changed = false;
    for (const [key, target] of Object.entries(repos.refs)) {
      if (target === id) {
        delete repos.refs[key];
        changed = true;
      }
    }
    if (changed) await writeRepositories(ctx, repos);
    const had = (await readStoredRecord(ctx, id)) !== undefined;
    await rm(imageRecordPath(ctx.paths, id), { force: true });
    return had;
  });
  if (existed) ctx.events({ type: 'image.removed', imageId: id });
}

/** The key a reference has in repositories.json: `repo:tag`, or `repo@digest` when pinned. */
function refKey(ref: Reference): string {
  return ref.digest !== undefined
    ? `${repositoryName(ref)}@${ref.digest}`
    : `${repositoryName(ref)}:${ref.tag ?? 'latest'}`;
}

function withNames(stored: StoredRecord, repos: Repositories): ImageRecord {
  const repoTags: string[] = [];
  const repoDigests: string[] = [];
  for (const [key, target] of Object.entries(repos.refs)) {
    if (target !== stored.id) continue;
    (key.includes('@') ? repoDigests : repoTags).push(key);
  }
  return { ...stored, repoTags: repoTags.sort(), repoDigests: repoDigests.sort() };
}

async function readStoredRecord(ctx: EngineContext, id: Digest): Promise<StoredRecord | undefined> {
  const raw = await readJsonIfExists(imageRecordPath(ctx.paths, id));
  if (raw === undefined) return undefined;
  const parsed = storedRecordSchema.safeParse(raw);
  if (!parsed.success) throw new StoreError(`image record ${id} is corrupt`, { input: id });
  return parsed.data as StoredRecord;
}

async function readRepositories(ctx: EngineContext): Promise<Repositories> {
  const raw = await readJsonIfExists(ctx.paths.repositories);
  if (raw === undefined) return { refs: {} };
  const parsed = repositoriesSchema.safeParse(raw);
  if (!parsed.success) throw new StoreError(`${ctx.paths.repositories} is corrupt`);
  return parsed.data as Repositories;
}

async function writeRepositories(ctx: EngineContext, repos: Repositories): Promise<void> {
  const sorted = Object.fromEntries(Object.entries(repos.refs).sort(([a], [b]) => a.localeCompare(b)));
  await writeFileAtomic(ctx.paths.repositories, `${JSON.stringify({ refs: sorted }, null, 2)}\n`);
}
