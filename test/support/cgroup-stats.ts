// What the kernel's cgroup counters say about one container (`cgroupsPath` /layerlab/<id>), on the
// cgroup v1 layout (one hierarchy per controller) or v2 (one unified hierarchy), for tests that prove
// a limit held: pids at the cap, OOM kills counted inside the container's own cgroup, CPU time used.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';
const UNIFIED = existsSync(join(CGROUP_ROOT, 'cgroup.controllers'));

export interface ContainerCgroup {
  /** Processes in the cgroup now, its cap, and how many forks the cap refused. */
  pids(): { current: number; max: number; refused: number };
  /** The memory limit, the peak usage, and how many processes the OOM killer killed in this cgroup. */
  memory(): { limit: number; peak: number; oomKills: number };
  /** CPU time used by the cgroup so far, in seconds. */
  cpuSeconds(): number;
  /** Host pids of every process in the cgroup. */
  procs(): number[];
  /** The CFS quota in cores (quota / period), or Infinity when unlimited. */
  cpuQuota(): number;
  /** CFS periods in which the quota stopped the cgroup. */
  throttledPeriods(): number;
}

function read(path: string): string {
  return readFileSync(path, 'utf8').trim();
}

/** `key value` lines (memory.events, cpu.stat, memory.oom_control) as a map. */
function keyed(path: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of read(path).split('\n')) {
    const [key, value] = line.split(/\s+/);
    if (key !== undefined && value !== undefined) out.set(key, Number(value));
  }
  return out;
}

/** A number, or Infinity for the kernel's "max"/huge unlimited values. */
function limitValue(text: string): number {
  if (text === 'max') return Number.POSITIVE_INFINITY;
  const n = Number(text);
  return n >= 2 ** 62 ? Number.POSITIVE_INFINITY : n;
}

export function containerCgroup(id: string): ContainerCgroup {
  const dir = (controller: string) =>
    UNIFIED ? join(CGROUP_ROOT, 'layerlab', id) : join(CGROUP_ROOT, controller, 'layerlab', id);
  return {
    pids() {
      const d = dir('pids');
      return {
        current: Number(read(join(d, 'pids.current'))),
        max: limitValue(read(join(d, 'pids.max'))),
        refused: keyed(join(d, 'pids.events')).get('max') ?? 0,
      };
    },
    memory() {
      const d = dir('memory');
      if (UNIFIED) {
        return {
          limit: limitValue(read(join(d, 'memory.max'))),
          peak: Number(read(join(d, 'memory.peak'))),
          oomKills: keyed(join(d, 'memory.events')).get('oom_kill') ?? 0,
        };
      }
      return {
        limit: limitValue(read(join(d, 'memory.limit_in_bytes'))),
        peak: Number(read(join(d, 'memory.max_usage_in_bytes'))),
        oomKills: keyed(join(d, 'memory.oom_control')).get('oom_kill') ?? 0,
      };
    },
    cpuSeconds() {
      if (UNIFIED) return (keyed(join(dir('cpu'), 'cpu.stat')).get('usage_usec') ?? 0) / 1e6;
      return Number(read(join(dir('cpuacct'), 'cpuacct.usage'))) / 1e9;
    },
    procs() {
      return read(join(dir('pids'), 'cgroup.procs'))
        .split('\n')
        .filter((l) => l !== '')
        .map(Number);
    },
    cpuQuota() {
      if (UNIFIED) {
        const [quota, period] = read(join(dir('cpu'), 'cpu.max')).split(' ');
        return quota === 'max' ? Number.POSITIVE_INFINITY : Number(quota) / Number(period);
      }
      const quota = Number(read(join(dir('cpu'), 'cpu.cfs_quota_us')));
      const period = Number(read(join(dir('cpu'), 'cpu.cfs_period_us')));
      return quota < 0 ? Number.POSITIVE_INFINITY : quota / period;
    },
    throttledPeriods() {
      return keyed(join(dir('cpu'), 'cpu.stat')).get('nr_throttled') ?? 0;
    },
  };
}
