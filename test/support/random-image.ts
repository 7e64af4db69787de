// Small random images built in memory (gzip tar layers, a config with diff_ids, an OCI or Docker
// manifest, optionally a multi-platform index) and uploaded over plain HTTP, independent of our push.
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import type { Digest } from '../../engine/oci/digest.ts';
import { MediaType } from '../../engine/oci/media-types.ts';
import type { Descriptor, Platform } from '../../engine/oci/types.ts';

export interface Blob {
  bytes: Buffer;
  digest: Digest;
  mediaType: string;
}

export interface PlatformImage {
  platform: Platform;
  manifest: Blob;
  config: Blob;
  layers: (Blob & { diffId: Digest })[];
}

export interface RandomImage {
  /** What the tag points at: the index when there are several platforms, else the manifest. */
  top: Blob;
  images: PlatformImage[];
  /** Every blob (configs and layers) by digest. */
  blobs: Map<Digest, Buffer>;
}

export interface RandomImageOptions {
  layers?: number;
  filesPerLayer?: number;
  fileBytes?: number;
  format?: 'oci' | 'docker';
  /** More than one makes an index; the default is the host's linux/amd64. */
  platforms?: Platform[];
  /** Force an index even with a single platform. */
  index?: boolean;
}

export function digestOf(bytes: Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;
}

/** A tar of a directory and a few random files, as one layer would hold. */
export async function randomTar(files: number, fileBytes: number, prefix = 'random'): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on('data', (chunk) => {
    chunks.push(chunk as Buffer);
  });
  const done = new Promise<void>((resolve, reject) => {
    archive.on('end', resolve);
    archive.on('error', reject);
  });
  const mtime = new Date('2024-01-01T00:00:00Z');
  archive.entry({ name: `${prefix}/`, type: 'directory', mode: 0o755, mtime });
  for (let i = 0; i < files; i++) {
    archive.entry({ name: `${prefix}/file-${i}`, mode: 0o644, mtime }, randomBytes(fileBytes));
  }
  archive.finalize();
  await done;
  return Buffer.concat(chunks);
}

export async function randomImage(options: RandomImageOptions = {}): Promise<RandomImage> {
  const format = options.format ?? 'oci';
  const platforms = options.platforms ?? [{ os: 'linux', architecture: 'amd64' }];
  const blobs = new Map<Digest, Buffer>();
  const images: PlatformImage[] = [];
  const types =
    format === 'oci'
      ? {
          manifest: MediaType.ociManifest,
          config: MediaType.ociConfig,
          layer: MediaType.ociLayerGzip,
          index: MediaType.ociIndex,
        }
      : {
          manifest: MediaType.dockerManifest,
          config: MediaType.dockerConfig,
          layer: MediaType.dockerLayerGzip,
          index: MediaType.dockerManifestList,
        };

  for (const platform of platforms) {
    const layers: PlatformImage['layers'] = [];
    for (let i = 0; i < (options.layers ?? 2); i++) {
      const tar = await randomTar(options.filesPerLayer ?? 3, options.fileBytes ?? 2048, `layer${i}`);
      const gz = gzipSync(tar);
      const layer = { bytes: gz, digest: digestOf(gz), mediaType: types.layer, diffId: digestOf(tar) };
      blobs.set(layer.digest, gz);
      layers.push(layer);
    }
    const configDoc = {
      created: '2024-01-01T00:00:00Z',
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: {
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        Cmd: ['/bin/sh'],
      },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `random layer ${i}` })),
    };
    const configBytes = Buffer.from(JSON.stringify(configDoc));
    const config = { bytes: configBytes, digest: digestOf(configBytes), mediaType: types.config };
    blobs.set(config.digest, configBytes);
    const manifestDoc = {
      schemaVersion: 2,
      mediaType: types.manifest,
      config: descriptor(config),
      layers: layers.map(descriptor),
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifestDoc, null, 2));
    images.push({
      platform,
      manifest: { bytes: manifestBytes, digest: digestOf(manifestBytes), mediaType: types.manifest },
      config,
      layers,
    });
  }

  let top = images[0]!.manifest;
  if (images.length > 1 || options.index) {
    const indexDoc = {
      schemaVersion: 2,
      mediaType: types.index,
      manifests: images.map((image) => ({ ...descriptor(image.manifest), platform: image.platform })),
    };
    const bytes = Buffer.from(JSON.stringify(indexDoc, null, 2));
    top = { bytes, digest: digestOf(bytes), mediaType: types.index };
  }
  return { top, images, blobs };
}

function descriptor(blob: Blob): Descriptor {
  return { mediaType: blob.mediaType, digest: blob.digest, size: blob.bytes.length };
}

/** Uploads every blob, the platform manifests by digest, and `top` under `tag`, straight over HTTP. */
export async function uploadImage(
  baseUrl: string,
  repository: string,
  tag: string,
  image: RandomImage,
  headers: Record<string, string> = {},
): Promise<void> {
  for (const [digest, bytes] of image.blobs) await uploadBlob(baseUrl, repository, digest, bytes, headers);
  for (const platformImage of image.images) {
    if (platformImage.manifest !== image.top) {
      await putManifest(baseUrl, repository, platformImage.manifest.digest, platformImage.manifest, headers);
    }
  }
  await putManifest(baseUrl, repository, tag, image.top, headers);
}

export async function uploadBlob(
  baseUrl: string,
  repository: string,
  digest: Digest,
  bytes: Buffer,
  headers: Record<string, string> = {},
): Promise<void> {
  const start = await fetch(`${baseUrl}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers });
  await start.body?.cancel();
  const location = start.headers.get('location');
  if (start.status !== 202 || !location) throw new Error(`upload start: ${start.status}`);
  const url = new URL(location, baseUrl);
  url.searchParams.set('digest', digest);
  const put = await fetch(url, {
    method: 'PUT',
    headers: { ...headers, 'Content-Type': 'application/octet-stream' },
    body: new Uint8Array(bytes),
  });
  await put.body?.cancel();
  if (put.status !== 201) throw new Error(`upload ${digest}: ${put.status}`);
}

export async function putManifest(
  baseUrl: string,
  repository: string,
  reference: string,
  manifest: Blob,
  headers: Record<string, string> = {},
): Promise<void> {
  const response = await fetch(`${baseUrl}/v2/${repository}/manifests/${reference}`, {
    method: 'PUT',
    headers: { ...headers, 'Content-Type': manifest.mediaType },
    body: new Uint8Array(manifest.bytes),
  });
  const text = await response.text();
  if (response.status !== 201) throw new Error(`put manifest ${reference}: ${response.status} ${text}`);
}
