// Live `fs.change` events: each container's upper dir is watched (inotify, one watch per directory,
// capped) while it can change, and every changed path is classified as overlayfs sees it —
// added, changed (with the copy-up from the lower layer on its first write) or deleted (whiteout).
// Bursts are coalesced per path and capped per second; past the cap the page gets `fs.resync`. A
// container that makes inotify events faster than anyone could watch them (a rename loop) is
// switched to periodic scans, so what it does costs the server a bounded amount of work.
// The upper dir is the container's: it is read, and its directories are watched, only through fds
// from engine/fs/in-root.ts, so a symlink it swaps in never points the server at a host directory.

import { closeSync, type FSWatcher, constants as fsConstants, type Stats, watch } from 'node:fs';
import { readAllRecords, readRecord } from '../../engine/container/record.ts';
import type { EngineContext } from '../../engine/context.ts';
import { type Tree, withTree } from '../../engine/fs/in-root.ts';
import { findPathOrigin } from '../../engine/inspect/which-layer.ts';
import { isWhiteout } from '../../engine/layer/diff.ts';
import type { SessionEvent } from '../protocol.ts';
import type { Session } from '../sessions/session.ts';
import { containerStack } from './layers.ts';

export type FsChangeEvent = Extract<SessionEvent, { type: 'fs.change' }>;

/** Sent instead of more `fs.change` events when a container changes too fast: refetch the state. */
export interface FsResyncEvent {
  type: 'fs.resync';
  container: string;
}

export type WatchEvent = FsChangeEvent | FsResyncEvent;

export interface WatchOptions {
  /** Quiet time before a burst of changes is reported (a path written 100 times is one event). */
  debounceMs?: number;
  /** Longest a change waits while writes keep coming. */
  maxDelayMs?: number;
  /** Events per second per container; the excess becomes one `fs.resync`. */
  maxEventsPerSecond?: number;
  /** Use periodic scans instead of inotify (also the fallback when fs.watch fails). */
  poll?: boolean;
  pollMs?: number;
  /**
   * Raw inotify events per second past which the container is polled instead: each event is a
   * callback on the server's event loop, and a container renaming in a tight loop makes millions.
   */
  maxRawEventsPerSecond?: number;
}

const DEFAULTS = {
  debounceMs: 40,
  maxDelayMs: 250,
  maxEventsPerSecond: 100,
  pollMs: 1000,
  maxRawEventsPerSecond: 2000,
};
/** Paths pending at once, and entries scanned when a new directory appears or a poll runs. */
const MAX_PENDING = 5000;
const MAX_SCAN = 5000;
/**
 * Directories watched per container; past it the container is polled instead. Node's own recursive
 * mode is not used: on Linux it walks and re-walks the whole tree synchronously, so a container
 * creating a few thousand files could stall the server's event loop for seconds.
 */
const MAX_WATCHED_DIRS = 1000;

export interface ContainerWatch {
  readonly container: string;
  readonly mode: 'inotify' | 'poll';
  close(): void;
}

/**
 * Watches one container's upper dir and calls `emit` with its changes. The watch starts from what
 * the upper dir holds now: those paths are known, so a later write to one is a change, not a copy-up.
 */
export async function watchContainer(
  ctx: EngineContext,
  containerId: string,
  emit: (event: WatchEvent) => void,
  options: WatchOptions = {},
): Promise<ContainerWatch> {
  const opts = { ...DEFAULTS, ...options };
  const record = await readRecord(ctx, containerId);
  if (!record) throw new Error(`watch: no container ${containerId}`);
  const stack = await containerStack(ctx, record);
  const upper = stack[0]!.dir;
  // A change is judged against the image's layers: the init layer holds the engine's mount points
  // (`/etc/hosts`, `/dev`, …), not content of the image.
  const lowers = stack.slice(1).filter((s) => s.source === 'layer');
  const lowerDirs = lowers.map((s) => s.dir);

  /** Paths present in the upper dir as last reported, with whether each is a whiteout. */
  const known = new Map<string, 'whiteout' | 'entry'>();
  for (const [path, st] of scanUpper(upper, '', MAX_SCAN))
    known.set(path, isWhiteout(st) ? 'whiteout' : 'entry');

  const pending = new Set<string>();
  let quietTimer: NodeJS.Timeout | undefined;
  let firstPendingAt = 0;
  let windowStart = Date.now();
  let sentInWindow = 0;
  let resyncSent = false;
  let closed = false;
  let rawWindowStart = Date.now();
  let rawInWindow = 0;

  const queue = (rel: string) => {
    if (closed) return;
    if (pending.size >= MAX_PENDING) {
      overflow();
      return;
    }
    pending.add(rel.startsWith('/') ? rel : `/${rel}`);
    if (firstPendingAt === 0) firstPendingAt = Date.now();
    if (quietTimer) clearTimeout(quietTimer);
    const wait = Math.max(0, Math.min(opts.debounceMs, firstPendingAt + opts.maxDelayMs - Date.now()));
    quietTimer = setTimeout(flush, wait);
  };

  const overflow = () => {
    pending.clear();
    // Directories made during the burst were never classified, so they have no watch yet.
    rewatchSoon();
    if (!resyncSent) {
      resyncSent = true;
      emit({ type: 'fs.resync', container: containerId });
    }
  };

  const flush = () => {
    quietTimer = undefined;
    firstPendingAt = 0;
    if (closed) return;
    const paths = [...pending].sort();
    pending.clear();
    for (const path of paths) {
      for (const event of classify(path)) {
        const now = Date.now();
        if (now - windowStart >= 1000) {
          windowStart = now;
          sentInWindow = 0;
          resyncSent = false;
        }
        if (sentInWindow >= opts.maxEventsPerSecond) {
          overflow();
          return;
        }
        sentInWindow++;
        emit(event);
      }
    }
  };

  /** The events one changed path makes, judged by what the upper dir holds now. */
  const classify = (path: string): FsChangeEvent[] => {
    const st = withTree(upper, (tree) => tree?.lstat(path));
    const before = known.get(path);
    if (st === undefined) {
      // Gone from the upper dir without a whiteout: it was the container's own (created, then
      // removed), so the merged view no longer has it.
      unwatchDir(path);
      if (before === undefined) return [];
      known.delete(path);
      for (const k of [...known.keys()]) if (k.startsWith(`${path}/`)) known.delete(k);
      return [{ type: 'fs.change', container: containerId, path, kind: 'D' }];
    }
    if (isWhiteout(st)) {
      known.set(path, 'whiteout');
      return [{ type: 'fs.change', container: containerId, path, kind: 'D', whiteout: true }];
    }
    known.set(path, 'entry');
    const events: FsChangeEvent[] = [];
    const origin = findPathOrigin(lowerDirs, path);
    const from = origin.found ? lowers[origin.index] : undefined;
    if (from === undefined) {
      events.push({ type: 'fs.change', container: containerId, path, kind: 'A' });
    } else {
      // The first appearance of a lower path in the upper dir is overlayfs's copy-up.
      const copyUp =
        before !== 'entry' && from.source === 'layer' ? { copyUp: { from: from.layer.diffId } } : {};
      events.push({ type: 'fs.change', container: containerId, path, kind: 'C', ...copyUp });
    }
    if (st.isDirectory()) watchDir(path);
    // inotify watches a new directory only once it has seen it: what was created inside before
    // then would be missed, so a directory new to us is scanned.
    if (st.isDirectory() && before === undefined) {
      for (const [child] of scanUpper(upper, path, MAX_SCAN)) if (!known.has(child)) pending.add(child);
      if (pending.size > 0 && !quietTimer) quietTimer = setTimeout(flush, 0);
    }
    return events;
  };

  /** One inotify watch per directory of the upper dir, keyed by its path ('' is the upper dir). */
  const dirWatchers = new Map<string, FSWatcher>();
  let pollTimer: NodeJS.Timeout | undefined;
  let rewatchTimer: NodeJS.Timeout | undefined;
  let mode: ContainerWatch['mode'] = 'inotify';

  const startPolling = () => {
    if (mode === 'poll' || closed) return;
    mode = 'poll';
    for (const w of dirWatchers.values()) w.close();
    dirWatchers.clear();
    let previous = signature(upper);
    pollTimer = setInterval(() => {
      const next = signature(upper);
      for (const [path, sig] of next) if (previous.get(path) !== sig) queue(path);
      for (const path of previous.keys()) if (!next.has(path)) queue(path);
      previous = next;
    }, opts.pollMs);
    pollTimer.unref();
  };

  function watchDir(rel: string): void {
    const key = rel === '/' ? '' : rel;
    if (closed || mode === 'poll' || dirWatchers.has(key)) return;
    if (dirWatchers.size >= MAX_WATCHED_DIRS) {
      startPolling();
      return;
    }
    try {
      // inotify_add_watch takes a path and follows symlinks: it is given the directory's own open
      // fd (`/proc/self/fd/N` names exactly that inode), found inside the upper dir with no symlink.
      const dirFd = withTree(upper, (tree) =>
        tree?.openFd(key || '/', fsConstants.O_RDONLY | fsConstants.O_DIRECTORY),
      );
      if (dirFd === undefined) {
        if (key === '') startPolling();
        return;
      }
      let w: FSWatcher;
      try {
        w = watch(`/proc/self/fd/${dirFd}`, { persistent: false }, (_type, filename) => {
          if (typeof filename !== 'string' || filename === '' || mode === 'poll') return;
          const now = Date.now();
          if (now - rawWindowStart >= 1000) {
            rawWindowStart = now;
            rawInWindow = 0;
          }
          if (++rawInWindow > opts.maxRawEventsPerSecond) storm();
          else queue(`${key}/${filename}`);
        });
      } finally {
        closeSync(dirFd);
      }
      w.on('error', () => {
        // The directory went away (its parent reports that), or inotify gave up on the upper dir.
        w.close();
        dirWatchers.delete(key);
        if (key === '' && !closed && withTree(upper, (tree) => tree !== undefined)) startPolling();
      });
      dirWatchers.set(key, w);
    } catch {
      if (key === '') startPolling();
    }
  }

  /** Too many raw events: scan on a timer from now on, and have the page refetch meanwhile. */
  function storm(): void {
    pending.clear();
    startPolling();
    if (!resyncSent) {
      resyncSent = true;
      emit({ type: 'fs.resync', container: containerId });
    }
  }

  function unwatchDir(rel: string): void {
    for (const [key, w] of dirWatchers) {
      if (key === rel || key.startsWith(`${rel}/`)) {
        w.close();
        dirWatchers.delete(key);
      }
    }
  }

  function rewatchSoon(): void {
    if (rewatchTimer || mode === 'poll') return;
    rewatchTimer = setTimeout(() => {
      rewatchTimer = undefined;
      for (const [path, st] of scanUpper(upper, '', MAX_SCAN)) if (st.isDirectory()) watchDir(path);
    }, opts.maxDelayMs);
    rewatchTimer.unref();
  }

  if (options.poll) startPolling();
  else {
    watchDir('');
    for (const [path, st] of scanUpper(upper, '', MAX_SCAN)) if (st.isDirectory()) watchDir(path);
  }

  return {
    container: containerId,
    get mode() {
      return mode;
    },
    close() {
      if (closed) return;
      closed = true;
      for (const w of dirWatchers.values()) w.close();
      dirWatchers.clear();
      if (pollTimer) clearInterval(pollTimer);
      if (rewatchTimer) clearTimeout(rewatchTimer);
      if (quietTimer) clearTimeout(quietTimer);
      pending.clear();
    },
  };
}

/** Entries under `rel` of the upper dir (depth first), at most `max`. */
function scanUpper(upper: string, rel: string, max: number): [string, Stats][] {
  const out: [string, Stats][] = [];
  const walk = (tree: Tree, dir: string) => {
    for (const name of (tree.readdir(dir || '/') ?? []).sort()) {
      if (out.length >= max) return;
      const path = `${dir}/${name}`;
      const st = tree.lstat(path);
      if (!st) continue;
      out.push([path, st]);
      if (st.isDirectory()) walk(tree, path);
    }
  };
  withTree(upper, (tree) => tree && walk(tree, rel));
  return out;
}

/** What the poller compares between scans: kind, size, mtime and inode of every upper entry. */
function signature(upper: string): Map<string, string> {
  const sig = new Map<string, string>();
  for (const [path, st] of scanUpper(upper, '', MAX_SCAN)) {
    sig.set(path, `${st.mode}:${st.size}:${st.mtimeMs}:${st.ino}:${st.rdev}`);
  }
  return sig;
}

/** The session-level watcher: which containers are watched, started and stopped by engine events. */
export interface SessionWatcher {
  /** Ids of the containers being watched. */
  watching(): string[];
  close(): void;
}

/**
 * Watches the upper dir of every container of `session` from the moment it is created or started
 * until it exits or is removed, emitting `fs.change` (and `fs.resync`) on the session's event bus.
 * Disposed with the session. Idempotent per session: a second call returns the first watcher.
 */
export function watchSession(session: Session, options: WatchOptions = {}): SessionWatcher {
  if (session.watcher) return session.watcher;
  const emit = (event: WatchEvent) => session.events.emit(event as SessionEvent);
  const watcher = createSessionWatcher(session.ctx, emit, (listener) => session.events.on(listener), options);
  session.watcher = watcher;
  session.onDispose(() => watcher.close());
  return watcher;
}

const EXIT_GRACE_MS = 1000;

/** The same, over a bare context and event subscription (what watchSession wires to a Session). */
export function createSessionWatcher(
  ctx: EngineContext,
  emit: (event: WatchEvent) => void,
  subscribe: (listener: (event: SessionEvent) => void) => () => void,
  options: WatchOptions = {},
): SessionWatcher {
  const watches = new Map<string, Promise<ContainerWatch | undefined>>();
  let closed = false;

  const start = (id: string) => {
    if (closed || watches.has(id)) return;
    const pending = watchContainer(ctx, id, emit, options).catch(() => undefined);
    watches.set(id, pending);
    // A removal racing the start: drop the entry once it failed.
    void pending.then((w) => {
      if (!w && watches.get(id) === pending) watches.delete(id);
      if (w && closed) w.close();
    });
  };
  const stop = (id: string) => {
    const pending = watches.get(id);
    if (!pending) return;
    watches.delete(id);
    void pending.then((w) => w?.close());
  };
  // An exit is announced when the engine notices it, often right after the last writes: give their
  // inotify events time to arrive and be reported before the watch goes.
  const lingering = new Map<string, NodeJS.Timeout>();
  const stopSoon = (id: string) => {
    if (lingering.has(id)) return;
    const timer = setTimeout(() => {
      lingering.delete(id);
      stop(id);
    }, EXIT_GRACE_MS);
    timer.unref();
    lingering.set(id, timer);
  };
  const cancelStop = (id: string) => {
    clearTimeout(lingering.get(id));
    lingering.delete(id);
  };

  const unsubscribe = subscribe((event) => {
    switch (event.type) {
      case 'container.created':
      case 'container.started':
        cancelStop(event.id);
        start(event.id);
        break;
      case 'container.exited':
        stopSoon(event.id);
        break;
      case 'container.removed':
        cancelStop(event.id);
        stop(event.id);
        break;
    }
  });

  // Containers that exist already (a watcher started after they did): running ones can change now.
  void readAllRecords(ctx)
    .then((records) => {
      for (const r of records) if (r.state.status === 'running' && !r.external) start(r.id);
    })
    .catch(() => {});

  return {
    watching: () => [...watches.keys()],
    close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      for (const id of [...lingering.keys()]) cancelStop(id);
      for (const id of [...watches.keys()]) stop(id);
    },
  };
}
