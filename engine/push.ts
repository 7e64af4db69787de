// `docker push`: upload the image's layers and config that the registry lacks (a HEAD first, as Docker
// does: "Layer already exists"), then put the manifest under the tag: the exact bytes we store, or,
// when some layers are stored as plain tars (commit), the same manifest with those layers gzipped.

import { createReadStream } from 'node:fs';
import type { EngineContext } from './context.ts';
import { NotFoundError } from './errors.ts';
import { type CompressedLayer, compressLayerBlob } from './image/layer-blob.ts';
import type { Digest } from './oci/digest.ts';
import { layerCompression, MediaType } from './oci/media-types.ts';
import type { Descriptor } from './oci/types.ts';
import {
  familiarName,
  familiarRepository,
  formatReference,
  parseReference,
  type Reference,
  withDigest,
} from './reference/reference.ts';
import { RegistryClient, type RegistryClientOptions } from './registry/client.ts';
import { openBlob, readBlob } from './store/blobs.ts';
import { loadImage, recordImage } from './store/images.ts';

export interface PushOptions {
  /** Blobs uploaded at once. */
  concurrency?: number;
  client?: Omit<RegistryClientOptions, 'onExchange'>;
}

export async function push(
  ctx: EngineContext,
  input: string,
  options: PushOptions = {},
): Promise<{ digest: Digest; size: number }> {
  const ref = parseReference(input);
  const name = familiarName(ref);
  const image = await loadImage(ctx, formatReference(ref)).catch((err: unknown) => {
    if (!(err instanceof NotFoundError)) throw err;
    throw new NotFoundError(
      `An image does not exist locally with the tag: ${familiarRepository(ref)}`,
      input,
    );
  });
  const storedBytes = await readBlob(ctx, image.manifestDigest);
  const mediaType = image.manifest.mediaType ?? sniffManifestType(image.manifest.config.mediaType);
  const client = new RegistryClient(ctx, options.client ?? {});

  // Plain-tar layers go out gzipped with fixed settings, so the same image always pushes the same
  // digests; the config (diff_ids) is unchanged, so the image id is too.
  const gzipType =
    mediaType === MediaType.dockerManifest ? MediaType.dockerLayerGzip : MediaType.ociLayerGzip;
  const compressed = new Map<Digest, CompressedLayer>();
  try {
    const layers: Descriptor[] = [];
    for (const d of image.manifest.layers) {
      if (layerCompression(d.mediaType) !== 'none') {
        layers.push(d);
        continue;
      }
      let gz = compressed.get(d.digest);
      if (!gz) {
        gz = await compressLayerBlob(ctx, d.digest);
        compressed.set(d.digest, gz);
      }
      layers.push({ ...d, mediaType: gzipType, digest: gz.digest, size: gz.size });
    }
    // The stored document itself (not the parsed one) with only `layers` replaced: every other field
    // and the key order survive, so the bytes match what a gzip-at-build engine would have written.
    const manifestBytes =
      compressed.size === 0
        ? storedBytes
        : Buffer.from(JSON.stringify({ ...(JSON.parse(storedBytes.toString('utf8')) as object), layers }));
    const sources = new Map([...compressed.values()].map((gz) => [gz.digest, gz.path]));

    // Layers first, then the config, as Docker does; the manifest only once all its blobs are there.
    // Docker announces the layers top first (it walks from the top layer to its parents).
    const unique = [...new Map(layers.map((d) => [d.digest, d])).values()];
    for (const d of [...unique].reverse()) event(ctx, name, d, 'preparing');
    event(ctx, name, image.manifest.config, 'preparing');
    await eachLimited(unique, options.concurrency ?? 3, (d) =>
      pushBlob(ctx, client, ref, name, d, sources.get(d.digest)),
    );
    await pushBlob(ctx, client, ref, name, image.manifest.config);

    const digest = await client.putManifest(ref, manifestBytes, mediaType);
    // As Docker does, remember the image by its digest in the registry it went to.
    await recordImage(ctx, {
      manifestDigest: image.manifestDigest,
      repoDigest: formatReference(withDigest(ref, digest)),
    });
    ctx.events({ type: 'push.done', ref: name, manifestDigest: digest, size: manifestBytes.length });
    return { digest, size: manifestBytes.length };
  } finally {
    await Promise.all([...compressed.values()].map((gz) => gz.release()));
  }
}

async function pushBlob(
  ctx: EngineContext,
  client: RegistryClient,
  ref: Reference,
  name: string,
  d: Descriptor,
  /** A file holding the blob's bytes when it is not in the store (a gzipped plain-tar layer). */
  source?: string,
): Promise<void> {
  if (await client.blobExists(ref, d.digest)) {
    event(ctx, name, d, 'exists');
    return;
  }
  event(ctx, name, d, 'pushing', 0);
  const step = Math.max(64 * 1024, Math.floor(d.size / 50));
  await client.uploadBlob(ref, d, () =>
    counted(source ? createReadStream(source) : openBlob(ctx, d.digest), step, (n) =>
      event(ctx, name, d, 'pushing', n),
    ),
  );
  event(ctx, name, d, 'pushed', d.size);
}

function event(
  ctx: EngineContext,
  name: string,
  d: Descriptor,
  state: 'preparing' | 'exists' | 'pushing' | 'pushed',
  current?: number,
): void {
  ctx.events({
    type: 'push.layer',
    ref: name,
    digest: d.digest,
    size: d.size,
    state,
    ...(current !== undefined ? { current } : {}),
  });
}

/** Passes chunks through, reporting the running total every `step` bytes. */
async function* counted(
  source: AsyncIterable<Uint8Array>,
  step: number,
  report: (bytes: number) => void,
): AsyncGenerator<Uint8Array> {
  let total = 0;
  let reported = 0;
  for await (const chunk of source) {
    total += chunk.byteLength;
    if (total - reported >= step) {
      reported = total;
      report(total);
    }
    yield chunk;
  }
}

/** A manifest stored without its own mediaType field: Docker configs mean a Docker manifest. */
function sniffManifestType(configMediaType: string): string {
  return configMediaType === MediaType.dockerConfig ? MediaType.dockerManifest : MediaType.ociManifest;
}

async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.error;
}
