// Which `cgroup.procs` files the cgroup warm-up (engine/host/cgroup-warmup.ts) writes this process's
// pid to: its own cgroup's, in each hierarchy /proc/self/cgroup names, v1 ones first; never a path
// that leaves the hierarchy.

import { describe, expect, it } from 'vitest';
import { ownCgroupProcsFiles } from '../../engine/host/cgroup-warmup.ts';

describe('ownCgroupProcsFiles', () => {
  it('maps a hybrid v1 layout, v1 hierarchies first', () => {
    const text = [
      '10:hugetlb:/',
      '9:name=systemd:/',
      '4:memory:/process_api/c9f7',
      '2:cpu,cpuacct:/',
      '0::/',
      '',
    ].join('\n');
    expect(ownCgroupProcsFiles(text)).toEqual([
      '/sys/fs/cgroup/cpu,cpuacct/cgroup.procs',
      '/sys/fs/cgroup/memory/process_api/c9f7/cgroup.procs',
      '/sys/fs/cgroup/systemd/cgroup.procs',
      '/sys/fs/cgroup/hugetlb/cgroup.procs',
      '/sys/fs/cgroup/unified/cgroup.procs',
      '/sys/fs/cgroup/cgroup.procs',
    ]);
  });

  it('maps a pure v2 host to its unified tree', () => {
    expect(ownCgroupProcsFiles('0::/system.slice/layerlab.service\n')).toEqual([
      '/sys/fs/cgroup/unified/system.slice/layerlab.service/cgroup.procs',
      '/sys/fs/cgroup/system.slice/layerlab.service/cgroup.procs',
    ]);
  });

  it('skips paths outside the hierarchy and malformed lines', () => {
    const text = [
      '0::/../../elsewhere',
      '3:pids:relative',
      '5:name=../x:/',
      'garbage',
      '7:pids:/a/../b',
    ].join('\n');
    expect(ownCgroupProcsFiles(text)).toEqual([]);
  });
});
