// Builds the lesson images from content/images/ and pushes them to the local registry under the names
// Docker Hub uses (`library/busybox`, `layerlab/webapp`), skipping what the registry already has.

import { execFileSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from './builder/build.ts';
import type { EngineContext } from './context.ts';
import { RuntimeError } from './errors.ts';
import { tag } from './image/tag.ts';
import { type Digest, isDigest } from './oci/digest.ts';
import { push } from './push.ts';
import { parseReference } from './reference/reference.ts';
import { RegistryClient } from './registry/client.ts';

export const CONTENT_IMAGES_DIR = fileURLToPath(new URL('../content/images/', import.meta.url));
export const HOST_BUSYBOX = '/bin/busybox';

export interface LessonImage {
  /** Directory under content/images/. */
  dir: string;
  /** Name as Docker Hub spells it: `library/busybox`, `layerlab/webapp`. */
  repository: string;
  /** Writes generated files into the temporary build context. */
  prepare?: (contextDir: string) => void;
}

/** In build order: every other image is built FROM busybox. */
export const LESSON_IMAGES: readonly LessonImage[] = [
  { dir: 'busybox', repository: 'library/busybox', prepare: prepareBusybox },
  { dir: 'webapp', repository: 'layerlab/webapp' },
  { dir: 'deleted-file', repository: 'layerlab/deleted-file' },
  {
    dir: 'big-layer',
    repository: 'layerlab/big-layer',
    prepare: (dir) => writeDeterministicData(join(dir, 'data.bin'), BIG_LAYER_BYTES),
  },
  { dir: 'motd', repository: 'layerlab/motd' },
];

export const BIG_LAYER_BYTES = 20 * 1024 * 1024;

/**
 * Every lesson image is built with this fixed clock (2026-11-01T00:00:00Z), so the same Dockerfiles give
 * the same digests on every machine while `images` still shows a believable CREATED instead of 1970.
 */
export const LESSON_IMAGES_EPOCH = 1_793_491_200;

/** Incompressible yet reproducible bytes: AES-256-CTR over zeros with a fixed key. */
export function writeDeterministicData(path: string, size: number): void {
  const cipher = createCipheriv('aes-256-ctr', Buffer.alloc(32, 7), Buffer.alloc(16, 0));
  writeFileSync(path, Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]));
}

const BUSYBOX_DIRS: [string, number][] = [
  ['dev', 0o755],
  ['home', 0o755],
  ['proc', 0o555],
  ['root', 0o700],
  ['sys', 0o555],
  ['tmp', 0o1777],
  ['usr', 0o755],
  ['usr/bin', 0o755],
  ['usr/sbin', 0o755],
  ['var', 0o755],
  ['var/spool', 0o755],
  ['var/spool/mail', 0o755],
  ['var/www', 0o755],
  ['bin', 0o755],
  ['sbin', 0o755],
];

/** Lays out busybox's root: the binary, a symlink per applet in /bin, the empty directories. */
function prepareBusybox(contextDir: string): void {
  const rootfs = join(contextDir, 'rootfs');
  for (const [dir, mode] of BUSYBOX_DIRS) {
    mkdirSync(join(rootfs, dir), { recursive: true });
    chmodSync(join(rootfs, dir), mode);
  }
  let applets: string[];
  try {
    applets = execFileSync(HOST_BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch (err) {
    throw new RuntimeError(
      `${HOST_BUSYBOX}: cannot run it (install busybox-static): ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  chmodSync(join(rootfs, 'etc/shadow'), 0o600);
  cpSync(HOST_BUSYBOX, join(rootfs, 'bin/busybox'));
  chmodSync(join(rootfs, 'bin/busybox'), 0o755);
  for (const applet of applets.sort()) {
    if (applet === 'busybox') continue;
    symlinkSync('busybox', join(rootfs, 'bin', applet));
  }
}

/** File modes as git checkouts and umasks leave them differ; the image must not. */
function normaliseModes(dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stats = lstatSync(path);
    if (stats.isSymbolicLink()) continue;
    if (stats.isDirectory()) {
      chmodSync(path, 0o755);
      normaliseModes(path);
    } else {
      chmodSync(path, stats.mode & 0o111 ? 0o755 : 0o644);
    }
  }
}

/** Copies content/images/<dir> to a temp context, normalised and with its generated files. */
function prepareContext(ctx: EngineContext, image: LessonImage): string {
  mkdirSync(ctx.paths.tmp, { recursive: true });
  const contextDir = mkdtempSync(join(ctx.paths.tmp, `seed-${image.dir}-`));
  cpSync(join(CONTENT_IMAGES_DIR, image.dir), contextDir, { recursive: true });
  normaliseModes(contextDir);
  image.prepare?.(contextDir);
  return contextDir;
}

export interface SeedProgress {
  repository: string;
  state: 'building' | 'built' | 'exists' | 'pushed';
  digest?: Digest;
}

export interface SeedOptions {
  /** The registry as `host:port`, or as a URL (`http://127.0.0.1:5000`). */
  registry?: string;
  registryUrl?: string;
  onProgress?: (p: SeedProgress) => void;
  /** Defaults to every lesson image. */
  images?: readonly LessonImage[];
}

/** The manifest digest and image id (config digest) the registry holds under `ref`, if any. */
async function remoteImage(
  client: RegistryClient,
  ref: string,
): Promise<{ manifestDigest: Digest; imageId: Digest } | undefined> {
  try {
    const manifest = await client.getManifest(parseReference(ref));
    const doc = JSON.parse(manifest.bytes.toString('utf8')) as { config?: { digest?: unknown } };
    const imageId = doc.config?.digest;
    return typeof imageId === 'string' && isDigest(imageId)
      ? { manifestDigest: manifest.digest, imageId }
      : undefined;
  } catch {
    return undefined; // not there yet (or unreadable, or an index): push it
  }
}

/**
 * Builds every lesson image in `ctx` (tagging `busybox`, `layerlab/webapp`, … locally) and pushes it
 * to the registry unless it already holds the same image (same id). Returns the references seeded.
 */
export async function seedRegistry(ctx: EngineContext, opts: SeedOptions): Promise<string[]> {
  const host = opts.registry ?? new URL(opts.registryUrl ?? '').host;
  const client = new RegistryClient(ctx);
  const results: string[] = [];
  for (const image of opts.images ?? LESSON_IMAGES) {
    opts.onProgress?.({ repository: image.repository, state: 'building' });
    const contextDir = prepareContext(ctx, image);
    let built: Awaited<ReturnType<typeof build>>;
    try {
      built = await build(ctx, {
        contextDir,
        tags: [`${image.repository}:latest`],
        sourceDateEpoch: LESSON_IMAGES_EPOCH,
        // The lesson images stand for images pulled from a registry, whose history (busybox's on
        // Docker Hub included) the classic builder wrote: `/bin/sh -c #(nop) COPY dir:… in /`.
        builder: 'classic',
      });
    } finally {
      rmSync(contextDir, { recursive: true, force: true });
    }
    opts.onProgress?.({ repository: image.repository, state: 'built', digest: built.manifestDigest });
    const remote = `${host}/${image.repository}:latest`;
    const current = await remoteImage(client, remote);
    // The built image keeps its layers as plain tars and push gzips them, so the manifests differ;
    // the config (the image id: diff_ids, history, settings) says whether the registry has this image.
    if (current?.imageId === built.id) {
      opts.onProgress?.({ repository: image.repository, state: 'exists', digest: current.manifestDigest });
      results.push(remote);
      continue;
    }
    await tag(ctx, built.id, remote);
    const pushed = await push(ctx, remote);
    opts.onProgress?.({ repository: image.repository, state: 'pushed', digest: pushed.digest });
    results.push(remote);
  }
  return results;
}
