// The host-requirements message logic (engine/host/requirements.ts): one sentence per missing thing,
// each naming the fix (a container's flag, a host's command), over probe results built by hand.

import { describe, expect, it } from 'vitest';
import type { MountEntry } from '../../engine/host/mounts.ts';
import {
  cgroupState,
  type HostProbe,
  HostRequirementsError,
  hasSysAdmin,
  hostProblems,
  requireHost,
} from '../../engine/host/requirements.ts';

const ready: HostProbe = {
  platform: 'linux',
  uid: 0,
  sysAdmin: true,
  overlayfs: true,
  userNamespaces: { ok: true },
  cgroups: 'writable',
  apparmor: undefined,
  runtime: '/usr/bin/crun',
  busybox: true,
  inContainer: true,
};

/** What Docker gives a container started without --privileged (cgroup v2, default seccomp). */
const unprivileged: HostProbe = {
  ...ready,
  sysAdmin: false,
  userNamespaces: { ok: false, reason: 'unshare: unshare failed: Operation not permitted' },
  cgroups: 'read-only',
};

function mount(mountPoint: string, fsType: string, options: string): MountEntry {
  return { mountPoint, fsType, options, source: fsType, superOptions: 'rw' };
}

describe('hostProblems', () => {
  it('finds nothing missing on a host that has everything', () => {
    expect(hostProblems(ready)).toEqual([]);
    expect(() => requireHost(ready)).not.toThrow();
  });

  it('tells a container started without --privileged to add it, once per missing thing', () => {
    const problems = hostProblems(unprivileged);
    expect(problems.map((p) => p.missing)).toEqual(['CAP_SYS_ADMIN', 'user-namespaces', 'cgroups']);
    for (const p of problems) expect(p.sentence).toContain('--privileged');
    expect(problems[1]?.sentence).toContain('Operation not permitted');
    expect(problems[2]?.sentence).toMatch(/^\/sys\/fs\/cgroup is mounted read-only/);
  });

  it('words the same problems as commands on a host, not as flags', () => {
    const problems = hostProblems({ ...unprivileged, inContainer: false, uid: 1000 });
    expect(problems.map((p) => p.missing)).toEqual(['root', 'user-namespaces', 'cgroups']);
    for (const p of problems) expect(p.sentence).not.toContain('--privileged');
    expect(problems[0]?.sentence).toContain('uid 1000');
    expect(problems[0]?.sentence).toContain('sudo');
  });

  it('asks a container run with --user to run as root', () => {
    const [problem] = hostProblems({ ...ready, uid: 1000 });
    expect(problem?.missing).toBe('root');
    expect(problem?.sentence).toContain('no --user');
  });

  it("names Docker's AppArmor profile, overlayfs, the runtime and busybox", () => {
    const problems = hostProblems({
      ...ready,
      apparmor: 'docker-default (enforce)',
      overlayfs: false,
      runtime: undefined,
      busybox: false,
    });
    expect(problems.map((p) => p.missing)).toEqual(['apparmor', 'overlayfs', 'runtime', 'busybox']);
    expect(problems[0]?.sentence).toContain('apparmor=unconfined');
    expect(problems[1]?.sentence).toContain('modprobe overlay');
    expect(problems[1]?.sentence).toContain('cannot load kernel modules');
    expect(problems[2]?.sentence).toContain('crun');
    expect(problems[3]?.sentence).toContain('busybox-static');
  });

  it('says only that Linux is needed on another platform', () => {
    const problems = hostProblems({ ...unprivileged, platform: 'darwin' });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.sentence).toContain('this is darwin');
  });

  it('every sentence is one sentence: it ends with a full stop and has no line break', () => {
    const all = hostProblems({
      ...unprivileged,
      uid: 1000,
      apparmor: 'docker-default (enforce)',
      overlayfs: false,
      runtime: undefined,
      busybox: false,
      cgroups: 'missing',
    });
    expect(all).toHaveLength(7);
    for (const { sentence } of all) {
      expect(sentence).toMatch(/\.$/);
      expect(sentence).not.toContain('\n');
    }
  });

  it('throws one error listing every sentence, with the missing things as its input', () => {
    let thrown: unknown;
    try {
      requireHost(unprivileged);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(HostRequirementsError);
    const err = thrown as HostRequirementsError;
    expect(err.input).toBe('CAP_SYS_ADMIN,user-namespaces,cgroups');
    expect(err.message.split('\n')).toHaveLength(4);
    expect(err.message).toMatch(/^This host cannot run Layerlab's containers:\n {2}- It lacks CAP_SYS_ADMIN/);
  });
});

describe('probe parsing', () => {
  it('reads CAP_SYS_ADMIN (bit 21) from CapEff', () => {
    expect(hasSysAdmin('CapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\n')).toBe(true);
    // Docker's default set: no CAP_SYS_ADMIN.
    expect(hasSysAdmin('CapEff:\t00000000a80425fb\n')).toBe(false);
    expect(hasSysAdmin('')).toBe(false);
  });

  it('tells missing, read-only and writable cgroup mounts apart, v1 and v2', () => {
    expect(cgroupState([mount('/', 'overlay', 'rw')])).toBe('missing');
    expect(cgroupState([mount('/sys/fs/cgroup', 'cgroup2', 'ro,nosuid')])).toBe('read-only');
    expect(cgroupState([mount('/sys/fs/cgroup', 'cgroup2', 'rw,nosuid')])).toBe('writable');
    const v1 = (options: string) => [
      mount('/sys/fs/cgroup', 'tmpfs', 'ro'),
      mount('/sys/fs/cgroup/memory', 'cgroup', options),
      mount('/sys/fs/cgroup/pids', 'cgroup', options),
    ];
    expect(cgroupState(v1('ro,nosuid'))).toBe('read-only');
    expect(cgroupState(v1('rw,nosuid'))).toBe('writable');
  });
});
