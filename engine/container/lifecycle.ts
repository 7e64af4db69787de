// The container lifecycle, Docker's verbs over the record, the overlay and the shim: create, start,
// run, attach, exec, stop, kill, wait, restart, remove.

import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import type { EngineContext } from '../context.ts';
import { ConflictError, InvalidArgumentError, RuntimeError } from '../errors.ts';
import { isFrozen, removeContainerCgroups, setFrozen } from '../host/cgroups.ts';
import { isMountPoint } from '../host/mounts.ts';
import { type Image, imageLayers } from '../oci/types.ts';
import { readHostRlimits } from '../runtime/detect.ts';
import { mountRootfs, remountRootfs, rootfsPaths, unmountRootfs } from '../runtime/overlay.ts';
import {
  attachShim,
  type ExecShim,
  execShim,
  readExitStatus,
  runtimeDelete,
  runtimeKill,
  type ShimConnection,
  startShim,
  waitShimGone,
} from '../runtime/shim.ts';
import { buildProcess, buildSpec, type ProcessInput } from '../runtime/spec.ts';
import { tempName } from '../store/atomic.ts';
import { loadImage } from '../store/images.ts';
import { ensureLayer } from '../store/layers.ts';
import { withLock } from '../store/lock.ts';
import type { MountSpec } from '../volume/mount-spec.ts';
import {
  ensureInitBuilt,
  IN_CONTAINER_INIT_PATH,
  initArgs,
  makeInitMountPoint,
  resolveInLayers,
} from './docker-init.ts';
import { writeEtcFiles } from './etc-files.ts';
import { imageVolumes, prepareVolumes } from './image-volumes.ts';
import { containerLimitMessage } from './limit-message.ts';
import { randomName, validateName } from './names.ts';
import { mergeEnv, mergeProcess, type ProcessOverrides, processArgs, runtimeEnv } from './process.ts';
import {
  assertNameFree,
  type ContainerRecord,
  findRecord,
  newContainerId,
  OWNER_LABEL,
  readAllRecords,
  readRecord,
  uniqueRandomName,
  writeRecord,
  ZERO_TIMESTAMP,
} from './record.ts';
import { mkdirInRootfs, readRootfsFile } from './rootfs-path.ts';
import { bundleDir, containerDir, containerLock, logPath, reconcile, runDir, waitForExit } from './state.ts';
import { type ResolvedUser, resolveUser } from './user.ts';
import { mountBinds, prepareMounts } from './volume-mounts.ts';

export interface CreateOptions extends ProcessOverrides {
  /** The image as the user typed it: `busybox`, `busybox:1.36`, an id or id prefix. */
  image: string;
  name?: string;
  tty?: boolean;
  /** `-i`: keep stdin open. */
  openStdin?: boolean;
  labels?: Record<string, string>;
  /** Scopes the container to a server session (stored as the `dev.layerlab.owner` label). */
  owner?: string;
  /** `--rm`. */
  autoRemove?: boolean;
  /** A build's working container: hidden from `ps -a` unless `--external`. */
  external?: boolean;
  /** A working container `ps` lists all the same: the classic builder's, as Docker's are. */
  listed?: boolean;
  hostname?: string;
  /** `-v`/`--mount`: named volumes, anonymous ones, host paths (where the engine allows them). */
  mounts?: MountSpec[];
  /** `--memory`/`--cpus`: lower than the engine's limits (the CLI refuses higher ones). */
  memoryBytes?: number;
  cpus?: number;
  /** `--init`: docker-init as PID 1, the command its child; `false` as `--init=false` records it. */
  init?: boolean;
}

const NAMES_LOCK = 'containers';

/** The container, resolved by id, name or id prefix, with its state reconciled. */
export async function resolveContainer(ctx: EngineContext, idOrName: string): Promise<ContainerRecord> {
  return reconcile(ctx, await findRecord(ctx, idOrName));
}

/** The image's unpacked layers as overlay lowers, top first. */
async function lowerDirsOf(ctx: EngineContext, image: Image): Promise<string[]> {
  const dirs: string[] = [];
  for (const layer of imageLayers(image)) dirs.push(await ensureLayer(ctx, layer));
  return dirs.reverse();
}

/**
 * Docker's "init layer": a per-container lower between the image and the writable layer holding the
 * mount points the runtime needs (/proc, /sys, /dev). Without it the runtime would create them in
 * the upper dir, and every `diff` and `commit` would show `A /proc`. `containers/<id>/init` (the
 * path the record lists) is a symlink to `rw/init` on the container's tmpfs, where `mountRootfs`
 * makes the three dirs: no directory is made on (or removed from) the disk for it.
 */
function initLayerDir(ctx: EngineContext, id: string): string {
  return join(containerDir(ctx, id), 'init');
}

function makeInitLayer(ctx: EngineContext, id: string): void {
  const dir = containerDir(ctx, id);
  symlinkSync(relative(dir, rootfsPaths(dir).init), initLayerDir(ctx, id));
}

function rootOwner(ctx: EngineContext): number {
  return ctx.config.usernsBase;
}

/**
 * With `--init`, the mount point of /sbin/docker-init goes in the init layer, resolved through the
 * image's layers (the lowers below the init layer), so that no diff or commit lists it.
 */
function initMountPoint(
  ctx: EngineContext,
  record: ContainerRecord,
): { prepareInit?: (dir: string) => void } {
  if (record.config.init !== true) return {};
  const layers = record.lowerDirs.slice(1);
  return {
    prepareInit: (dir) => {
      const point = resolveInLayers(layers, IN_CONTAINER_INIT_PATH);
      if (point) makeInitMountPoint(dir, layers, point, rootOwner(ctx));
    },
  };
}

/**
 * `docker create`: resolves the image, unpacks its layers, allocates the container dir and mounts
 * its filesystem (a tmpfs for the changes under an overlay), so `diff` works before the first start.
 */
export async function createContainer(ctx: EngineContext, opts: CreateOptions): Promise<ContainerRecord> {
  const image = await loadImage(ctx, opts.image);
  const merged = mergeProcess(image.config.config, opts);
  const argv = processArgs(merged);
  const id = newContainerId();
  const lowerDirs = [initLayerDir(ctx, id), ...(await lowerDirsOf(ctx, image))];
  const labels = { ...(image.config.config?.Labels ?? {}), ...(opts.labels ?? {}) };
  if (opts.owner !== undefined) labels[OWNER_LABEL] = opts.owner;
  // A build's working container writes into the image's volume paths like any other: what the
  // builder keeps of such writes is its own decision, not the anonymous volumes'.
  const mounts = opts.external
    ? { mounts: [], anonymous: [] }
    : await prepareMounts(ctx, opts.mounts ?? [], imageVolumes(image.config.config?.Volumes));

  const record = await withLock(ctx, NAMES_LOCK, async () => {
    const existing = await readAllRecords(ctx);
    const max = ctx.config.limits.maxContainers;
    if (max !== undefined && existing.length >= max) {
      throw new ConflictError(containerLimitMessage(max, existing), opts.image);
    }
    let name: string;
    if (opts.name !== undefined) {
      name = validateName(opts.name);
      assertNameFree(existing, name);
    } else {
      name = uniqueRandomName(existing, randomName);
    }
    const record: ContainerRecord = {
      id,
      name,
      created: new Date().toISOString(),
      image: opts.image,
      imageId: image.id,
      path: argv[0]!,
      args: argv.slice(1),
      config: {
        hostname: opts.hostname ?? id.slice(0, 12),
        user: merged.user,
        env: merged.env,
        cmd: merged.cmd,
        entrypoint: merged.entrypoint,
        workingDir: merged.workingDir,
        labels,
        tty: opts.tty ?? false,
        openStdin: opts.openStdin ?? false,
        ...(image.config.config?.StopSignal ? { stopSignal: image.config.config.StopSignal } : {}),
        volumes: mounts.anonymous,
        mounts: mounts.mounts,
        ...(opts.memoryBytes !== undefined ? { memoryBytes: opts.memoryBytes } : {}),
        ...(opts.cpus !== undefined ? { cpus: opts.cpus } : {}),
        ...(opts.init !== undefined ? { init: opts.init } : {}),
      },
      state: {
        status: 'created',
        pid: 0,
        exitCode: 0,
        startedAt: ZERO_TIMESTAMP,
        finishedAt: ZERO_TIMESTAMP,
        error: '',
        restartCount: 0,
      },
      lowerDirs,
      autoRemove: opts.autoRemove ?? false,
      external: opts.external ?? false,
      ...(opts.listed ? { listed: true } : {}),
    };
    // The record goes in last: a directory without one (a create that crashed) is invisible to ps.
    const dir = containerDir(ctx, id);
    mkdirSync(dir, { recursive: true, mode: 0o711 });
    makeInitLayer(ctx, id);
    await writeRecord(ctx, record);
    return record;
  });
  try {
    await mountRootfs({
      lowerDirs,
      containerDir: containerDir(ctx, id),
      sizeBytes: ctx.config.limits.containerDiskBytes,
      rootUid: rootOwner(ctx),
      etcFiles: !record.external,
      ...initMountPoint(ctx, record),
    });
  } catch (err) {
    await (await destroy(ctx, id)).released;
    throw err;
  }
  ctx.events({ type: 'container.created', id, name: record.name, imageId: image.id });
  return record;
}

export interface StartOptions {
  /** Connect before the process starts (no output missed): the result carries the connection. */
  attach?: boolean;
  /** Count this start in `RestartCount` (`restart` sets it). */
  restart?: boolean;
  rows?: number;
  cols?: number;
}

export interface Started {
  record: ContainerRecord;
  connection?: ShimConnection;
}

/** The user, env and cwd of a process in the container, resolved against its mounted rootfs. */
function processInput(
  record: ContainerRecord,
  merged: string,
  over: {
    args: string[];
    env?: string[];
    user?: string;
    workingDir?: string;
    tty: boolean;
    rows?: number;
    cols?: number;
  },
): ProcessInput {
  const userSpec = over.user ?? record.config.user;
  const user: ResolvedUser = resolveUser(
    userSpec,
    readRootfsFile(merged, '/etc/passwd'),
    readRootfsFile(merged, '/etc/group'),
  );
  const env = runtimeEnv(mergeEnv(record.config.env, over.env ?? []), {
    hostname: record.config.hostname,
    home: user.home,
    tty: over.tty,
  });
  const input: ProcessInput = {
    args: over.args,
    env,
    cwd: over.workingDir || record.config.workingDir || '/',
    uid: user.uid,
    gid: user.gid,
    // Docker lists the primary group first, then the /etc/group memberships (moby daemon/oci_linux.go,
    // getUser): busybox's `id` prints `groups=0(root),…` from this list.
    additionalGids: [user.gid, ...user.additionalGids],
    terminal: over.tty,
    hostRlimits: readHostRlimits(),
  };
  if (over.rows !== undefined) input.rows = over.rows;
  if (over.cols !== undefined) input.cols = over.cols;
  return input;
}

/** `docker start`: mounts the overlay again if needed, writes the OCI bundle and starts the shim. */
export async function startContainer(
  ctx: EngineContext,
  idOrName: string,
  opts: StartOptions = {},
): Promise<Started> {
  const found = await resolveContainer(ctx, idOrName);
  return withLock(ctx, containerLock(found.id), async () => {
    const record = await reconcile(ctx, (await readRecord(ctx, found.id)) ?? found);
    if (record.state.status === 'running') {
      // Docker: starting a running container is a no-op.
      const connection = opts.attach ? await attachShim(runDir(ctx, record.id)) : undefined;
      return { record, ...(connection ? { connection } : {}) };
    }
    const dir = containerDir(ctx, record.id);
    const mountOptions = {
      lowerDirs: record.lowerDirs,
      containerDir: dir,
      sizeBytes: ctx.config.limits.containerDiskBytes,
      rootUid: rootOwner(ctx),
      etcFiles: !record.external,
      ...initMountPoint(ctx, record),
    };
    // The tmpfs with the changes is gone only after a reboot; then the container starts afresh.
    const paths =
      record.state.status === 'created' || !isMountPoint(rootfsPaths(dir).rw)
        ? await mountRootfs(mountOptions)
        : await remountRootfs(mountOptions);
    if (record.state.status === 'exited') {
      // The last run's shim may still be having the runtime delete the container: the run dir and
      // the runtime's name for it are free only once it is gone.
      await waitShimGone(runDir(ctx, record.id));
      await runtimeDelete(ctx, record.id);
    }

    const argv = [record.path, ...record.args];
    const input = processInput(record, paths.merged, {
      args: record.config.init === true ? initArgs(argv) : argv,
      tty: record.config.tty,
      ...(opts.rows !== undefined ? { rows: opts.rows } : {}),
      ...(opts.cols !== undefined ? { cols: opts.cols } : {}),
    });
    if (input.cwd !== '/') {
      mkdirInRootfs(paths.merged, input.cwd, { uid: rootOwner(ctx), gid: rootOwner(ctx) });
    }
    // A build's working container has none (see mountRootfs): its RUN layers stay as they were.
    const etcFiles = record.external
      ? undefined
      : writeEtcFiles(paths.etc, record.config.hostname, rootOwner(ctx));
    const volumes = [
      ...(await prepareVolumes(paths.volumes, paths.merged, record.config.volumes, rootOwner(ctx))),
      ...(await mountBinds(ctx, record.id, record.config.mounts, paths.merged)),
      // Read-only, as Docker mounts tini: the container cannot change the host's binary.
      ...(record.config.init === true
        ? [{ source: ensureInitBuilt(), destination: IN_CONTAINER_INIT_PATH, readonly: true }]
        : []),
    ].sort((a, b) => a.destination.split('/').length - b.destination.split('/').length); // parents first
    const spec = buildSpec({
      id: record.id,
      rootfs: paths.merged,
      process: input,
      hostname: record.config.hostname,
      ...(etcFiles ? { etcFiles } : {}),
      binds: volumes,
      userns: { base: ctx.config.usernsBase, size: ctx.config.usernsSize },
      limits: {
        ...ctx.config.limits,
        // Never above the engine's own limits, whatever a record says.
        memoryBytes: Math.min(
          ctx.config.limits.memoryBytes,
          record.config.memoryBytes ?? Number.POSITIVE_INFINITY,
        ),
        cpus: Math.min(ctx.config.limits.cpus, record.config.cpus ?? Number.POSITIVE_INFINITY),
      },
    });
    const bundle = bundleDir(ctx, record.id);
    mkdirSync(bundle, { recursive: true });
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec, null, 2));

    const started = await startShim(ctx, {
      id: record.id,
      bundleDir: bundle,
      runDir: runDir(ctx, record.id),
      tty: record.config.tty,
      stdin: record.config.openStdin,
      logPath: logPath(ctx, record.id),
      ...(opts.attach ? { attach: true } : {}),
      ...(opts.rows !== undefined ? { rows: opts.rows } : {}),
      ...(opts.cols !== undefined ? { cols: opts.cols } : {}),
    });
    const next: ContainerRecord = {
      ...record,
      state: {
        ...record.state,
        status: 'running',
        pid: started.containerPid,
        exitCode: 0,
        error: '',
        startedAt: new Date().toISOString(),
        finishedAt: record.state.finishedAt,
        restartCount: record.state.restartCount + (opts.restart ? 1 : 0),
      },
    };
    await writeRecord(ctx, next);
    ctx.events({ type: 'container.started', id: record.id });
    return { record: next, ...(started.connection ? { connection: started.connection } : {}) };
  });
}

export interface RunOptions extends CreateOptions, StartOptions {
  /** `-d`: start and return; otherwise attach (the result carries the connection). */
  detach?: boolean;
  /**
   * With `--rm`: resolve `exited` once the container is out of every listing (its record and name
   * gone, its filesystem unmounted), while the shim is still having the runtime delete it; `released`
   * says when that is done too. For a caller that outlives the command and waits for `released`
   * anyway (the resident engine): its client learns the status without waiting for `crun delete`.
   */
  reportBeforeReleased?: boolean;
}

export interface RunResult {
  record: ContainerRecord;
  connection?: ShimConnection;
  /**
   * The exit code, once the container exits (after `--rm` has removed it). For a detached run the
   * wait does not keep the process alive: `run -d` returns at once.
   */
  exited: Promise<number>;
  /**
   * Once nothing of an `--rm` container is left (no shim, runtime state, cgroup or run dir); with
   * `reportBeforeReleased` this may be after `exited`, otherwise it is with it. Never rejects.
   */
  released: Promise<void>;
}

/** `docker run`: create, start (attached unless detached) and, with `--rm`, remove after the exit. */
export async function runContainer(ctx: EngineContext, opts: RunOptions): Promise<RunResult> {
  const created = await createContainer(ctx, opts);
  let started: Started;
  try {
    started = await startContainer(ctx, created.id, {
      attach: !opts.detach,
      ...(opts.rows !== undefined ? { rows: opts.rows } : {}),
      ...(opts.cols !== undefined ? { cols: opts.cols } : {}),
    });
  } catch (err) {
    if (opts.autoRemove) await removeContainer(ctx, created.id, { force: true });
    throw err;
  }
  let release: Promise<void> = Promise.resolve();
  const exited = (async () => {
    const code = (await waitForExit(ctx, created.id, { unref: opts.detach ?? false })) ?? 137;
    if (opts.autoRemove) {
      const removal = await removeContainer(ctx, created.id, {
        force: true,
        untilUnlisted: opts.reportBeforeReleased ?? false,
      });
      release = removal.released;
    }
    return code;
  })();
  // A detached run's exit may never be awaited: keep its rejection from being unhandled.
  exited.catch(() => {});
  return {
    record: started.record,
    ...(started.connection ? { connection: started.connection } : {}),
    exited,
    released: exited.then(
      () => release,
      () => {},
    ),
  };
}

/** `docker attach`. */
export async function attachContainer(ctx: EngineContext, idOrName: string): Promise<ShimConnection> {
  const record = await resolveContainer(ctx, idOrName);
  if (record.state.status !== 'running') {
    throw new ConflictError('You cannot attach to a stopped container, start it first', idOrName);
  }
  return attachShim(runDir(ctx, record.id));
}

export interface ExecOptions {
  cmd: string[];
  tty?: boolean;
  /** `-i`. */
  stdin?: boolean;
  env?: string[];
  user?: string;
  workingDir?: string;
  rows?: number;
  cols?: number;
}

/** `docker exec`: a new process in a running container, with the container's env and user. */
export async function execContainer(
  ctx: EngineContext,
  idOrName: string,
  opts: ExecOptions,
): Promise<ExecShim> {
  const record = await resolveContainer(ctx, idOrName);
  if (record.state.status !== 'running') {
    throw new ConflictError(`Container ${record.id} is not running`, idOrName);
  }
  if (opts.cmd.length === 0) throw new InvalidArgumentError('exec: no command specified');
  const tty = opts.tty ?? false;
  const input = processInput(record, rootfsPaths(containerDir(ctx, record.id)).merged, {
    args: opts.cmd,
    tty,
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.user !== undefined ? { user: opts.user } : {}),
    ...(opts.workingDir ? { workingDir: opts.workingDir } : {}),
    ...(opts.rows !== undefined ? { rows: opts.rows } : {}),
    ...(opts.cols !== undefined ? { cols: opts.cols } : {}),
  });
  return execShim(ctx, {
    id: record.id,
    runDir: runDir(ctx, record.id),
    process: buildProcess(input),
    tty,
    ...(opts.stdin ? { stdin: true } : {}),
    ...(opts.rows !== undefined ? { rows: opts.rows } : {}),
    ...(opts.cols !== undefined ? { cols: opts.cols } : {}),
  });
}

/** `docker wait`: the exit code once the container exits (started by this process or another). */
export async function waitContainer(
  ctx: EngineContext,
  idOrName: string,
  opts: { signal?: AbortSignal } = {},
): Promise<number> {
  const record = await resolveContainer(ctx, idOrName);
  if (record.state.status !== 'running') return record.state.exitCode;
  const signal = opts.signal ?? ctx.signal;
  const code = await waitForExit(ctx, record.id, signal ? { signal } : {});
  if (code === undefined) {
    // Removed while we waited (another process ran `rm -f`): Docker reports the kill.
    return 137;
  }
  return code;
}

/** `docker kill`: a signal (default SIGKILL) to the container's init. */
export async function killContainer(
  ctx: EngineContext,
  idOrName: string,
  signal: string | number = 'SIGKILL',
): Promise<void> {
  const record = await resolveContainer(ctx, idOrName);
  if (record.state.status !== 'running') {
    throw new ConflictError(
      `Cannot kill container: ${idOrName}: Container ${record.id} is not running`,
      idOrName,
    );
  }
  await runtimeKill(ctx, record.id, signal);
  await thawAfterSignal(record.id);
}

/** A paused container gets its signal once thawed, as Docker resumes it after signalling (`pause`). */
async function thawAfterSignal(id: string): Promise<void> {
  if (isFrozen(id)) await setFrozen(id, false);
}

/**
 * `docker stop`: the image's StopSignal (or SIGTERM), then SIGKILL after `timeout` seconds; returns
 * once the container has exited. Stopping a stopped container is a no-op, as in Docker.
 */
export async function stopContainer(
  ctx: EngineContext,
  idOrName: string,
  opts: { timeout?: number } = {},
): Promise<ContainerRecord> {
  const record = await resolveContainer(ctx, idOrName);
  if (record.state.status !== 'running') return record;
  const timeout = opts.timeout ?? record.config.stopTimeout ?? 10;
  try {
    await runtimeKill(ctx, record.id, record.config.stopSignal ?? 'SIGTERM');
    await thawAfterSignal(record.id);
  } catch (err) {
    // It exited between our look and the signal: fine.
    if ((await resolveContainer(ctx, record.id)).state.status === 'running') throw err;
  }
  let code = await waitForExit(ctx, record.id, { timeoutMs: Math.max(0, timeout) * 1000 });
  if (code === undefined) {
    await runtimeKill(ctx, record.id, 'SIGKILL').catch(() => {});
    code = await waitForExit(ctx, record.id, { timeoutMs: 30_000 });
    if (code === undefined)
      throw new RuntimeError(`stop ${record.name}: the container did not exit after SIGKILL`);
  }
  return resolveContainer(ctx, record.id);
}

/** `docker restart`: stop (with its timeout), then start. */
export async function restartContainer(
  ctx: EngineContext,
  idOrName: string,
  opts: { timeout?: number } = {},
): Promise<ContainerRecord> {
  const stopped = await stopContainer(ctx, idOrName, opts);
  const { record } = await startContainer(ctx, stopped.id, { restart: true });
  return record;
}

/**
 * `docker rm`: refuses a running container unless forced (then kills it first); unmounts the
 * overlay and tmpfs, deletes the runtime state, the run dir and the container dir. Resolves once all
 * of that is done, or with `untilUnlisted` once the container is out of every listing (`released`
 * then says when the rest is done).
 */
export async function removeContainer(
  ctx: EngineContext,
  idOrName: string,
  opts: {
    force?: boolean;
    /**
     * Return once the container is out of every listing with its filesystem gone, and leave the
     * rest (the shim's runtime delete, the cgroup and run dir) to `released`.
     */
    untilUnlisted?: boolean;
  } = {},
): Promise<{ released: Promise<void> }> {
  const record = await resolveContainer(ctx, idOrName);
  if (record.state.status === 'running') {
    if (!opts.force) {
      throw new ConflictError(
        `cannot remove container "/${record.name}": container is running: stop the container before removing or force remove`,
        idOrName,
      );
    }
    await runtimeKill(ctx, record.id, 'SIGKILL').catch(() => {});
    await thawAfterSignal(record.id);
    await waitForExit(ctx, record.id, { timeoutMs: 30_000 });
  }
  const { released } = await withLock(ctx, containerLock(record.id), () => destroy(ctx, record.id));
  if (!opts.untilUnlisted) await released;
  ctx.events({ type: 'container.removed', id: record.id });
  // Whoever leaves it for later may never wait for it: nothing there may go unhandled.
  return { released: released.catch(() => {}) };
}

/**
 * Tears down everything a container has on the host; safe on a half-created container. Once the
 * container's init has exited its filesystem is no one's: the overlay and tmpfs come off, and the
 * container's directory goes, while the shim is still having the runtime delete the container.
 * Resolves then, out of every listing, with `released` for the rest: once that settles no mount,
 * cgroup, runtime state or shim is left.
 */
async function destroy(ctx: EngineContext, id: string): Promise<{ released: Promise<void> }> {
  const run = runDir(ctx, id);
  // Not known to have exited (never started, or a kill that did not land): the runtime kills it first.
  if ((await readExitStatus(run).catch(() => undefined)) === undefined) {
    await runtimeDelete(ctx, id).catch(() => {});
  }
  const released = waitShimGone(run)
    .then(() => runtimeDelete(ctx, id).catch(() => {}))
    .then(() => {
      // The run dir is on tmpfs (see runRootOf in engine/store/paths.ts): its few files go in place.
      rmSync(run, { recursive: true, force: true });
      removeContainerCgroups(id);
    });
  try {
    const dir = containerDir(ctx, id);
    await unmountRootfs(dir, { keepDirs: true });
    discard(ctx, dir);
  } catch (err) {
    await released;
    throw err;
  }
  return { released };
}

/**
 * Removes a directory the way Docker's graph drivers do: one rename to a temp name in the state root
 * takes it out of every listing at once (the record with it, so `ps -a` never lists a container half
 * gone, and its name is free again), then its files are deleted in the background. Each
 * unlink on a busy disk can take a millisecond; the rename is one. A crash before the deletion ends
 * leaves a `.tmp-*` that start-up recovery removes. Never called with anything mounted below `dir`.
 */
function discard(ctx: EngineContext, dir: string): void {
  const trash = join(ctx.root, tempName(basename(dir)));
  try {
    renameSync(dir, trash);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    rmSync(dir, { recursive: true, force: true }); // not renameable (another filesystem): delete in place
    return;
  }
  rm(trash, { recursive: true, force: true }).catch(() => {});
}
