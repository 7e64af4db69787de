// The container record: what `containers/<id>/container.json` holds, how it is read, written
// (atomically) and found by id, name or id prefix.

import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import type { EngineContext } from '../context.ts';
import { ConflictError, InvalidArgumentError, NotFoundError, StoreError } from '../errors.ts';
import { digestSchema } from '../oci/types.ts';
import { tempName } from '../store/atomic.ts';
import { containerPath } from '../store/paths.ts';
import { mountSpecSchema } from '../volume/mount-spec.ts';

/** A container id: 64 lowercase hex digits, also its directory's name. */
const ID_PATTERN = /^[a-f0-9]{64}$/;

/** Docker's zero time: never started, never finished. */
export const ZERO_TIMESTAMP = '0001-01-01T00:00:00Z';

export const containerStatusSchema = z.enum(['created', 'running', 'exited']);
export type ContainerStatus = z.infer<typeof containerStatusSchema>;

export const containerStateSchema = z.object({
  status: containerStatusSchema,
  /** Host pid of the container's init process while running, else 0. */
  pid: z.number().int().default(0),
  exitCode: z.number().int().default(0),
  /** ISO timestamps; Docker's zero time when never started / finished. */
  startedAt: z.string().default(ZERO_TIMESTAMP),
  finishedAt: z.string().default(ZERO_TIMESTAMP),
  /** Why the engine set the exit code itself (the shim died without reporting one). */
  error: z.string().default(''),
  /** How many times `restart` has run this container. */
  restartCount: z.number().int().default(0),
});
export type ContainerState = z.infer<typeof containerStateSchema>;

/** The runtime config after the image's config is merged in, as `docker inspect` shows `Config`. */
export const containerConfigRecordSchema = z.object({
  hostname: z.string(),
  user: z.string().default(''),
  env: z.array(z.string()).default([]),
  cmd: z.array(z.string()).nullable().default(null),
  entrypoint: z.array(z.string()).nullable().default(null),
  workingDir: z.string().default(''),
  labels: z.record(z.string(), z.string()).default({}),
  tty: z.boolean().default(false),
  openStdin: z.boolean().default(false),
  stopSignal: z.string().optional(),
  /** The image's `VOLUME` paths, each an anonymous directory while the container lives (image-volumes.ts). */
  volumes: z.array(z.string()).default([]),
  /** `-v`/`--mount`: named volumes and host paths (engine/volume/mount-spec.ts), mounted at each start. */
  mounts: z.array(mountSpecSchema).default([]),
  /** Stop timeout in seconds when none is given to `stop` (Docker's default 10). */
  stopTimeout: z.number().int().optional(),
  /** `--memory` and `--cpus`, below the engine's limits; absent: the engine's limits apply. */
  memoryBytes: z.number().int().positive().optional(),
  cpus: z.number().positive().optional(),
  /** `--init` (or `--init=false`): PID 1 is docker-init with the command as its child (docker-init.ts). */
  init: z.boolean().optional(),
});
export type ContainerConfigRecord = z.infer<typeof containerConfigRecordSchema>;

export const containerRecordSchema = z.object({
  id: z.string().regex(ID_PATTERN),
  /** Without Docker's leading slash. */
  name: z.string(),
  created: z.string(),
  /** The image as the user typed it (`busybox`), and the id it resolved to. */
  image: z.string(),
  imageId: digestSchema,
  /** The argv the container runs: entrypoint + cmd, split as Docker's Path and Args. */
  path: z.string(),
  args: z.array(z.string()),
  config: containerConfigRecordSchema,
  state: containerStateSchema,
  /** Overlay lower dirs, top layer first (the unpacked image layers). */
  lowerDirs: z.array(z.string()),
  /** Remove when it exits (`run --rm`). */
  autoRemove: z.boolean().default(false),
  /** A build's working container: shown only by `ps -a --external`. */
  external: z.boolean().default(false),
  /** A working container that `ps` lists like any other (the classic builder's, as in Docker). */
  listed: z.boolean().optional(),
});
export type ContainerRecord = z.infer<typeof containerRecordSchema>;

/** Label the server sets so it can scope containers to a learner's session. */
export const OWNER_LABEL = 'dev.layerlab.owner';

export function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

export function recordPath(ctx: EngineContext, id: string): string {
  return join(containerPath(ctx.paths, id), 'container.json');
}

/**
 * Replaces the record atomically (a temp file renamed over it) but without fsync: a record is runtime
 * state, and reconcile() re-derives it after a crash. Synchronous, as a record is a couple of KB and
 * `run` writes it three times: two syscalls beat five trips through the thread pool. The container's
 * directory must exist: a record is never written into a container that is being removed.
 */
export async function writeRecord(ctx: EngineContext, record: ContainerRecord): Promise<void> {
  const path = recordPath(ctx, record.id);
  const tmp = join(dirname(path), tempName(basename(path)));
  try {
    writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`, { flag: 'wx', mode: 0o644 });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

function readJsonIfExists(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The stored record, or undefined when the directory has none (being created or removed). */
export async function readRecord(ctx: EngineContext, id: string): Promise<ContainerRecord | undefined> {
  const raw = readJsonIfExists(recordPath(ctx, id));
  if (raw === undefined) return undefined;
  const parsed = containerRecordSchema.safeParse(raw);
  if (!parsed.success) {
    throw new StoreError(
      `container ${id}: corrupt container.json: ${parsed.error.issues[0]?.message ?? ''}`,
      {
        input: id,
      },
    );
  }
  return parsed.data;
}

/** Every stored record, oldest first (Docker's `ps` sorts newest first; the caller reverses). */
export async function readAllRecords(ctx: EngineContext): Promise<ContainerRecord[]> {
  let ids: string[];
  try {
    ids = await readdir(ctx.paths.containers);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const records: ContainerRecord[] = [];
  for (const id of ids) {
    if (!ID_PATTERN.test(id)) continue;
    const record = await readRecord(ctx, id);
    if (record) records.push(record);
  }
  return records.sort((a, b) => a.created.localeCompare(b.created));
}

/**
 * Finds a container as Docker does: an exact id, then an exact name (`x` or `/x`), then a unique id
 * prefix. An ambiguous prefix is an error, as is no match: `No such container: x`.
 */
export async function findRecord(ctx: EngineContext, idOrName: string): Promise<ContainerRecord> {
  if (idOrName === '') throw new InvalidArgumentError('No such container: ', idOrName);
  // A full id names its directory: one record read, not all of them (the engine's own calls).
  if (ID_PATTERN.test(idOrName)) {
    const record = await readRecord(ctx, idOrName);
    if (record) return record;
  }
  const records = await readAllRecords(ctx);
  const byId = records.find((r) => r.id === idOrName);
  if (byId) return byId;
  const name = idOrName.startsWith('/') ? idOrName.slice(1) : idOrName;
  const byName = records.find((r) => r.name === name);
  if (byName) return byName;
  if (/^[a-f0-9]+$/.test(idOrName)) {
    const matches = records.filter((r) => r.id.startsWith(idOrName));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) {
      throw new InvalidArgumentError(`multiple IDs found with provided prefix: ${idOrName}`, idOrName);
    }
  }
  throw new NotFoundError(`No such container: ${idOrName}`, idOrName);
}

/** Throws Docker's conflict error when `name` is taken among `records` (read under the `containers` lock). */
export function assertNameFree(records: readonly ContainerRecord[], name: string): void {
  const taken = records.find((r) => r.name === name);
  if (taken) {
    throw new ConflictError(
      `Conflict. The container name "/${name}" is already in use by container "${taken.id}". ` +
        'You have to remove (or rename) that container to be able to reuse that name.',
      name,
    );
  }
}

/** A random name not used by any of `records`. */
export function uniqueRandomName(records: readonly ContainerRecord[], random: () => string): string {
  const taken = new Set(records.map((r) => r.name));
  for (let i = 0; i < 100; i++) {
    const name = random();
    if (!taken.has(name)) return name;
  }
  // Docker appends a digit once the plain names run out.
  for (let i = 0; ; i++) {
    const name = `${random()}${i}`;
    if (!taken.has(name)) return name;
  }
}
