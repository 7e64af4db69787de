// `save`: images out of the store into one tar. Both formats are an OCI image layout (`oci-layout`,
// `index.json`, `blobs/sha256/…`); the docker format adds `manifest.json` and `repositories`, as Docker 25+ writes it.

import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import type { EngineContext } from '../context.ts';
import { type Digest, digestHex } from '../oci/digest.ts';
import { MediaType } from '../oci/media-types.ts';
import type { Descriptor, Image, Index } from '../oci/types.ts';
import {
  familiarName,
  familiarRepository,
  formatReference,
  parseReference,
  type Reference,
} from '../reference/reference.ts';
import { blobSize, openBlob } from '../store/blobs.ts';
import { getImageRecord, loadImage } from '../store/images.ts';

export type ArchiveFormat = 'docker' | 'oci';

/** Annotation containerd and Docker use for the full reference of a manifest in an index. */
export const IMAGE_NAME_ANNOTATION = 'io.containerd.image.name';
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

interface SavedImage {
  image: Image;
  /** The tag the user asked for, when they named one (not an id). */
  ref?: Reference;
}

/** Entries of the tar get a fixed mtime so saving the same images twice gives the same bytes. */
const EPOCH = new Date(0);

export function blobEntryName(digest: Digest): string {
  return `blobs/sha256/${digestHex(digest)}`;
}

async function resolveImages(ctx: EngineContext, refs: string[]): Promise<SavedImage[]> {
  const saved: SavedImage[] = [];
  for (const input of refs) {
    const image = await loadImage(ctx, input);
    const record = await getImageRecord(ctx, image.id);
    let ref: Reference | undefined;
    try {
      const parsed = parseReference(input);
      const full = formatReference(parsed);
      const tags = (record?.repoTags ?? []).map((t) => formatReference(parseReference(t)));
      if (tags.includes(full)) ref = parsed;
    } catch {
      // An id or id prefix: saved without a name, as Docker does.
    }
    saved.push(ref === undefined ? { image } : { image, ref });
  }
  return saved;
}

/** Writes `refs` as one archive to `out` (a stream, or a file path that is created). */
export async function save(
  ctx: EngineContext,
  refs: string[],
  out: Writable | string,
  opts: { format?: ArchiveFormat } = {},
): Promise<void> {
  const format = opts.format ?? 'docker';
  const images = await resolveImages(ctx, refs);
  const pack = tar.pack();
  const sink = typeof out === 'string' ? createWriteStream(out) : out;
  const done = pipeline(pack, sink);

  const put = (name: string, data: string | Buffer) =>
    new Promise<void>((ok, fail) => {
      pack.entry({ name, mtime: EPOCH, mode: 0o644 }, data, (err) => (err ? fail(err) : ok()));
    });
  const putBlob = async (digest: Digest) => {
    const size = await blobSize(ctx, digest);
    await new Promise<void>((ok, fail) => {
      const entry = pack.entry({ name: blobEntryName(digest), size, mtime: EPOCH, mode: 0o644 }, (err) =>
        err ? fail(err) : ok(),
      );
      const source = openBlob(ctx, digest);
      source.on('error', fail);
      source.pipe(entry);
    });
  };

  try {
    await put('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    const written = new Set<Digest>();
    const manifests: Descriptor[] = [];
    for (const { image, ref } of images) {
      for (const digest of [
        image.manifestDigest,
        image.manifest.config.digest,
        ...image.manifest.layers.map((l) => l.digest),
      ]) {
        if (written.has(digest)) continue;
        written.add(digest);
        await putBlob(digest);
      }
      const annotations =
        ref === undefined
          ? undefined
          : { [IMAGE_NAME_ANNOTATION]: formatReference(ref), [REF_NAME_ANNOTATION]: ref.tag ?? 'latest' };
      manifests.push({
        mediaType: image.manifest.mediaType ?? MediaType.ociManifest,
        digest: image.manifestDigest,
        size: await blobSize(ctx, image.manifestDigest),
        ...(annotations ? { annotations } : {}),
      });
    }
    const index: Index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
    await put('index.json', JSON.stringify(index));

    if (format === 'docker') {
      const dockerManifest = images.map(({ image, ref }) => ({
        Config: blobEntryName(image.manifest.config.digest),
        RepoTags: ref === undefined ? null : [familiarName(ref)],
        Layers: image.manifest.layers.map((l) => blobEntryName(l.digest)),
      }));
      await put('manifest.json', JSON.stringify(dockerManifest));
      const repositories: Record<string, Record<string, string>> = {};
      for (const { image, ref } of images) {
        if (ref === undefined) continue;
        const name = familiarRepository(ref);
        repositories[name] = { ...(repositories[name] ?? {}), [ref.tag ?? 'latest']: digestHex(image.id) };
      }
      await put('repositories', JSON.stringify(repositories));
    }
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    throw err;
  }
  await done;
}
