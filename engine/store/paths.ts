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
//   sessions/<id>/                the server's per-session roots (see rootPaths' sharedContent)

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
  /**
   * Set for a server session's root: the root whose `blobs/`, `layers/` and `tmp/` this one
   * shares. Content there may be used by other sessions, so removal only drops records and a
   * server-wide garbage collection (engine/gc.ts) deletes what no session references.
   */
  readonly sharedContent?: string;
}

/**
 * The layout of `root`. With `sharedContent`, images, names, containers, runtime state and locks
 * live under `root` (one session's view) while blobs, unpacked layers and scratch space are those
 * of `sharedContent`: pulled content is shared, containers are separate by construction.
 */
export function rootPaths(root: string, options: { sharedContent?: string } = {}): RootPaths {
  const content = options.sharedContent ?? root;
  return {
    root,
    blobs: join(content, 'blobs'),
    images: join(root, 'images'),
    repositories: join(root, 'repositories.json'),
    layers: join(content, 'layers'),
    containers: join(root, 'containers'),
    run: join(root, 'run'),
    // Same filesystem as blobs/ and layers/, so renames into them stay atomic.
    tmp: join(content, 'tmp'),
    locks: join(root, 'locks'),
    ...(options.sharedContent !== undefined ? { sharedContent: options.sharedContent } : {}),
  };
}

/** Where the server keeps session roots under a server root. */
export function sessionsDir(root: string): string {
  return join(root, 'sessions');
}

export function sessionRoot(root: string, sessionId: string): string {
  return join(sessionsDir(root), sessionId);
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
