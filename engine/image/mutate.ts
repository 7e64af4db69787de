// Image transformations: append a layer, change metadata. The one place that writes a new config and
// manifest from a base image; commit and build are both sequences of these.

import type { Readable } from 'node:stream';
import type { EngineContext } from '../context.ts';
import type { Digest } from '../oci/digest.ts';
import { MediaType } from '../oci/media-types.ts';
import type { ContainerConfig, Descriptor, History, Image, ImageConfig, Manifest } from '../oci/types.ts';
import { formatReference, parseReference } from '../reference/reference.ts';
import { writeBlobBytes } from '../store/blobs.ts';
import { recordImage } from '../store/images.ts';
import { ensureLayer } from '../store/layers.ts';
import { writeLayerBlob } from './layer-blob.ts';

export interface AppendOptions {
  /**
   * The history entry of this step; `created` defaults to the image's. `null`: none, for a config
   * change BuildKit records nowhere (ONBUILD).
   */
  history: History | null;
  /** Fields that replace the base's runtime config (`Cmd`, `Env`, …). */
  config?: Partial<ContainerConfig>;
  /** ISO timestamp for the config and history; fixed by reproducible builds. */
  created?: string;
  /**
   * `none` stores the layer as a plain tar (Docker's local layers: one hash, no CPU spent on gzip);
   * push gzips it. Default `gzip`.
   */
  compression?: 'gzip' | 'none';
  /** Reference to tag the result with (`busybox:mine`). */
  tag?: string;
  /** Unpack the new layer now so containers can use it at once (default true). */
  unpack?: boolean;
  author?: string;
}

/** The Go architecture name of this machine, as image configs spell it. */
export function hostArchitecture(): string {
  switch (process.arch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    default:
      return process.arch;
  }
}

/** The config of an image with no layers (`FROM scratch`). */
export function scratchConfig(): ImageConfig {
  return {
    architecture: hostArchitecture(),
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  };
}

/** Docker-era fields that describe the container an image came from; they do not survive a change. */
const LEGACY_CONFIG_FIELDS = ['container', 'container_config', 'docker_version', 'id', 'parent'];

/** Whether the base speaks Docker's schema2; the result keeps its dialect so its layers stay valid. */
function isDockerDialect(base: Image | null): boolean {
  return base?.manifest.mediaType === MediaType.dockerManifest;
}

function nextConfig(base: Image | null, opts: AppendOptions, created: string): ImageConfig {
  const baseConfig: ImageConfig = base ? structuredClone(base.config) : scratchConfig();
  for (const field of LEGACY_CONFIG_FIELDS) delete (baseConfig as Record<string, unknown>)[field];
  const runtime: ContainerConfig = { ...(baseConfig.config ?? {}), ...(opts.config ?? {}) };
  const next: ImageConfig = {
    ...baseConfig,
    created,
    architecture: baseConfig.architecture,
    os: baseConfig.os,
    config: runtime,
    rootfs: { type: 'layers', diff_ids: [...baseConfig.rootfs.diff_ids] },
    history: [...(baseConfig.history ?? [])],
  };
  if (opts.author !== undefined) next.author = opts.author;
  return next;
}

/**
 * Writes `config` and a manifest over `layers`, records the image and tags it. The config digest is
 * the image id, so identical inputs give the identical image.
 */
export async function writeImage(
  ctx: EngineContext,
  config: ImageConfig,
  layers: Descriptor[],
  opts: { tag?: string; docker?: boolean; configBytes?: Uint8Array; parent?: Digest } = {},
): Promise<Image> {
  // `configBytes`, when given, is `config` as another tool serialised it: kept so the id is kept.
  const configBytes = opts.configBytes ?? Buffer.from(JSON.stringify(config));
  const configBlob = await writeBlobBytes(ctx, configBytes);
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: opts.docker ? MediaType.dockerManifest : MediaType.ociManifest,
    config: {
      mediaType: opts.docker ? MediaType.dockerConfig : MediaType.ociConfig,
      digest: configBlob.digest,
      size: configBlob.size,
    },
    layers,
  };
  const manifestBlob = await writeBlobBytes(ctx, Buffer.from(JSON.stringify(manifest)));
  const tag = opts.tag === undefined ? undefined : formatReference(parseReference(opts.tag));
  const image = await recordImage(ctx, {
    manifestDigest: manifestBlob.digest,
    ...(tag === undefined ? {} : { tag }),
    ...(opts.parent === undefined ? {} : { parent: opts.parent }),
  });
  return image;
}

/**
 * Appends one layer to `base` (`null` is scratch). `layerTar` is an uncompressed tar stream; `null`
 * makes a metadata-only step that adds a history entry marked `empty_layer` and no layer.
 */
export async function appendLayer(
  ctx: EngineContext,
  base: Image | null,
  layerTar: Readable | null,
  opts: AppendOptions,
): Promise<Image> {
  const created = opts.created ?? new Date().toISOString();
  const config = nextConfig(base, opts, created);
  const docker = isDockerDialect(base);
  const layers = [...(base?.manifest.layers ?? [])];
  const history: History = { created, ...(opts.history ?? {}) };
  if (layerTar === null) {
    history.empty_layer = true;
  } else {
    const plain = opts.compression === 'none';
    const blob = await writeLayerBlob(ctx, layerTar, undefined, plain ? 'none' : 'gzip');
    // Docker's schema2 has no plain-tar type we read; the OCI one is local only (push gzips it).
    const gzipType = docker ? MediaType.dockerLayerGzip : MediaType.ociLayerGzip;
    const descriptor: Descriptor = {
      mediaType: plain ? MediaType.ociLayer : gzipType,
      digest: blob.digest,
      size: blob.size,
    };
    layers.push(descriptor);
    config.rootfs.diff_ids.push(blob.diffId);
    delete history.empty_layer;
    if (opts.unpack !== false) await ensureLayer(ctx, { descriptor, diffId: blob.diffId });
  }
  if (opts.history !== null) config.history?.push(history);
  return writeImage(ctx, config, layers, {
    ...(opts.tag === undefined ? {} : { tag: opts.tag }),
    ...(base === null ? {} : { parent: base.id }),
    docker,
  });
}

/** A metadata-only step (`ENV`, `CMD`, `docker commit --change`): new config, same layers. */
export function mutateConfig(
  ctx: EngineContext,
  base: Image | null,
  changes: Partial<ContainerConfig>,
  history: History | null,
  opts: Omit<AppendOptions, 'history' | 'config'> = {},
): Promise<Image> {
  return appendLayer(ctx, base, null, { ...opts, history, config: changes });
}
