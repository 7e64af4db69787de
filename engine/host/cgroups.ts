// The engine's one owner of container cgroups on the host: where a container's cgroup directories
// are (controllers discovered from /sys/fs/cgroup, v1 hierarchies or the v2 unified tree alike),
// removing the empty ones a killed runtime leaves, and reading the freezer state.

import { mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
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

/** The file that freezes container `id`, and the words it takes: v1's freezer.state or v2's cgroup.freeze. */
function freezerFile(id: string): { path: string; frozen: string; thawed: string } | undefined {
  const v1 = join(CGROUP_ROOT, 'freezer', PARENT, id, 'freezer.state');
  const v2 = join(CGROUP_ROOT, PARENT, id, 'cgroup.freeze');
  for (const [path, frozen, thawed] of [
    [v1, 'FROZEN', 'THAWED'],
    [v2, '1', '0'],
  ] as const) {
    try {
      statSync(path);
      return { path, frozen, thawed };
    } catch {
      // not this cgroup version
    }
  }
  return undefined;
}

/**
 * Freezes (`docker pause`) or thaws (`unpause`) every process of container `id` through the freezer
 * cgroup, and waits until the kernel reports the new state. False when the container has no cgroup.
 */
export async function setFrozen(id: string, frozen: boolean): Promise<boolean> {
  if (!CONTAINER_ID.test(id)) return false;
  const file = freezerFile(id);
  if (!file) return false;
  // The cgroup can go at any moment: the container's last process exits and the runtime removes it
  // (a `kill` freezes it briefly, so a signalled container can look frozen just before it goes).
  // A cgroup being destroyed answers ENODEV to a write before its files disappear (ENOENT).
  const gone = (err: unknown) => ['ENOENT', 'ENODEV'].includes((err as NodeJS.ErrnoException).code ?? '');
  try {
    writeFileSync(file.path, frozen ? file.frozen : file.thawed);
    // v1 passes through FREEZING while tasks stop; poll briefly for the settled state.
    for (let i = 0; i < 200; i++) {
      if (isFrozen(id) === frozen && readFileSync(file.path, 'utf8').trim() !== 'FREEZING') return true;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } catch (err) {
    if (gone(err)) return false;
    throw err;
  }
  return isFrozen(id) === frozen;
}

/** The pids in container `id`'s cgroup (host pids), from the first hierarchy that lists them. */
export function containerPids(id: string): number[] {
  if (!CONTAINER_ID.test(id)) return [];
  for (const dir of containerCgroupDirs(id)) {
    try {
      const text = readFileSync(join(dir, 'cgroup.procs'), 'utf8');
      const pids = text.split('\n').filter(Boolean).map(Number);
      if (pids.length > 0) return pids;
    } catch {
      // try the next hierarchy
    }
  }
  return [];
}

/**
 * Whether `pid` is in container `id`'s cgroup now, by /proc/<pid>/cgroup (`0::/layerlab/<id>` on v2,
 * a line per hierarchy on v1): read after a process's other /proc files, it tells a reused pid apart.
 */
export function processInContainerCgroup(pid: number, id: string): boolean {
  if (!CONTAINER_ID.test(id) || !Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    const text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    return text.split('\n').some((line) => {
      const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
      return path === `/${PARENT}/${id}` || path.startsWith(`/${PARENT}/${id}/`);
    });
  } catch {
    return false;
  }
}

/** One reading of a container's usage, what `docker stats` shows (bytes, nanoseconds of CPU). */
export interface CgroupUsage {
  cpuNs: number;
  memoryBytes: number;
  memoryLimit: number;
  pids: number;
  blockRead: number;
  blockWrite: number;
}

function readNumber(path: string): number | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    if (text === 'max') return Number.POSITIVE_INFINITY;
    const n = Number(text);
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

function readKeyed(path: string): Map<string, number> {
  const map = new Map<string, number>();
  try {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const [key, value] = line.trim().split(/\s+/);
      if (key && value !== undefined) map.set(key, Number(value));
    }
  } catch {
    // absent
  }
  return map;
}

/** Reads container `id`'s counters from cgroup v1 hierarchies or the v2 tree; zeros where absent. */
export function readCgroupUsage(id: string): CgroupUsage {
  const usage: CgroupUsage = {
    cpuNs: 0,
    memoryBytes: 0,
    memoryLimit: 0,
    pids: 0,
    blockRead: 0,
    blockWrite: 0,
  };
  if (!CONTAINER_ID.test(id)) return usage;
  const v2 = join(CGROUP_ROOT, PARENT, id);
  const v1 = (controller: string) => join(CGROUP_ROOT, controller, PARENT, id);
  const v2Cpu = readKeyed(join(v2, 'cpu.stat')).get('usage_usec');
  if (v2Cpu !== undefined) {
    usage.cpuNs = v2Cpu * 1000;
    // Docker shows usage less the inactive file cache.
    const stat = readKeyed(join(v2, 'memory.stat'));
    usage.memoryBytes = Math.max(
      0,
      (readNumber(join(v2, 'memory.current')) ?? 0) - (stat.get('inactive_file') ?? 0),
    );
    usage.memoryLimit = readNumber(join(v2, 'memory.max')) ?? 0;
    usage.pids = readNumber(join(v2, 'pids.current')) ?? 0;
    try {
      for (const line of readFileSync(join(v2, 'io.stat'), 'utf8').split('\n')) {
        usage.blockRead += Number(/rbytes=(\d+)/.exec(line)?.[1] ?? 0);
        usage.blockWrite += Number(/wbytes=(\d+)/.exec(line)?.[1] ?? 0);
      }
    } catch {
      // no io controller
    }
    return usage;
  }
  usage.cpuNs = readNumber(join(v1('cpuacct'), 'cpuacct.usage')) ?? 0;
  const stat = readKeyed(join(v1('memory'), 'memory.stat'));
  usage.memoryBytes = Math.max(
    0,
    (readNumber(join(v1('memory'), 'memory.usage_in_bytes')) ?? 0) - (stat.get('total_inactive_file') ?? 0),
  );
  usage.memoryLimit = readNumber(join(v1('memory'), 'memory.limit_in_bytes')) ?? 0;
  usage.pids = readNumber(join(v1('pids'), 'pids.current')) ?? 0;
  try {
    for (const line of readFileSync(join(v1('blkio'), 'blkio.throttle.io_service_bytes'), 'utf8').split(
      '\n',
    )) {
      const [, op, value] = line.trim().split(/\s+/);
      if (op === 'Read') usage.blockRead += Number(value);
      if (op === 'Write') usage.blockWrite += Number(value);
    }
  } catch {
    // no blkio
  }
  return usage;
}
