// The container's state on disk reconciled with reality: a container recorded as running whose shim
// has written its exit file (or died without one) is exited. Also waiting for that exit.

import { type FSWatcher, watch } from 'node:fs';
import { join } from 'node:path';
import type { EngineContext } from '../context.ts';
import { CancelledError } from '../errors.ts';
import { readExitStatus, runningShimPid, runtimeDelete } from '../runtime/shim.ts';
import { withLock } from '../store/lock.ts';
import { containerPath, containerRunPath } from '../store/paths.ts';
import { type ContainerRecord, readRecord, writeRecord } from './record.ts';

/** Exit code recorded when the shim vanished without one: what is left of the container is killed. */
export const LOST_EXIT_CODE = 137;

/** The lock that serialises changes to one container's record. */
export function containerLock(id: string): string {
  return `container-${id.slice(0, 12)}`;
}

export function runDir(ctx: EngineContext, id: string): string {
  return containerRunPath(ctx.paths, id);
}

export function containerDir(ctx: EngineContext, id: string): string {
  return containerPath(ctx.paths, id);
}

export function bundleDir(ctx: EngineContext, id: string): string {
  return join(containerDir(ctx, id), 'bundle');
}

export function logPath(ctx: EngineContext, id: string): string {
  return join(containerDir(ctx, id), 'log');
}

/**
 * Brings a running record up to date: the shim's exit file wins; a shim that is gone without one
 * means the container died with it (exit 255, with the reason in `State.Error`). Writes the change
 * back and emits `container.exited`. Returns the record as it now stands.
 */
export async function reconcile(ctx: EngineContext, record: ContainerRecord): Promise<ContainerRecord> {
  if (record.state.status !== 'running') return record;
  const dir = runDir(ctx, record.id);
  const status = await readExitStatus(dir);
  if (status === undefined && runningShimPid(dir) !== undefined) return record;
  // Read again: the shim may have written the file just before it left.
  const again = await readExitStatus(dir);
  // The shim died first: the container may still run, with nobody to wait for it. Kill what is left
  // so the exit code we record (137) is true.
  if (again === undefined) await runtimeDelete(ctx, record.id).catch(() => {});
  const next: ContainerRecord = {
    ...record,
    state: {
      ...record.state,
      status: 'exited',
      pid: 0,
      exitCode: again?.exitCode ?? LOST_EXIT_CODE,
      finishedAt: again?.finishedAt ?? new Date().toISOString(),
      error: again
        ? ''
        : 'the container monitor (layerlab-shim) died without an exit status; the container was killed',
    },
  };
  // Another reader may have reconciled, or the container been started again, meanwhile: check and
  // write under the container's lock so the exit is recorded (and announced) once.
  return withLock(ctx, containerLock(record.id), async () => {
    const stored = await readRecord(ctx, record.id);
    if (stored === undefined) return next;
    if (stored.state.status !== 'running' || stored.state.startedAt !== record.state.startedAt) return stored;
    await writeRecord(ctx, next);
    ctx.events({ type: 'container.exited', id: record.id, exitCode: next.state.exitCode });
    return next;
  });
}

/**
 * Resolves with the exit code once the container has exited, including a container started by
 * another process: the shim's exit file is polled (cheap: one stat per tick), and an inotify watch
 * on the run dir wakes the wait as soon as the shim renames the file into place, so a short-lived
 * container is seen gone within a millisecond rather than at the next tick. With `unref` neither
 * the polling nor the watch keeps the process alive (a detached `run` must not wait for it).
 */
export async function waitForExit(
  ctx: EngineContext,
  id: string,
  options: { timeoutMs?: number; signal?: AbortSignal; unref?: boolean } = {},
): Promise<number | undefined> {
  const deadline =
    options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
  let delay = 10;
  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(runDir(ctx, id), { persistent: !options.unref }, () => wake?.());
    watcher.on('error', () => {}); // the dir went away: the polling below still sees the end
  } catch {
    watcher = undefined; // no run dir (yet) or no inotify: polling alone
  }
  try {
    for (;;) {
      const record = await readRecord(ctx, id);
      if (record === undefined) return undefined;
      const current = await reconcile(ctx, record);
      if (current.state.status !== 'running') return current.state.exitCode;
      if (options.signal?.aborted) throw new CancelledError(`wait ${id.slice(0, 12)}`);
      if (Date.now() >= deadline) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => resolve(), Math.min(delay, Math.max(0, deadline - Date.now())));
        if (options.unref) timer.unref();
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
      delay = Math.min(delay * 2, 100);
    }
  } finally {
    watcher?.close();
  }
}
