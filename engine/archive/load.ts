// `load`: images from a tar written by `save` (ours or Docker's): an OCI image layout, with or
// without Docker's `manifest.json`, or a legacy docker-archive whose layers are plain tars.

import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import type { EngineContext } from '../context.ts';
import { InvalidArgumentError, UnsafeLayerError } from '../errors.ts';
import { writeLayerBlob } from '../image/layer-blob.ts';
import { hostArchitecture, writeImage } from '../image/mutate.ts';
import { isDigest, parseDigest } from '../oci/digest.ts';
import { INDEX_TYPES, MediaType } from '../oci/media-types.ts';
import {
  type Descriptor,
  type Image,
  imageConfigSchema,
  imageLayers,
  indexSchema,
  manifestSchema,
} from '../oci/types.ts';
import { familiarName, formatReference, parseReference } from '../reference/reference.ts';
import { writeBlob } from '../store/blobs.ts';
import { recordImage, tagImage } from '../store/images.ts';
import { ensureLayer } from '../store/layers.ts';
import { IMAGE_NAME_ANNOTATION, REF_NAME_ANNOTATION } from './save.ts';

export interface LoadResult {
  images: Image[];
  /** What Docker prints: `Loaded image: busybox:latest`, or `Loaded image ID: sha256:…`. */
  messages: string[];
}

/** An unpacked archive: regular files under `dir`, and its symlinks (legacy archives share layers so). */
interface Unpacked {
  dir: string;
  links: Map<string, string>;
}

function safeName(name: string): string {
  const clean = posix
    .normalize(name)
    .replace(/^\.\/+/, '')
    .replace(/\/+$/, '');
  if (clean === '' || clean === '.' || clean.startsWith('/') || clean === '..' || clean.startsWith('../')) {
    throw new UnsafeLayerError(name, 'archive entry outside the archive');
  }
  return clean;
}

async function unpack(input: Readable, dir: string): Promise<Unpacked> {
  const links = new Map<string, string>();
  const extract = tar.extract();
  // The first failure is kept and the rest of the archive drained: failing tar-stream mid-entry
  // leaves its entry stream erroring with no listener.
  let failure: Error | undefined;
  const skip = (body: { resume(): unknown; on(event: 'end', cb: () => void): unknown }, next: () => void) => {
    body.resume();
    body.on('end', next);
  };
  extract.on('entry', (header, body, next) => {
    let name: string;
    try {
      if (failure) return skip(body, next);
      name = safeName(header.name);
    } catch (err) {
      failure = err as Error;
      return skip(body, next);
    }
    const target = join(dir, name);
    if (header.type === 'symlink' && header.linkname) {
      links.set(name, posix.normalize(posix.join(posix.dirname(name), header.linkname)));
      skip(body, next);
    } else if (header.type === 'file') {
      mkdir(posix.dirname(target), { recursive: true })
        .then(() => pipeline(body as unknown as Readable, createWriteStream(target)))
        .then(
          () => next(),
          (err: Error) => {
            failure = err;
            next();
          },
        );
    } else {
      skip(body, next);
    }
  });
  await pipeline(input, extract);
  if (failure) throw failure;
  return { dir, links };
}

function archivePath(archive: Unpacked, name: string): string {
  let current = safeName(name);
  for (let hops = 0; archive.links.has(current); hops++) {
    if (hops > 8) throw new InvalidArgumentError(`archive: too many symlinks at ${name}`);
    current = safeName(archive.links.get(current)!);
  }
  return join(archive.dir, current);
}

async function readArchiveJson(archive: Unpacked, name: string): Promise<unknown | undefined> {
  try {
    return JSON.parse(await readFile(archivePath(archive, name), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InvalidArgumentError(`archive: ${name}: ${(err as Error).message}`);
  }
}

async function storeBlob(archive: Unpacked, ctx: EngineContext, descriptor: Descriptor): Promise<void> {
  const path = archivePath(archive, `blobs/${descriptor.digest.replace(':', '/')}`);
  await writeBlob(ctx, createReadStream(path), { digest: descriptor.digest, size: descriptor.size });
}

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/** Picks this machine's manifest out of a nested index, as pull does. */
async function pickManifest(
  archive: Unpacked,
  ctx: EngineContext,
  descriptor: Descriptor,
): Promise<Descriptor> {
  if (!INDEX_TYPES.includes(descriptor.mediaType)) return descriptor;
  await storeBlob(archive, ctx, descriptor);
  const nested = indexSchema.parse(
    await readArchiveJson(archive, `blobs/${descriptor.digest.replace(':', '/')}`),
  );
  const match =
    nested.manifests.find(
      (m) => m.platform?.os === 'linux' && m.platform.architecture === hostArchitecture(),
    ) ?? nested.manifests[0];
  if (!match) throw new InvalidArgumentError(`archive: index ${descriptor.digest} lists no manifests`);
  return pickManifest(archive, ctx, match);
}

/** Loads images from an OCI layout; `names` maps a config digest to Docker's RepoTags when present. */
async function loadLayout(
  ctx: EngineContext,
  archive: Unpacked,
  index: unknown,
  names: Map<string, string[]>,
): Promise<{ image: Image; tags: string[] }[]> {
  const parsed = indexSchema.parse(index);
  const loaded: { image: Image; tags: string[] }[] = [];
  for (const top of parsed.manifests) {
    const descriptor = await pickManifest(archive, ctx, top);
    await storeBlob(archive, ctx, descriptor);
    const manifest = manifestSchema.parse(
      await readArchiveJson(archive, `blobs/${descriptor.digest.replace(':', '/')}`),
    );
    for (const blob of [manifest.config, ...manifest.layers]) await storeBlob(archive, ctx, blob);
    const tags = new Set<string>(names.get(manifest.config.digest) ?? []);
    const full = top.annotations?.[IMAGE_NAME_ANNOTATION];
    const refName = top.annotations?.[REF_NAME_ANNOTATION];
    if (full) tags.add(full);
    // The OCI ref name is often a bare tag ("latest") that names nothing without a repository.
    else if (refName && /[/:]/.test(refName)) tags.add(refName);
    const image = await recordImage(ctx, { manifestDigest: descriptor.digest });
    loaded.push({ image, tags: [...tags] });
  }
  return loaded;
}

/** Loads a legacy docker-archive: configs and plain layer tars named by `manifest.json`. */
async function loadLegacy(ctx: EngineContext, archive: Unpacked, entries: DockerManifestEntry[]) {
  const loaded: { image: Image; tags: string[] }[] = [];
  for (const entry of entries) {
    const configBytes = await readFile(archivePath(archive, entry.Config));
    const config = imageConfigSchema.parse(JSON.parse(configBytes.toString('utf8')));
    const layers: Descriptor[] = [];
    for (const [i, name] of entry.Layers.entries()) {
      const path = archivePath(archive, name);
      const handle = await open(path);
      const magic = Buffer.alloc(2);
      await handle.read(magic, 0, 2, 0);
      await handle.close();
      const diffId = config.rootfs.diff_ids[i];
      if (magic[0] === 0x1f && magic[1] === 0x8b) {
        const blob = await writeBlob(ctx, createReadStream(path), {});
        layers.push({ mediaType: MediaType.ociLayerGzip, digest: blob.digest, size: blob.size });
      } else {
        const blob = await writeLayerBlob(ctx, createReadStream(path));
        if (diffId !== undefined && blob.diffId !== diffId) {
          throw new InvalidArgumentError(
            `archive: layer ${name}: diff_id ${blob.diffId} does not match the config's ${diffId}`,
          );
        }
        layers.push({ mediaType: MediaType.ociLayerGzip, digest: blob.digest, size: blob.size });
      }
    }
    // The config is kept byte for byte so the image id stays what it was.
    const image = await writeImage(ctx, config, layers, { configBytes });
    loaded.push({ image, tags: entry.RepoTags ?? [] });
  }
  return loaded;
}

/** Loads every image in the archive at `input` (a stream or a file path), tagging as it names them. */
export async function load(ctx: EngineContext, input: Readable | string): Promise<LoadResult> {
  await mkdir(ctx.paths.tmp, { recursive: true });
  const dir = await mkdtemp(join(ctx.paths.tmp, 'load-'));
  try {
    const archive = await unpack(typeof input === 'string' ? createReadStream(input) : input, dir);
    const dockerManifest = (await readArchiveJson(archive, 'manifest.json')) as
      | DockerManifestEntry[]
      | undefined;
    const index = await readArchiveJson(archive, 'index.json');
    let loaded: { image: Image; tags: string[] }[];
    if (index !== undefined) {
      const names = new Map<string, string[]>();
      for (const entry of dockerManifest ?? []) {
        const digest = `sha256:${posix.basename(entry.Config).replace(/\.json$/, '')}`;
        if (isDigest(digest)) names.set(parseDigest(digest), entry.RepoTags ?? []);
      }
      loaded = await loadLayout(ctx, archive, index, names);
    } else if (Array.isArray(dockerManifest)) {
      loaded = await loadLegacy(ctx, archive, dockerManifest);
    } else {
      throw new InvalidArgumentError(
        'archive: neither index.json nor manifest.json found: not an image archive',
      );
    }

    const messages: string[] = [];
    for (const { image, tags } of loaded) {
      for (const layer of imageLayers(image)) await ensureLayer(ctx, layer);
      // Recorded again now that its layers are unpacked: its size becomes its files' (as Docker's
      // `images` shows a loaded image), not its compressed blobs'.
      await recordImage(ctx, { manifestDigest: image.manifestDigest });
      const full = [...new Set(tags.map((t) => formatReference(parseReference(t))))];
      for (const ref of full) {
        await tagImage(ctx, image.id, ref);
        messages.push(`Loaded image: ${familiarName(parseReference(ref))}`);
      }
      if (full.length === 0) messages.push(`Loaded image ID: ${image.id}`);
    }
    return { images: loaded.map((l) => l.image), messages };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
