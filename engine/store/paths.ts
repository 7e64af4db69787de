// The layout of the state root. Every module asks here for its paths so the layout is written once.
//
//   blobs/sha256/<hex>            content-addressed blobs (manifests, configs, compressed layers)
//   images/<config-hex>.json      one record per image (id = config digest)
//   repositories.json             name:tag → image id, name@digest → image id
//   layers/<diff-id-hex>/         an unpacked layer: diff/ (the overlay lowerdir) and layer.json
//   containers/<id>/              a container: container.json, bundle/, rw/ (tmpfs: upper, work), merged/, log
//   run/<short-id>/               sockets and pid files (short paths: unix sockets allow ~108 bytes)
//   tmp/                          scratch on the same filesystem, so renames into place are atomic
//   locks/                        lock files

import { join } from 'node:path';
import type { Digest } from '../oci/digest.ts';
import { digestAlgorithm, digestHex } from '../oci/digest.ts';

export interface RootPaths {
  readonly root: string;
  readonly blobs: string;
  readonly images: string;
  readonly repositories: string;
  readonly layers: string;
  readonly containers: string;
  readonly run: string;
  readonly tmp: string;
  readonly locks: string;
}

export function rootPaths(root: string): RootPaths {
  return {
    root,
    blobs: join(root, 'blobs'),
    images: join(root, 'images'),
    repositories: join(root, 'repositories.json'),
    layers: join(root, 'layers'),
    containers: join(root, 'containers'),
    run: join(root, 'run'),
    tmp: join(root, 'tmp'),
    locks: join(root, 'locks'),
  };
}

export function blobPath(paths: RootPaths, digest: Digest): string {
  return join(paths.blobs, digestAlgorithm(digest), digestHex(digest));
}

export function imageRecordPath(paths: RootPaths, imageId: Digest): string {
  return join(paths.images, `${digestHex(imageId)}.json`);
}

export function layerPath(paths: RootPaths, diffId: Digest): string {
  return join(paths.layers, digestHex(diffId));
}

export function containerPath(paths: RootPaths, id: string): string {
  return join(paths.containers, id);
}

export function containerRunPath(paths: RootPaths, id: string): string {
  return join(paths.run, id.slice(0, 12));
}
