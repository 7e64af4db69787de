// A real busybox image in a fresh state root without a registry: one uncompressed layer holding the
// host's static /bin/busybox and a symlink per applet, recorded through the store like a pulled image.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import tar from 'tar-stream';
import type { EngineContext } from '../../engine/context.ts';
import { sha256 } from '../../engine/oci/digest.ts';
import { MediaType } from '../../engine/oci/media-types.ts';
import type { Image, ImageConfig, Manifest } from '../../engine/oci/types.ts';
import { writeBlobBytes } from '../../engine/store/blobs.ts';
import { recordImage } from '../../engine/store/images.ts';

const BUSYBOX = '/bin/busybox';
const EPOCH = new Date('2024-01-01T00:00:00Z');

export const PASSWD =
  'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n';
export const GROUP = 'root:x:0:\nnogroup:x:65534:\nalice:x:1000:\nstaff:x:50:alice\n';
/** A file the tests delete, like /etc/motd in a distribution image. */
export const MOTD = 'Welcome to the layerlab busybox test image\n';

/** The layer tar, built in memory: about 2 MB. */
export async function busyboxLayerTar(): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c) => {
      chunks.push(c as Buffer);
    });
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  const dir = (name: string, mode = 0o755) => pack.entry({ name, type: 'directory', mode, mtime: EPOCH });
  const file = (name: string, data: string | Buffer, mode = 0o644) =>
    pack.entry({ name, type: 'file', mode, mtime: EPOCH }, data);
  for (const d of ['bin/', 'etc/', 'home/', 'root/', 'usr/', 'usr/bin/', 'usr/sbin/', 'sbin/', 'var/'])
    dir(d);
  dir('tmp/', 0o1777);
  file('bin/busybox', readFileSync(BUSYBOX), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list-full'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line !== '' && line !== 'bin/busybox')
    .sort();
  for (const applet of applets) {
    const depth = applet.split('/').length - 1;
    pack.entry({
      name: applet,
      type: 'symlink',
      linkname: `${'../'.repeat(depth)}bin/busybox`,
      mtime: EPOCH,
    });
  }
  file('etc/passwd', PASSWD);
  file('etc/group', GROUP);
  file('etc/motd', MOTD);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Stores the layer, config and manifest, records the image and tags it `tag` (a full reference). */
export async function makeBusyboxImage(
  ctx: EngineContext,
  tag = 'docker.io/library/busybox:latest',
): Promise<Image> {
  const layer = await busyboxLayerTar();
  const layerDesc = await writeBlobBytes(ctx, layer);
  const config: ImageConfig = {
    created: EPOCH.toISOString(),
    architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
    history: [{ created: EPOCH.toISOString(), created_by: 'test/support/busybox-image.ts' }],
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDesc = await writeBlobBytes(ctx, configBytes);
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: configDesc.digest, size: configDesc.size },
    layers: [{ mediaType: MediaType.ociLayer, digest: layerDesc.digest, size: layerDesc.size }],
  };
  const manifestDesc = await writeBlobBytes(ctx, Buffer.from(JSON.stringify(manifest)));
  return recordImage(ctx, { manifestDigest: manifestDesc.digest, tag });
}
