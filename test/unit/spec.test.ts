// buildSpec as a specification of Layerlab's sandbox: namespaces, id maps, limits, capabilities,
// masked paths, mounts and the seccomp profile, checked on the pure function (no root needed).

import { describe, expect, it } from 'vitest';
import {
  buildProcess,
  buildSpec,
  DEFAULT_CAPABILITIES,
  DENIED_SYSCALLS,
  defaultSeccomp,
  parseProcLimits,
  type SpecInput,
} from '../../engine/runtime/spec.ts';

const id = 'a1b2c3d4e5f6'.padEnd(64, '0');

function input(overrides: Partial<SpecInput> = {}): SpecInput {
  return {
    id,
    rootfs: '/var/lib/layerlab/containers/x/merged',
    process: { args: ['sh'], env: ['PATH=/bin'], cwd: '/', uid: 0, gid: 0, terminal: false },
    userns: { base: 100_000, size: 65_536 },
    limits: { memoryBytes: 256 * 1024 * 1024, pids: 256, cpus: 1.5 },
    ...overrides,
  };
}

describe('buildSpec', () => {
  it('isolates the container in every namespace, user namespace included', () => {
    const spec = buildSpec(input());
    expect(spec.linux.namespaces.map((n) => n.type).sort()).toEqual([
      'ipc',
      'mount',
      'network',
      'pid',
      'user',
      'uts',
    ]);
    expect(spec.linux.uidMappings).toEqual([{ containerID: 0, hostID: 100_000, size: 65_536 }]);
    expect(spec.linux.gidMappings).toEqual([{ containerID: 0, hostID: 100_000, size: 65_536 }]);
  });

  it('names the host after the short id, unless told otherwise', () => {
    expect(buildSpec(input()).hostname).toBe('a1b2c3d4e5f6');
    expect(buildSpec(input({ hostname: 'web' })).hostname).toBe('web');
  });

  it('limits memory (swap included), pids and cpu in its own cgroup', () => {
    const { linux } = buildSpec(input());
    expect(linux.cgroupsPath).toBe(`/layerlab/${id}`);
    expect(linux.resources.memory).toEqual({ limit: 268_435_456, swap: 268_435_456 });
    expect(linux.resources.pids).toEqual({ limit: 256 });
    expect(linux.resources.cpu).toEqual({ quota: 150_000, period: 100_000 });
  });

  it("grants Docker's default capabilities and no new privileges", () => {
    const { process } = buildSpec(input());
    expect(process.capabilities?.bounding).toEqual([...DEFAULT_CAPABILITIES]);
    expect(process.capabilities?.effective).not.toContain('CAP_SYS_ADMIN');
    expect(process.capabilities?.ambient).toEqual([]);
    expect(process.noNewPrivileges).toBe(true);
  });

  it("masks and write-protects Docker's paths", () => {
    const { linux } = buildSpec(input());
    expect(linux.maskedPaths).toContain('/proc/kcore');
    expect(linux.maskedPaths).toContain('/sys/firmware');
    expect(linux.readonlyPaths).toContain('/proc/sys');
    expect(linux.readonlyPaths).toContain('/proc/sysrq-trigger');
  });

  it('mounts proc, a private devpts, shm, mqueue and a read-only sysfs', () => {
    const mounts = buildSpec(input()).mounts;
    const by = (dest: string) => mounts.find((m) => m.destination === dest);
    expect(by('/proc')?.type).toBe('proc');
    expect(by('/dev/pts')?.options).toEqual(expect.arrayContaining(['newinstance', 'ptmxmode=0666']));
    expect(by('/dev/shm')?.type).toBe('tmpfs');
    expect(by('/dev/mqueue')?.type).toBe('mqueue');
    expect(by('/sys')?.options).toContain('ro');
  });

  it('bind-mounts the generated /etc files writable (as Docker does) when given', () => {
    const mounts = buildSpec(input({ etcFiles: { hosts: '/r/hosts', resolvConf: '/r/resolv.conf' } })).mounts;
    expect(mounts).toContainEqual({
      destination: '/etc/hosts',
      type: 'bind',
      source: '/r/hosts',
      options: ['rbind', 'rw', 'nosuid', 'nodev'],
    });
    expect(mounts.some((m) => m.destination === '/etc/resolv.conf')).toBe(true);
    expect(buildSpec(input()).mounts.some((m) => m.destination === '/etc/hosts')).toBe(false);
  });

  it('runs the process as given: args, env, cwd, numeric user, terminal and its size', () => {
    const spec = buildSpec(
      input({
        process: {
          args: ['top', '-b'],
          env: ['A=1'],
          cwd: '/srv',
          uid: 1000,
          gid: 1000,
          additionalGids: [50],
          terminal: true,
          rows: 30,
          cols: 100,
        },
      }),
    );
    expect(spec.process).toMatchObject({
      args: ['top', '-b'],
      env: ['A=1'],
      cwd: '/srv',
      user: { uid: 1000, gid: 1000, additionalGids: [50] },
      terminal: true,
      consoleSize: { height: 30, width: 100 },
    });
  });

  it('keeps rlimits within the host hard limits, and sets none when they are unknown', () => {
    const capped = buildProcess({
      ...input().process,
      hostRlimits: { RLIMIT_NOFILE: 20_000, RLIMIT_NPROC: -1 },
    });
    expect(capped.rlimits).toContainEqual({ type: 'RLIMIT_NOFILE', soft: 1024, hard: 20_000 });
    expect(capped.rlimits).toContainEqual({ type: 'RLIMIT_NPROC', soft: 65_536, hard: 65_536 });
    const tiny = buildProcess({ ...input().process, hostRlimits: { RLIMIT_NOFILE: 512 } });
    expect(tiny.rlimits).toContainEqual({ type: 'RLIMIT_NOFILE', soft: 512, hard: 512 });
    expect(buildProcess(input().process).rlimits).toBeUndefined();
  });

  it('is pure: same input, same output, input untouched', () => {
    const given = input();
    const copy = structuredClone(given);
    expect(buildSpec(given)).toEqual(buildSpec(given));
    expect(given).toEqual(copy);
  });
});

describe('the seccomp profile', () => {
  it('allows by default and refuses the dangerous syscalls with EPERM', () => {
    const profile = buildSpec(input()).linux.seccomp!;
    expect(profile.defaultAction).toBe('SCMP_ACT_ALLOW');
    const denied = profile.syscalls[0]!;
    expect(denied).toMatchObject({ action: 'SCMP_ACT_ERRNO', errnoRet: 1 });
    for (const name of [
      'mount',
      'umount2',
      'fsopen',
      'move_mount',
      'open_tree',
      'pivot_root',
      'kexec_load',
    ]) {
      expect(denied.names).toContain(name);
    }
    for (const name of ['bpf', 'perf_event_open', 'keyctl', 'ptrace', 'reboot', 'userfaultfd', 'setns']) {
      expect(denied.names).toContain(name);
    }
    expect(denied.names).not.toContain('clone');
    expect(denied.names).toEqual([...DENIED_SYSCALLS]);
  });

  it('refuses unshare and clone with a CLONE_NEW* flag, one rule per flag', () => {
    const rules = defaultSeccomp().syscalls.filter((r) => r.args);
    const newUser = 0x10000000;
    expect(rules).toContainEqual({
      names: ['unshare'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: 1,
      args: [{ index: 0, value: newUser, valueTwo: newUser, op: 'SCMP_CMP_MASKED_EQ' }],
    });
    expect(rules.filter((r) => r.names[0] === 'clone')).toHaveLength(7);
  });

  it('makes clone3 fall back to clone (ENOSYS), whose flags it can read', () => {
    expect(defaultSeccomp().syscalls.at(-1)).toEqual({
      names: ['clone3'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: 38,
    });
  });

  it('can be turned off', () => {
    expect(buildSpec(input({ seccomp: false })).linux.seccomp).toBeUndefined();
  });
});

describe('parseProcLimits', () => {
  it('reads hard limits from /proc/self/limits', () => {
    const text = [
      'Limit                     Soft Limit           Hard Limit           Units     ',
      'Max processes             96365                96365                processes ',
      'Max open files            20000                20000                files     ',
      'Max core file size        0                    unlimited            bytes     ',
    ].join('\n');
    expect(parseProcLimits(text)).toEqual({ RLIMIT_NPROC: 96_365, RLIMIT_NOFILE: 20_000, RLIMIT_CORE: -1 });
  });
});
