// Named volumes, as Docker's `local` driver keeps them: `volumes/<name>/_data` in the state root (a
// session's own root in the server), with `volume.json` beside it. Where the engine caps volumes (the
// server sets `limits.volumeBytes` per session) `_data` is a tmpfs of that size, mounted while the
// volume exists, so a container cannot fill the host's disk through one; `limits.maxVolumes` caps
// how many. Data in a volume is never in a container's upper dir, so never in `diff`, `commit` or
// `build`: that is what a volume is for.

import { randomBytes } from 'node:crypto';
import { chownSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { readAllRecords } from '../container/record.ts';
import type { EngineContext } from '../context.ts';
import { ConflictError, NotFoundError } from '../errors.ts';
import { isMountPoint, mountSizedTmpfs, mountsUnder, unmountIfMounted } from '../host/mounts.ts';
import { ensureTraversable } from '../runtime/overlay.ts';
import { readJsonIfExists, tempName, writeFileAtomic } from '../store/atomic.ts';
import { withLock } from '../store/lock.ts';
import { isVolumeName, VOLUME_NAME, validateVolumeName } from './names.ts';

const LOCK = 'volumes';

export const volumeRecordSchema = z.object({
  name: z.string().regex(VOLUME_NAME),
  createdAt: z.string(),
  labels: z.record(z.string(), z.string()).default({}),
  /** Made without a name (`volume create` alone): 64 hex digits, as Docker names them. */
  anonymous: z.boolean().default(false),
});
export type VolumeRecord = z.infer<typeof volumeRecordSchema>;

/** The volume's directory; `name` is validated first, so it is one path component under `volumes/`. */
function volumeDir(ctx: EngineContext, name: string): string {
  return join(ctx.paths.volumes, validateVolumeName(name));
}

/** Where a volume's data lives on the host: what a container mounts. */
export function volumeDataDir(ctx: EngineContext, name: string): string {
  return join(volumeDir(ctx, name), '_data');
}

async function readVolume(ctx: EngineContext, name: string): Promise<VolumeRecord | undefined> {
  const raw = await readJsonIfExists(join(volumeDir(ctx, name), 'volume.json'));
  return raw === undefined ? undefined : volumeRecordSchema.parse(raw);
}

/** Every volume of the root, sorted by name. */
export async function listVolumes(ctx: EngineContext): Promise<VolumeRecord[]> {
  let names: string[];
  try {
    names = readdirSync(ctx.paths.volumes).filter((n) => VOLUME_NAME.test(n));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const records: VolumeRecord[] = [];
  for (const name of names.sort()) {
    const record = await readVolume(ctx, name);
    if (record !== undefined) records.push(record);
  }
  return records;
}

/** The volume named `name`, or Docker's "no such volume". */
export async function inspectVolume(ctx: EngineContext, name: string): Promise<VolumeRecord> {
  const record = isVolumeName(name) ? await readVolume(ctx, name) : undefined;
  if (record === undefined) throw new NotFoundError(`get ${name}: no such volume`, name);
  return record;
}

export interface CreateVolumeOptions {
  /** Without one, a 64-hex name (Docker's). */
  name?: string;
  labels?: Record<string, string>;
}

/**
 * `docker volume create`: makes the volume, or returns the existing one of that name (Docker's create
 * is idempotent, and `run -v data:/x` creates `data` on first use the same way).
 */
export async function createVolume(
  ctx: EngineContext,
  opts: CreateVolumeOptions = {},
): Promise<VolumeRecord> {
  const name = validateVolumeName(opts.name ?? randomBytes(32).toString('hex'));
  return withLock(ctx, LOCK, async () => {
    const existing = await readVolume(ctx, name);
    if (existing !== undefined) {
      ensureMounted(ctx, name);
      return existing;
    }
    const max = ctx.config.limits.maxVolumes;
    if (max !== undefined && (await listVolumes(ctx)).length >= max) {
      throw new ConflictError(
        `volume limit reached: this session may keep at most ${max} volumes; remove some with \`docker volume rm\` or \`docker volume prune -a\``,
        name,
      );
    }
    const record: VolumeRecord = {
      name,
      createdAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      labels: opts.labels ?? {},
      anonymous: opts.name === undefined,
    };
    // Made under a temp name and renamed: a crash leaves a dot-named temp dir that no listing
    // reads, never a half-made volume.
    const dir = volumeDir(ctx, name);
    mkdirSync(ctx.paths.volumes, { recursive: true, mode: 0o711 });
    const partial = join(ctx.paths.volumes, tempName(name));
    mkdirSync(join(partial, '_data'), { recursive: true, mode: 0o755 });
    chownSync(join(partial, '_data'), ctx.config.usernsBase, ctx.config.usernsBase);
    await writeFileAtomic(join(partial, 'volume.json'), `${JSON.stringify(record, null, 2)}\n`);
    renameSync(partial, dir);
    ensureMounted(ctx, name);
    return record;
  });
}

/**
 * Makes sure a capped volume's tmpfs is mounted (after a reboot it comes back empty: a session does
 * not outlive its server anyway). The runtime, as container root, must reach `_data` to mount it.
 */
function ensureMounted(ctx: EngineContext, name: string): void {
  const bytes = ctx.config.limits.volumeBytes;
  if (bytes !== undefined) mountSizedTmpfs(volumeDataDir(ctx, name), bytes, ctx.config.usernsBase);
}

/**
 * The host directory a container mounts for volume `name`, creating the volume if it does not exist
 * (as `docker run -v name:/path` does) and mounting its tmpfs if it has a cap.
 */
export async function volumeForMount(ctx: EngineContext, name: string): Promise<string> {
  await createVolume(ctx, { name });
  const data = volumeDataDir(ctx, name);
  await ensureTraversable(data);
  return data;
}

/** Ids of the containers (any state, as Docker counts them) that mount volume `name`. */
export async function volumeUsers(ctx: EngineContext, name: string): Promise<string[]> {
  return (await readAllRecords(ctx))
    .filter((r) => r.config.mounts.some((m) => m.type === 'volume' && m.source === name))
    .map((r) => r.id);
}

/** `docker volume rm`: refused while any container uses the volume; `force` ignores a missing one. */
export async function removeVolume(
  ctx: EngineContext,
  name: string,
  opts: { force?: boolean } = {},
): Promise<void> {
  await withLock(ctx, LOCK, async () => {
    const record = isVolumeName(name) ? await readVolume(ctx, name) : undefined;
    if (record === undefined) {
      if (opts.force) return;
      throw new NotFoundError(`get ${name}: no such volume`, name);
    }
    const users = await volumeUsers(ctx, name);
    if (users.length > 0) {
      throw new ConflictError(`remove ${name}: volume is in use - [${users.join(', ')}]`, name);
    }
    discardVolume(ctx, name);
  });
}

/** Unmounts the volume's tmpfs (if any), takes its dir out of the listing at once and deletes it. */
function discardVolume(ctx: EngineContext, name: string): void {
  const dir = volumeDir(ctx, name);
  unmountIfMounted(join(dir, '_data'));
  // Never delete through a mount: whatever is still mounted there stays, and so does the dir.
  if (mountsUnder(dir).length > 0) {
    throw new ConflictError(`remove ${name}: volume is still mounted`, name);
  }
  const trash = join(ctx.paths.volumes, tempName(name));
  renameSync(dir, trash);
  rmSync(trash, { recursive: true, force: true });
}

/**
 * `docker volume prune`: removes the volumes no container uses; only anonymous ones unless `all`
 * (Docker 23's default). Returns the names removed and the bytes their data took.
 */
export async function pruneVolumes(
  ctx: EngineContext,
  opts: { all?: boolean } = {},
): Promise<{ removed: string[]; bytes: number }> {
  return withLock(ctx, LOCK, async () => {
    const used = new Set(
      (await readAllRecords(ctx)).flatMap((r) =>
        r.config.mounts.flatMap((m) => (m.type === 'volume' ? [m.source] : [])),
      ),
    );
    const removed: string[] = [];
    let bytes = 0;
    for (const volume of await listVolumes(ctx)) {
      if (used.has(volume.name) || (!opts.all && !volume.anonymous)) continue;
      bytes += dataBytes(volumeDataDir(ctx, volume.name));
      discardVolume(ctx, volume.name);
      removed.push(volume.name);
    }
    return { removed, bytes };
  });
}

/**
 * Bytes of file data in an unused volume (no container runs with it, so nothing moves under the
 * walk): a tmpfs's used blocks, else the sizes of its regular files, never following a symlink.
 */
function dataBytes(dir: string): number {
  if (isMountPoint(dir)) {
    const fs = statfsSync(dir);
    return (fs.blocks - fs.bfree) * fs.bsize;
  }
  let total = 0;
  const walk = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const child = join(path, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) total += lstatSync(child).size;
    }
  };
  walk(dir);
  return total;
}
