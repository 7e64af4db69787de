// Named cross-process locks on `locks/<name>.lock` with flock(2): the CLI and the server share a state
// root, so read-modify-write of shared files (repositories.json, image records) goes through here.

import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EngineContext } from '../context.ts';
import { CancelledError, StoreError } from '../errors.ts';
import { flock, LOCK } from '../sys/libc.ts';

/** How long `withLock` waits for another holder before giving up. */
export const LOCK_WAIT_MS = 60_000;

// Locks this async call chain already holds, so a nested withLock on the same name runs straight
// through instead of deadlocking against itself.
const held = new AsyncLocalStorage<ReadonlySet<string>>();
// In-process queue per lock file: flock alone would let callers in one process race each other's
// retry loops; the queue hands the lock over in order.
const queues = new Map<string, Promise<unknown>>();

export interface LockOptions {
  /** Give up after this long (ms); default LOCK_WAIT_MS. */
  waitMs?: number;
}

/** Runs `fn` while holding the named lock, exclusive across processes and within this one. */
export async function withLock<T>(
  ctx: EngineContext,
  name: string,
  fn: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new StoreError(`invalid lock name ${JSON.stringify(name)}`);
  const path = join(ctx.paths.locks, `${name}.lock`);
  const current = held.getStore();
  if (current?.has(path)) return fn();

  const previous = queues.get(path) ?? Promise.resolve();
  const run = previous.then(
    () => holdFileLock(ctx, path, name, options.waitMs ?? LOCK_WAIT_MS, fn, current),
    () => holdFileLock(ctx, path, name, options.waitMs ?? LOCK_WAIT_MS, fn, current),
  );
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  queues.set(path, settled);
  try {
    return await run;
  } finally {
    if (queues.get(path) === settled) queues.delete(path);
  }
}

async function holdFileLock<T>(
  ctx: EngineContext,
  path: string,
  name: string,
  waitMs: number,
  fn: () => Promise<T>,
  current: ReadonlySet<string> | undefined,
): Promise<T> {
  await mkdir(ctx.paths.locks, { recursive: true });
  const handle = await open(path, 'a', 0o644);
  try {
    const deadline = Date.now() + waitMs;
    let delay = 2;
    for (;;) {
      // LOCK_NB keeps the call from ever blocking the event loop: waiting is this async retry loop.
      if (flock(handle.fd, LOCK.EX | LOCK.NB, path)) break;
      if (ctx.signal?.aborted) throw new CancelledError(`waiting for lock ${name}`);
      if (Date.now() >= deadline) {
        throw new StoreError(
          `lock ${name}: timed out after ${waitMs} ms waiting for another engine process`,
          {
            input: path,
          },
        );
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 100);
    }
    const next = new Set(current);
    next.add(path);
    return await held.run(next, fn);
  } finally {
    // Closing the last descriptor of the open file releases the flock.
    await handle.close();
  }
}
