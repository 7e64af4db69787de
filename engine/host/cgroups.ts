// The engine's one owner of container cgroups on the host: where a container's cgroup directories
// are (controllers discovered from /sys/fs/cgroup, v1 hierarchies or the v2 unified tree alike),
// removing the empty ones a killed runtime leaves, and reading the freezer state.

import { mkdirSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MS, mount } from '../sys/libc.ts';
import { readMounts } from './mounts.ts';

const CGROUP_ROOT = '/sys/fs/cgroup';
/** The parent cgroup every container's cgroup is made under (runtime/spec.ts sets `cgroupsPath`). */
const PARENT = 'layerlab';
const CONTAINER_ID = /^[a-f0-9]{64}$/;

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * The directories under which `layerlab/<id>` cgroups can be: each mounted v1 hierarchy
 * (`/sys/fs/cgroup/memory`, …, `unified`) or, on a pure v2 host, `/sys/fs/cgroup` itself.
 */
export function cgroupHierarchies(): string[] {
  const found = new Set<string>();
  const isV2Root = (() => {
    try {
      statSync(join(CGROUP_ROOT, 'cgroup.controllers'));
      return true;
    } catch {
      return false;
    }
  })();
  if (isV2Root) found.add(CGROUP_ROOT);
  for (const name of list(CGROUP_ROOT)) {
    const dir = join(CGROUP_ROOT, name);
    try {
      // A hierarchy's root always has cgroup.procs; plain files (v2's control files) are skipped.
      if (statSync(dir).isDirectory() && !name.includes('.')) statSync(join(dir, 'cgroup.procs'));
      else continue;
    } catch {
      continue;
    }
    found.add(dir);
  }
  return [...found];
}

/** The cgroup directories that exist for container `id`, in every hierarchy. */
export function containerCgroupDirs(id: string): string[] {
  const dirs: string[] = [];
  for (const hierarchy of cgroupHierarchies()) {
    const dir = join(hierarchy, PARENT, id);
    try {
      if (statSync(dir).isDirectory()) dirs.push(dir);
    } catch {
      // not in this hierarchy
    }
  }
  return dirs;
}

/**
 * Removes the empty cgroups of container `id` (the runtime removes them on delete; a container killed
 * mid-start can leave them). rmdir(2) is how a cgroup goes; one that still has processes stays.
 */
export function removeContainerCgroups(id: string): void {
  for (const dir of containerCgroupDirs(id)) {
    try {
      rmdirSync(dir);
    } catch {
      // still has processes, or already gone: the runtime's to remove
    }
  }
}

/**
 * Empty container cgroups older than `minAgeMs` in any hierarchy: what a runtime killed mid-delete
 * leaves. Ones with processes are live containers (maybe the CLI's), and young ones may be a start
 * in progress elsewhere, so both stay. Returns how many were removed.
 */
export function removeStaleCgroups(minAgeMs = 60_000): number {
  let removed = 0;
  const cutoff = Date.now() - minAgeMs;
  for (const hierarchy of cgroupHierarchies()) {
    const parent = join(hierarchy, PARENT);
    for (const id of list(parent).filter((n) => CONTAINER_ID.test(n))) {
      const dir = join(parent, id);
      try {
        if (statSync(dir).mtimeMs > cutoff) continue;
        if (readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim() !== '') continue;
        rmdirSync(dir);
        removed++;
      } catch {
        // busy, gone, or not ours to remove
      }
    }
  }
  return removed;
}

/** Whether the container's processes are frozen (the runtime's pause; commit freezes while it tars). */
export function isFrozen(id: string): boolean {
  for (const path of [
    join(CGROUP_ROOT, 'freezer', PARENT, id, 'freezer.state'),
    join(CGROUP_ROOT, PARENT, id, 'cgroup.freeze'),
  ]) {
    try {
      const state = readFileSync(path, 'utf8').trim();
      return state === 'FROZEN' || state === 'FREEZING' || state === '1';
    } catch {
      // not this cgroup version
    }
  }
  return false;
}

/**
 * crun refuses a hybrid cgroup v1 layout (v1 controllers plus cgroup2 at /sys/fs/cgroup/unified)
 * when a controller the kernel has enabled, here hugetlb, has no v1 hierarchy mounted. Mounting the
 * missing hierarchy is harmless and makes crun work. Returns what was done, for diagnostics.
 */
export function mountMissingV1Hierarchies(): string[] {
  const done: string[] = [];
  let enabledTable: string;
  try {
    enabledTable = readFileSync('/proc/cgroups', 'utf8');
  } catch {
    return done;
  }
  const mounts = readMounts();
  const isTmpfsRoot = mounts.some((m) => m.mountPoint === CGROUP_ROOT && m.fsType === 'tmpfs');
  if (!isTmpfsRoot) return done; // pure cgroup v2 (or no cgroups): nothing to prepare
  // A v1 hierarchy names its controllers in its superblock options (`rw,memory`).
  const mounted = new Set(
    mounts.filter((m) => m.fsType === 'cgroup').flatMap((m) => m.superOptions.split(',')),
  );
  const enabled = enabledTable
    .split('\n')
    .slice(1)
    .map((l) => l.split('\t'))
    .filter((f) => f[3] === '1')
    .map((f) => f[0]);
  if (enabled.includes('hugetlb') && !mounted.has('hugetlb')) {
    const target = join(CGROUP_ROOT, 'hugetlb');
    try {
      // /sys/fs/cgroup is a tmpfs in the hybrid layout, so the mount point can be made there.
      mkdirSync(target, { recursive: true });
      mount('cgroup', target, 'cgroup', MS.NOSUID | MS.NODEV | MS.NOEXEC, 'hugetlb');
      done.push(`mounted the cgroup v1 hugetlb hierarchy at ${target}`);
    } catch (err) {
      done.push(`could not mount ${target}: ${(err as Error).message}`);
    }
  }
  return done;
}
