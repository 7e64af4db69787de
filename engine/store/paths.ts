// The layout of the state root. Every module asks here for its paths so the layout is written once.
//
//   blobs/sha256/<hex>            content-addressed blobs (manifests, configs, compressed layers)
//   images/<config-hex>.json      one record per image (id = config digest)
//   repositories.json             name:tag → image id, name@digest → image id
//   layers/<diff-id-hex>/         an unpacked layer: diff/ (the overlay lowerdir) and layer.json
//   containers/<id>/              a container: container.json, bundle/, rw/ (tmpfs: upper, work), merged/, log
//   volumes/<name>/               a named volume: volume.json, _data/ (a size-capped tmpfs in a server session)
//   tmp/                          scratch on the same filesystem, so renames into place are atomic
//   locks/                        lock files
//   sessions/<id>/                the server's per-session roots (see rootPaths' sharedContent)
//
// Off the root, on tmpfs (see runRootOf): /run/layerlab/<hash of the root>/
//   <short-id>/                   a shim's sockets, pid and exit files (x<hex>/ per exec)
//   crun/, runc/                  the runtime's own state
//   runtime.json                  the cached runtime verdict

import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Digest } from '../oci/digest.ts';
import { digestAlgorithm, digestHex } from '../oci/digest.ts';

export interface RootPaths {
  readonly root: string;
  readonly blobs: string;
  readonly images: string;
  readonly repositories: string;
  readonly layers: string;
  readonly containers: string;
  /** Named volumes: `<name>/volume.json` and `<name>/_data/` (engine/volume/volumes.ts). */
  readonly volumes: string;
  /**
   * The shims' run dirs (`<short-id>/`: sockets, pid and exit files) and the runtime's state
   * (`crun/`, `runc/`): on tmpfs under a short path of this root's own, see `runRootOf`.
   */
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
    volumes: join(root, 'volumes'),
    run: runRootOf(root),
    // Same filesystem as blobs/ and layers/, so renames into them stay atomic.
    tmp: join(content, 'tmp'),
    locks: join(root, 'locks'),
    ...(options.sharedContent !== undefined ? { sharedContent: options.sharedContent } : {}),
  };
}

/** Where every root's run dirs live when the host has a writable /run (a tmpfs on any modern Linux). */
export const RUN_BASE = '/run/layerlab';

let runBaseUsable: boolean | undefined;

/**
 * The run dir root of the state root `root`: `/run/layerlab/<16 hex of its canonical path's
 * sha256>`, or `<root>/run` when the host has no writable /run. Why not under the root: a unix
 * socket path is limited to 108 bytes, and a session's `<root>/sessions/<32 hex>/run/<12>/x<8>/
 * attach.sock` under a long state root passes that; and /run is a tmpfs, so the few small files a
 * start and an exit write cost no disk write. Each root (each session root too) hashes to a dir of its
 * own, so recovery and `system check` of one root never see another's run dirs. The path is
 * canonical (absolute, symlinks resolved) so every spelling of a root finds the same run dirs.
 */
export function runRootOf(root: string): string {
  runBaseUsable ??= existsSync(RUN_BASE) || writable('/run');
  if (!runBaseUsable) return join(root, 'run');
  const hash = createHash('sha256').update(canonicalPath(root)).digest('hex');
  return join(RUN_BASE, hash.slice(0, 16));
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** `path` absolute with symlinks resolved, as far as it exists (a root may not be made yet). */
function canonicalPath(path: string): string {
  const absolute = resolve(path);
  try {
    return realpathSync.native(absolute);
  } catch {
    const parent = dirname(absolute);
    return parent === absolute ? absolute : join(canonicalPath(parent), basename(absolute));
  }
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
