// Takes the wait out of the runtime's cgroup move at a container start: the kernel's first cgroup
// migration after an idle moment waits a whole RCU grace period, and this starts that wait early.
//
// Every move of a task into a cgroup (the runtime writing the container's pid to `cgroup.procs`, on
// v1 and v2 alike) takes the kernel's one global `cgroup_threadgroup_rwsem` for writing. Unless the
// hierarchy is mounted with `favordynmods`, the first writer after an idle spell waits for an RCU
// grace period (rcu_sync_enter: 6–16 ms measured on this 2-core VM, more under load); writers that
// come while one is in progress share its wait, and for about one more grace period after the last
// writer leaves the next ones take the fast path. crun's first move comes ~10 ms after the engine
// spawns the shim (its exec, its config and seccomp profile first): so as it spawns the shim the
// engine writes its own pid into the cgroup it already is in (a move to the same place, which
// changes nothing but takes the same lock), in the thread pool, and crun's move then finds the wait
// done or under way. Same-process A/B, 40 runs each with idle gaps: `run --rm` median 36.6 vs 39.8 ms
// and 47.1 vs 62.9 ms (docs/PERFORMANCE.md).

import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * `cgroup.procs` of the cgroup this process is in, in one hierarchy: a v1 hierarchy mounted at
 * `/sys/fs/cgroup/<controllers>` (or `name=<x>` at `<x>`), else the v2 tree at `/sys/fs/cgroup` or
 * its hybrid mount `unified/`. Read from `/proc/self/cgroup` each time (a few dozen bytes), so a
 * process moved meanwhile is never moved back.
 */
export function ownCgroupProcsFiles(text: string): string[] {
  const files: string[] = [];
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    // A path that escapes its hierarchy (another cgroup namespace's view) is not ours to write.
    if (!path.startsWith('/') || path.split('/').includes('..')) continue;
    if (controllers === '') {
      files.push(join(CGROUP_ROOT, 'unified', path, 'cgroup.procs'));
      files.push(join(CGROUP_ROOT, path, 'cgroup.procs'));
    } else {
      const dir = controllers.startsWith('name=') ? controllers.slice('name='.length) : controllers;
      if (dir === '' || dir.includes('/') || dir.startsWith('.')) continue;
      files.unshift(join(CGROUP_ROOT, dir, path, 'cgroup.procs'));
    }
  }
  return files;
}

let pending: Promise<void> | undefined;

/**
 * Starts the kernel's grace-period wait for cgroup moves now, in the thread pool, without waiting
 * for it. Best effort: where this process may not write its cgroup (not root, a read-only cgroupfs
 * in a container) nothing happens, and the runtime's move waits as it would have. One at a time:
 * starts close together share the wait anyway.
 */
export function warmCgroupMigration(): void {
  if (pending !== undefined || process.getuid?.() !== 0) return;
  let files: string[];
  try {
    files = ownCgroupProcsFiles(readFileSync('/proc/self/cgroup', 'utf8'));
  } catch {
    return;
  }
  const pid = String(process.pid);
  pending = (async () => {
    for (const file of files) {
      try {
        // 'r+': no O_CREAT, so a path that is not a cgroup file is never created.
        await writeFile(file, pid, { flag: 'r+' });
        return;
      } catch {
        // not mounted here, or not writable: the next hierarchy
      }
    }
  })().finally(() => {
    pending = undefined;
  });
}
