// `docker pull`: resolve a reference to a manifest (choosing a platform from an index), store the
// manifest, config and layer blobs, unpack the layers, then record and tag the image.

import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { EngineContext } from './context.ts';
import { withOperation } from './context.ts';
import { CancelledError, LayerlabError, RegistryError, SizeExceededError } from './errors.ts';
import type { Digest } from './oci/digest.ts';
import { INDEX_TYPES, layerCompression, MediaType } from './oci/media-types.ts';
import {
  type Descriptor,
  type Image,
  type ImageConfig,
  imageConfigSchema,
  indexSchema,
  type Layer,
  type Manifest,
  manifestSchema,
  type Platform,
} from './oci/types.ts';
import {
  familiarName,
  formatReference,
  parseReference,
  type Reference,
  withDigest,
  withTag,
} from './reference/reference.ts';
import { RegistryClient, type RegistryClientOptions } from './registry/client.ts';
import { hostPlatform, selectManifest } from './registry/platform.ts';
import { hasBlob, readBlob, writeBlob, writeBlobBytes } from './store/blobs.ts';
import { recordImage } from './store/images.ts';
import { ensureLayer, ensureLayerFrom, layerExists } from './store/layers.ts';
import { assertLayerQuota } from './store/quota.ts';

export interface PullOptions {
  /** Defaults to linux and the host's architecture. */
  platform?: Platform;
  /** Layers downloaded at once (Docker's default is 3). */
  concurrency?: number;
  /** Transport settings and credentials for the registry client (tests shorten timeouts). */
  client?: Omit<RegistryClientOptions, 'onExchange'>;
}

/** Indexes may point at indexes; follow a few levels and no more, so a chain of them cannot spin. */
const MAX_INDEX_DEPTH = 3;
const CONFIG_TYPES = [MediaType.ociConfig, MediaType.dockerConfig];

export async function pull(ctx: EngineContext, input: string, options: PullOptions = {}): Promise<Image> {
  const ref = parseReference(input);
  const name = familiarName(ref);
  // One failed layer cancels the others instead of leaving them downloading in the background.
  const failed = new AbortController();
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, failed.signal]) : failed.signal;
  const op = withOperation(ctx, { signal });

  const client = new RegistryClient(op, {
    ...options.client,
    onExchange: (e) => {
      if (e.step === 'ping' || e.step === 'token' || e.step === 'index' || e.step === 'manifest') {
        op.events({
          type: 'pull.exchange',
          ref: name,
          step: e.step,
          url: e.url,
          status: e.status,
          ...(e.digest ? { digest: e.digest } : {}),
          ...(e.mediaType ? { mediaType: e.mediaType } : {}),
        });
      }
    },
  });

  // Manifests and the config are stored (each write fsynced) while the pull goes on; the image is
  // recorded only once every one of them is in the store, and a failed pull waits for them too, so
  // no temp file outlives it.
  const stores = new PendingStores();
  let manifestDigest: Digest;
  let topDigest: Digest;
  try {
    const resolved = await resolveManifest(op, client, ref, options.platform ?? hostPlatform(), stores);
    ({ manifestDigest, topDigest } = resolved);
    const { manifest } = resolved;
    const config = await fetchConfig(op, client, ref, name, manifest, stores);
    if (config.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new LayerlabError(
        'UNSUPPORTED',
        `${name}: manifest has ${manifest.layers.length} layers but the config lists ${config.rootfs.diff_ids.length} diff_ids`,
        { input: name },
      );
    }
    const layers: Layer[] = manifest.layers.map((descriptor, i) => ({
      descriptor,
      diffId: config.rootfs.diff_ids[i]!,
    }));
    // Before any layer is downloaded: a pull that cannot fit the session's quota costs no disk.
    await assertLayerQuota(
      ctx,
      layers.map((l) => ({ diffId: l.diffId, size: l.descriptor.size })),
    );
    try {
      await fetchLayers(op, client, ref, name, layers, options.concurrency ?? 3, failed);
    } catch (err) {
      if (ctx.signal?.aborted) throw new CancelledError(`pull ${name}`);
      throw err;
    }
    await stores.settled();
  } catch (err) {
    await stores.quiet();
    throw err;
  }

  // Docker records where the image came from by digest (the index's, for a multi-platform pull).
  const image = await recordImage(ctx, {
    manifestDigest,
    ...(ref.digest === undefined && ref.tag !== undefined
      ? { tag: formatReference(withTag(ref, ref.tag)) }
      : {}),
    repoDigest: formatReference(withDigest(ref, topDigest)),
  });
  ctx.events({ type: 'pull.done', ref: name, imageId: image.id, manifestDigest });
  return image;
}

/** Follows the reference to a single-platform manifest, storing every manifest and index it reads. */
async function resolveManifest(
  ctx: EngineContext,
  client: RegistryClient,
  ref: Reference,
  platform: Platform,
  stores: PendingStores,
): Promise<{ manifest: Manifest; manifestDigest: Digest; topDigest: Digest }> {
  let current = await client.getManifest(ref);
  const topDigest = current.digest;
  stores.add(writeBlobBytes(ctx, current.bytes, { digest: current.digest }));
  for (let depth = 0; INDEX_TYPES.includes(current.mediaType); depth++) {
    if (depth >= MAX_INDEX_DEPTH) {
      const what = familiarName(ref);
      throw new LayerlabError('UNSUPPORTED', `${what}: indexes nested more than ${MAX_INDEX_DEPTH} deep`, {
        input: what,
      });
    }
    const index = parseDocument(indexSchema, current.bytes, `index ${current.digest}`);
    const chosen = selectManifest(index, platform);
    current = await client.getManifest(withDigest(ref, chosen.digest));
    stores.add(writeBlobBytes(ctx, current.bytes, { digest: current.digest }));
  }
  const manifest = parseDocument(manifestSchema, current.bytes, `manifest ${current.digest}`);
  if (!CONFIG_TYPES.includes(manifest.config.mediaType as (typeof CONFIG_TYPES)[number])) {
    throw new LayerlabError(
      'UNSUPPORTED',
      `${familiarName(ref)}: not a container image (config media type ${manifest.config.mediaType})`,
      { input: manifest.config.mediaType },
    );
  }
  for (const layer of manifest.layers) {
    if (layerCompression(layer.mediaType) === undefined) {
      throw new LayerlabError(
        'UNSUPPORTED',
        `${familiarName(ref)}: unsupported layer media type ${layer.mediaType}`,
        {
          input: layer.mediaType,
        },
      );
    }
  }
  return { manifest, manifestDigest: current.digest, topDigest };
}

async function fetchConfig(
  ctx: EngineContext,
  client: RegistryClient,
  ref: Reference,
  name: string,
  manifest: Manifest,
  stores: PendingStores,
): Promise<ImageConfig> {
  const descriptor = manifest.config;
  const limit = ctx.config.limits.manifestBytes;
  if (descriptor.size > limit) throw new SizeExceededError(`config ${descriptor.digest}`, limit);
  let bytes: Buffer;
  if (await hasBlob(ctx, descriptor.digest)) {
    bytes = await readBlob(ctx, descriptor.digest);
  } else {
    // Small (capped above) and verified by the client: parsed from memory while it is being stored.
    bytes = await fetchSmallBlob(ctx, client, ref, descriptor, (url, status) =>
      ctx.events({
        type: 'pull.exchange',
        ref: name,
        step: 'config',
        url,
        status,
        digest: descriptor.digest,
        mediaType: descriptor.mediaType,
      }),
    );
    stores.add(writeBlobBytes(ctx, bytes, { digest: descriptor.digest, size: descriptor.size }));
  }
  return parseDocument(imageConfigSchema, bytes, `config ${descriptor.digest}`);
}

/** Blob writes the pull does not wait for at once; `settled` waits for all and throws the first failure. */
class PendingStores {
  private readonly pending: Promise<unknown>[] = [];

  add(write: Promise<unknown>): void {
    // Observed now so an early failure is not an unhandled rejection; reported by `settled`.
    write.catch(() => {});
    this.pending.push(write);
  }

  async settled(): Promise<void> {
    await Promise.all(this.pending);
  }

  /** Waits for every write to finish or fail, throwing nothing (the pull is failing already). */
  async quiet(): Promise<void> {
    await Promise.allSettled(this.pending);
  }
}

/** Downloads missing layer blobs, `concurrency` at a time, unpacking each once it is stored. */
async function fetchLayers(
  ctx: EngineContext,
  client: RegistryClient,
  ref: Reference,
  name: string,
  layers: Layer[],
  concurrency: number,
  failed: AbortController,
): Promise<void> {
  const event = (
    d: Descriptor,
    state: 'waiting' | 'exists' | 'downloading' | 'verifying' | 'extracting' | 'complete',
    current?: number,
  ) =>
    ctx.events({
      type: 'pull.layer',
      ref: name,
      digest: d.digest,
      size: d.size,
      state,
      ...(current !== undefined ? { current } : {}),
    });

  // The same blob can appear twice in one manifest (empty layers); fetch it once.
  const unique = [...new Map(layers.map((l) => [l.descriptor.digest, l])).values()];
  for (const layer of unique) event(layer.descriptor, 'waiting');

  const one = async (layer: Layer): Promise<void> => {
    const d = layer.descriptor;
    if (await hasBlob(ctx, d.digest)) {
      event(d, 'exists');
    } else if (await layerExists(ctx, layer.diffId)) {
      await downloadBlob(ctx, client, ref, d, (state, current) => event(d, state, current));
      return;
    } else {
      // Unpack while downloading: the bytes go to the blob store and to the unpacker at once.
      try {
        await downloadAndUnpack(ctx, client, ref, layer, (state, current) => event(d, state, current));
        event(d, 'complete');
        return;
      } catch (err) {
        const transient = err instanceof RegistryError && err.status === undefined;
        if (!transient || ctx.signal?.aborted) throw err;
        // A broken connection: the retrying download, then an unpack from the stored blob.
        await downloadBlob(ctx, client, ref, d, (state, current) => event(d, state, current));
      }
    }
    if (!(await layerExists(ctx, layer.diffId))) {
      event(d, 'extracting');
      await ensureLayer(ctx, layer);
      event(d, 'complete');
    }
  };

  let next = 0;
  let firstError: unknown;
  const worker = async () => {
    while (next < unique.length && firstError === undefined) {
      const layer = unique[next++]!;
      try {
        await one(layer);
      } catch (err) {
        if (firstError === undefined) {
          firstError = err;
          failed.abort(err);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, unique.length)) }, worker));
  if (firstError !== undefined) throw firstError;
}

/**
 * One download feeding two consumers: the blob store (hash, size, write, fsync) and the unpacker
 * (decompress, diff_id, tar). The slower one sets the pace; the layer is kept only if the blob
 * verifies. Docker's pull also extracts as it downloads, which is why it looked 6x faster.
 */
async function downloadAndUnpack(
  ctx: EngineContext,
  client: RegistryClient,
  ref: Reference,
  layer: Layer,
  report: (state: 'downloading' | 'verifying' | 'extracting', current: number) => void,
): Promise<void> {
  const d = layer.descriptor;
  const step = Math.max(64 * 1024, Math.floor(d.size / 50));
  // One hash of the compressed bytes, the blob store's: it refuses the blob, and with it the layer.
  const stream = await client.fetchBlob(ref, d, undefined, { digestVerifiedBy: 'caller' });
  report('downloading', 0);
  const toBlob = new PassThrough({ highWaterMark: 1 << 20 });
  const toLayer = new PassThrough({ highWaterMark: 1 << 20 });
  // Failures reach us through the consumers' promises; a branch nobody reads yet must not crash.
  for (const branch of [toBlob, toLayer]) branch.on('error', () => {});
  let reported = 0;
  const stored = writeBlob(ctx, toBlob, { digest: d.digest, size: d.size }, (bytes) => {
    if (bytes - reported >= step || bytes === d.size) {
      reported = bytes;
      report('downloading', bytes);
    }
  });
  stored.catch(() => {});
  const unpacked = ensureLayerFrom(ctx, layer, toLayer, stored);
  unpacked.catch(() => {});
  const signal = failedSoon(stored, unpacked);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      toBlob.write(chunk);
      toLayer.write(chunk);
      // Asked after each wait: one branch may drain while we wait for the other, and its 'drain'
      // will not come again.
      if (toBlob.writableNeedDrain) await once(toBlob, 'drain', { signal });
      if (toLayer.writableNeedDrain) await once(toLayer, 'drain', { signal });
    }
    toBlob.end();
    toLayer.end();
  } catch (err) {
    toBlob.destroy(err as Error);
    toLayer.destroy(err as Error);
    // A consumer that failed for a reason (digest mismatch, bad tar) says more than the aborted wait,
    // or than the other consumer, which only saw its input cut (an AbortError from its stream).
    const settled = await Promise.allSettled([stored, unpacked]);
    for (const s of settled) {
      if (s.status === 'rejected' && (s.reason as Error)?.name !== 'AbortError') throw s.reason;
    }
    throw err;
  }
  await stored;
  report('verifying', d.size);
  report('extracting', d.size);
  await unpacked;
}

/** An AbortSignal that fires when either consumer fails, so a wait for `drain` cannot hang. */
function failedSoon(...consumers: Promise<unknown>[]): AbortSignal {
  const controller = new AbortController();
  for (const p of consumers) p.catch((err: unknown) => controller.abort(err));
  return controller.signal;
}

/** A connection that broke mid-download is worth another try; a wrong digest or size is not. */
const DOWNLOAD_ATTEMPTS = 3;

async function downloadBlob(
  ctx: EngineContext,
  client: RegistryClient,
  ref: Reference,
  d: Descriptor,
  report: (state: 'downloading' | 'verifying', current: number) => void,
): Promise<void> {
  const step = Math.max(64 * 1024, Math.floor(d.size / 50));
  for (let attempt = 1; ; attempt++) {
    try {
      const stream = await client.fetchBlob(ref, d, undefined, { digestVerifiedBy: 'caller' });
      report('downloading', 0);
      let reported = 0;
      await writeBlob(ctx, stream, { digest: d.digest, size: d.size }, (bytes) => {
        if (bytes - reported >= step || bytes === d.size) {
          reported = bytes;
          report('downloading', bytes);
        }
      });
      report('verifying', d.size);
      return;
    } catch (err) {
      const transient = err instanceof RegistryError && err.status === undefined;
      if (!transient || attempt >= DOWNLOAD_ATTEMPTS || ctx.signal?.aborted) throw err;
    }
  }
}

/** A small blob (a config) into memory, digest-checked by the client, retried like a layer download. */
async function fetchSmallBlob(
  ctx: EngineContext,
  client: RegistryClient,
  ref: Reference,
  d: Descriptor,
  onResponse: (url: string, status: number) => void,
): Promise<Buffer> {
  for (let attempt = 1; ; attempt++) {
    try {
      const parts: Buffer[] = [];
      for await (const chunk of (await client.fetchBlob(ref, d, onResponse)) as AsyncIterable<Buffer>) {
        parts.push(chunk);
      }
      return Buffer.concat(parts);
    } catch (err) {
      const transient = err instanceof RegistryError && err.status === undefined;
      if (!transient || attempt >= DOWNLOAD_ATTEMPTS || ctx.signal?.aborted) throw err;
    }
  }
}

function parseDocument<T>(
  schema: {
    safeParse(
      v: unknown,
    ):
      | { success: true; data: T }
      | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } };
  },
  bytes: Buffer,
  what: string,
): T {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new LayerlabError('UNSUPPORTED', `${what}: not valid JSON`, { input: what });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LayerlabError(
      'UNSUPPORTED',
      `${what}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
      {
        input: what,
      },
    );
  }
  return parsed.data;
}
