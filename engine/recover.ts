// Start-up recovery of a state root. An engine process killed mid-operation (kill -9, a power cut)
// leaves half-done work: temp files of a pull or commit, a half-unpacked layer dir, a container dir
// without a record, a container a commit froze, a build's working container still running.
//
// Every engine process holds the root's liveness lock (`locks/engine.lock`, flock) shared for as long
// as it lives; the kernel drops it when the process dies, however it dies. Whoever opens a root and
// gets that lock exclusively therefore knows no other engine process is alive, so everything
// half-done under it is a leftover and can go; then it keeps the lock shared like everyone else.

import { execFile } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { removeContainer, resolveContainer } from './container/lifecycle.ts';
import { commitFreezeMarker } from './container/pause.ts';
import { type ContainerRecord, readRecord } from './container/record.ts';
import type { EngineContext } from './context.ts';
import { StoreError } from './errors.ts';
import { isFrozen, removeContainerCgroups } from './host/cgroups.ts';
import { mountsUnder } from './host/mounts.ts';
import { detectRuntime, runtimeCommand, runtimeStateDir } from './runtime/detect.ts';
import { unmountRootfs } from './runtime/overlay.ts';
import { removeRunDir, runningShimPid, runtimeDelete } from './runtime/shim.ts';
import { isTempName } from './store/atomic.ts';
import { LOCK_WAIT_MS } from './store/lock.ts';
import { containerPath, containerRunPath, rootPaths } from './store/paths.ts';
import { flock, LOCK } from './sys/libc.ts';

export interface RecoveryReport {
  /** False when another engine process is alive on the root: nothing that may be in flight was touched. */
  recovered: boolean;
  /** Temp files and dirs of interrupted writes and unpacks that were removed. */
  temps: string[];
  /** Containers removed: half-created ones, builds' working containers, exited `--rm` ones. */
  containers: string[];
  /** Containers thawed: a commit froze them and died before it could resume them. */
  resumed: string[];
  /** Starts that died half-way: their shim and runtime state were cleared, the container is `created` again. */
  unstarted: string[];
  /** Run dirs, shims and runtime states that no container owns any more. */
  orphans: string[];
  /** What could not be cleared, with why. */
  errors: string[];
}

const ID_RE = /^[a-f0-9]{64}$/;

// Content root → the open descriptor holding its liveness lock (shared) for this process's life.
const held = new Map<string, number>();

function emptyReport(recovered: boolean): RecoveryReport {
  return { recovered, temps: [], containers: [], resumed: [], unstarted: [], orphans: [], errors: [] };
}

/** The root whose blobs, layers and tmp this context uses: its own, or a server's for a session. */
function contentRoot(ctx: EngineContext): string {
  return ctx.paths.sharedContent ?? ctx.root;
}

function lockPath(root: string): string {
  return join(rootPaths(root).locks, 'engine.lock');
}

/** Whether `fd` still is the lock file at `path` (a test may delete a root and make it again). */
function stillHeld(fd: number, path: string): boolean {
  try {
    const a = fstatSync(fd);
    const b = statSync(path);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

/**
 * Opens `ctx`'s root for this process: takes the liveness lock and, when no other engine process is
 * alive on the root, first recovers what a killed one left (see `recoverRoot`). Call once before
 * working on a root (the CLI does for each command, the server at start); later calls are no-ops.
 */
export async function openRoot(ctx: EngineContext): Promise<RecoveryReport> {
  const root = contentRoot(ctx);
  const path = lockPath(root);
  const mine = held.get(root);
  if (mine !== undefined) {
    if (stillHeld(mine, path)) return emptyReport(false);
    closeSync(mine);
    held.delete(root);
  }
  mkdirSync(rootPaths(root).locks, { recursive: true });
  // Unpacked layers keep the setuid files of their images, owned by the namespace's root (a host
  // uid): only host root may reach them, or a local user could run one and become that uid.
  mkdirSync(rootPaths(root).layers, { recursive: true, mode: 0o700 });
  chmodSync(rootPaths(root).layers, 0o700);
  // Node opens with O_CLOEXEC: children (shims, tar, the runtime) never inherit the lock.
  const fd = openSync(path, 'a', 0o644);
  let report = emptyReport(false);
  try {
    if (flock(fd, LOCK.EX | LOCK.NB, path)) {
      try {
        report = await recoverRoot(ctx);
      } finally {
        // Not atomic (the kernel drops, then takes): another opener may win the exclusive lock in
        // between and recover too, which is harmless; we wait for it below.
        await takeShared(fd, path);
      }
    } else {
      // Another engine process is alive (or is recovering right now: wait for it to finish).
      await takeShared(fd, path);
    }
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  held.set(root, fd);
  return report;
}

async function takeShared(fd: number, path: string): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  let delay = 2;
  while (!flock(fd, LOCK.SH | LOCK.NB, path)) {
    if (Date.now() >= deadline) {
      throw new StoreError(`${path}: timed out waiting for another engine process to finish recovery`, {
        input: path,
      });
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
  }
}

/** Releases this process's hold on `ctx`'s root (a server closing; tests). */
export function closeRoot(ctx: EngineContext): void {
  const root = contentRoot(ctx);
  const fd = held.get(root);
  if (fd === undefined) return;
  held.delete(root);
  closeSync(fd);
}

/**
 * Clears what killed engine processes left under `ctx`'s root. Only safe while no other engine
 * process works on the root: `openRoot` calls it holding the liveness lock exclusively. Never throws
 * for a leftover it cannot clear; that goes into `errors` (and `system check` reports it).
 */
export async function recoverRoot(ctx: EngineContext): Promise<RecoveryReport> {
  const report = emptyReport(true);
  if (ctx.paths.sharedContent === undefined) await recoverContentTemps(ctx, report);
  await removeTempFiles([ctx.root, ctx.paths.images], report);
  const ids = await recoverContainers(ctx, report);
  await recoverRunDirs(ctx, ids, report);
  return report;
}

/** Everything in tmp/ and every layers/.tmp-* (unpacks and layer removals that never finished). */
async function recoverContentTemps(ctx: EngineContext, report: RecoveryReport): Promise<void> {
  const targets = [
    ...list(ctx.paths.tmp).map((n) => join(ctx.paths.tmp, n)),
    ...list(ctx.paths.layers)
      .filter(isTempName)
      .map((n) => join(ctx.paths.layers, n)),
  ];
  for (const path of targets) {
    try {
      // The killed unpacker's GNU tar may still be writing its last entries (it stops at EOF on its
      // stdin, which the kernel closed with the engine): retry until it has gone.
      await rm(path, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      report.temps.push(path);
    } catch (err) {
      report.errors.push(`remove ${path}: ${(err as Error).message}`);
    }
  }
}

/** `.tmp-*` files of atomic writes (records, repositories.json) in each of `dirs`. */
async function removeTempFiles(dirs: string[], report: RecoveryReport): Promise<void> {
  for (const dir of dirs) {
    for (const name of list(dir).filter(isTempName)) {
      const path = join(dir, name);
      await rm(path, { force: true, recursive: true });
      report.temps.push(path);
    }
  }
}

/** Settles each container; returns the ids of the containers that remain. */
async function recoverContainers(ctx: EngineContext, report: RecoveryReport): Promise<Set<string>> {
  const remaining = new Set<string>();
  for (const id of list(ctx.paths.containers).filter((n) => ID_RE.test(n))) {
    const dir = containerPath(ctx.paths, id);
    await removeTempFiles([dir], report);
    let record: ContainerRecord | undefined;
    try {
      record = await readRecord(ctx, id);
    } catch (err) {
      // A corrupt record is not a crash's doing (records are renamed into place): leave it to `system check`.
      report.errors.push((err as Error).message);
      remaining.add(id);
      continue;
    }
    try {
      if (record === undefined) {
        // A create killed before its record was written, or an rm killed after it was deleted.
        await destroyOrphan(ctx, id);
        report.containers.push(id);
        continue;
      }
      record = await resolveContainer(ctx, id);
      if (record.external || (record.autoRemove && record.state.status === 'exited')) {
        // A build's working container never outlives its build; `--rm` containers go when they exit.
        await removeContainer(ctx, id, { force: true });
        report.containers.push(id);
        continue;
      }
      remaining.add(id);
      // Only a commit's freeze: a container the user paused stays paused until `unpause`.
      const marker = commitFreezeMarker(ctx, id);
      if (record.state.status === 'running' && isFrozen(id) && existsSync(marker)) {
        await runtimeVerb(ctx, 'resume', id);
        rmSync(marker, { force: true });
        report.resumed.push(id);
      } else if (record.state.status === 'created' && (await startedHalfway(ctx, id))) {
        await clearStart(ctx, id);
        report.unstarted.push(id);
      }
    } catch (err) {
      remaining.add(id);
      report.errors.push(`container ${id.slice(0, 12)}: ${(err as Error).message}`);
    }
  }
  return remaining;
}

/**
 * Run dirs, shims and runtime states of containers that no longer exist. Only this root's own run
 * dir root is listed: /run/layerlab holds every root's (each under a hash of its path, see
 * runRootOf), and another root's shims are none of this recovery's business.
 */
async function recoverRunDirs(ctx: EngineContext, ids: Set<string>, report: RecoveryReport): Promise<void> {
  const shortIds = new Set([...ids].map((id) => id.slice(0, 12)));
  for (const name of list(ctx.paths.run)) {
    if (!/^[a-f0-9]{12}$/.test(name) || shortIds.has(name)) continue;
    const dir = join(ctx.paths.run, name);
    killShim(dir);
    await removeRunDir(dir);
    report.orphans.push(dir);
  }
  for (const runtime of ['crun', 'runc']) {
    for (const id of list(join(ctx.paths.run, runtime)).filter((n) => ID_RE.test(n))) {
      if (ids.has(id)) continue;
      try {
        await runtimeDelete(ctx, id);
        removeContainerCgroups(id);
        report.orphans.push(join(ctx.paths.run, runtime, id));
      } catch (err) {
        report.errors.push(`runtime state ${id.slice(0, 12)}: ${(err as Error).message}`);
      }
    }
  }
}

/** Tears down a container dir that has no record: runtime state, shim, mounts, run dir, cgroups. */
async function destroyOrphan(ctx: EngineContext, id: string): Promise<void> {
  const runDir = containerRunPath(ctx.paths, id);
  killShim(runDir);
  await runtimeDelete(ctx, id).catch(() => {});
  const dir = containerPath(ctx.paths, id);
  await unmountRootfs(dir);
  const mounted = mountsUnder(dir);
  // Never rm -rf through a mount: an overlay's lower dirs are shared layers.
  if (mounted.length > 0)
    throw new StoreError(`container ${id.slice(0, 12)}: still mounted: ${mounted.join(', ')}`);
  await removeRunDir(runDir);
  await rm(dir, { recursive: true, force: true });
  removeContainerCgroups(id);
}

/** A `created` container with a shim or runtime state: a start that died before recording itself. */
async function startedHalfway(ctx: EngineContext, id: string): Promise<boolean> {
  if (runningShimPid(containerRunPath(ctx.paths, id)) !== undefined) return true;
  if (existsSync(containerRunPath(ctx.paths, id))) return true;
  return existsSync(join(runtimeStateDir(ctx, await detectRuntime(ctx)), id));
}

/** Undoes a half-done start, so the container is `created` as its record says and `start` works. */
async function clearStart(ctx: EngineContext, id: string): Promise<void> {
  const runDir = containerRunPath(ctx.paths, id);
  killShim(runDir);
  await runtimeDelete(ctx, id);
  await removeRunDir(runDir);
  removeContainerCgroups(id);
}

function killShim(runDir: string): void {
  const pid = runningShimPid(runDir);
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}

async function runtimeVerb(ctx: EngineContext, verb: 'resume', id: string): Promise<void> {
  const [command, ...args] = runtimeCommand(ctx, await detectRuntime(ctx));
  await promisify(execFile)(command!, [...args, verb, id], { timeout: 30_000 });
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
