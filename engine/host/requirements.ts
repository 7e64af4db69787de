// What the host must give the engine before a server can run anyone's container: probed once at
// start (`probeHost`), then worded by a pure function as one sentence per missing thing with the fix.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { findExecutable } from '../runtime/runtime-cache.ts';
import { type MountEntry, readMounts } from './mounts.ts';

/** The facts `hostProblems` judges; every field is read from the kernel or the filesystem. */
export interface HostProbe {
  platform: NodeJS.Platform;
  /** This process's uid; undefined where the platform has none. */
  uid: number | undefined;
  /** CAP_SYS_ADMIN in the effective set: overlay and tmpfs mounts and the runtime's namespaces need it. */
  sysAdmin: boolean;
  /** overlayfs listed in /proc/filesystems (a container cannot load the module itself). */
  overlayfs: boolean;
  /** Whether a user namespace could be created, and the refusal when not. */
  userNamespaces: { ok: true } | { ok: false; reason: string };
  /** The cgroup mounts under /sys/fs/cgroup: none, all read-only, or at least one writable. */
  cgroups: 'missing' | 'read-only' | 'writable';
  /** The AppArmor profile confining this process when it is one that forbids mounts (docker-default). */
  apparmor: string | undefined;
  /** crun or runc, whichever is found first. */
  runtime: string | undefined;
  /** The static busybox the runtime check runs (engine/runtime/detect.ts probe). */
  busybox: boolean;
  /** Running inside a container (Docker's /.dockerenv, Podman's /run/.containerenv): the fixes are flags. */
  inContainer: boolean;
}

/** Thrown when the host lacks something; `problems` are the sentences, `input` names what was missing. */
export class HostRequirementsError extends Error {
  readonly problems: readonly string[];
  readonly input: string;
  constructor(problems: readonly string[], missing: readonly string[]) {
    super(`This host cannot run Layerlab's containers:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'HostRequirementsError';
    this.problems = problems;
    this.input = missing.join(',');
  }
}

const CAP_SYS_ADMIN = 21n;
/** Docker's and Podman's default AppArmor profiles deny mount(2) even with CAP_SYS_ADMIN. */
const MOUNT_DENYING_PROFILE = /^(docker-default|containers-default-[\d.]+) \(enforce\)$/;

/** CAP_SYS_ADMIN in `CapEff` of /proc/self/status text. */
export function hasSysAdmin(status: string): boolean {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return hex !== undefined && ((BigInt(`0x${hex}`) >> CAP_SYS_ADMIN) & 1n) === 1n;
}

/** The state of the cgroup mounts at and under /sys/fs/cgroup (v1 hierarchies or the v2 tree). */
export function cgroupState(mounts: readonly MountEntry[]): HostProbe['cgroups'] {
  const cgroups = mounts.filter(
    (m) =>
      (m.fsType === 'cgroup' || m.fsType === 'cgroup2') &&
      (m.mountPoint === '/sys/fs/cgroup' || m.mountPoint.startsWith('/sys/fs/cgroup/')),
  );
  if (cgroups.length === 0) return 'missing';
  return cgroups.some((m) => m.options.split(',').includes('rw')) ? 'writable' : 'read-only';
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** `unshare --user true`: the real question (seccomp, sysctls and nesting limits all answer it). */
function probeUserNamespaces(): HostProbe['userNamespaces'] {
  const unshare = findExecutable('unshare');
  if (!unshare) {
    // No util-linux: the sysctl is the next best answer.
    const max = Number(read('/proc/sys/user/max_user_namespaces').trim());
    return max > 0 ? { ok: true } : { ok: false, reason: 'user.max_user_namespaces is 0' };
  }
  const result = spawnSync(unshare, ['--user', 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (result.status === 0) return { ok: true };
  const reason = (result.stderr ?? '').trim().split('\n')[0] || `unshare exited with ${result.status}`;
  return { ok: false, reason };
}

/** Reads the facts; cheap (a few /proc reads and one `unshare`), so it runs on every start. */
export function probeHost(): HostProbe {
  const profile = read('/proc/self/attr/current').replace(/\0/g, '').trim();
  return {
    platform: process.platform,
    uid: process.getuid?.(),
    sysAdmin: hasSysAdmin(read('/proc/self/status')),
    overlayfs: /\toverlay$/m.test(read('/proc/filesystems')),
    userNamespaces: probeUserNamespaces(),
    cgroups: cgroupState(readMounts()),
    apparmor: MOUNT_DENYING_PROFILE.test(profile) ? profile : undefined,
    runtime: findExecutable('crun') ?? findExecutable('runc'),
    busybox: existsSync('/bin/busybox') || findExecutable('busybox') !== undefined,
    inContainer: existsSync('/.dockerenv') || existsSync('/run/.containerenv'),
  };
}

/** One problem: which requirement (for the error's `input`) and its sentence. */
interface Problem {
  missing: string;
  sentence: string;
}

/**
 * One sentence per requirement the probe found missing, each ending with what to do: in a container
 * the flag to start it with, on a host the command to run. Empty when the host has everything.
 */
export function hostProblems(probe: HostProbe): Problem[] {
  if (probe.platform !== 'linux') {
    return [
      {
        missing: 'linux',
        sentence: `Layerlab needs Linux (overlayfs, namespaces, cgroups) and this is ${probe.platform}: run it in a Linux VM or a privileged Linux container.`,
      },
    ];
  }
  const privileged = probe.inContainer
    ? 'start the container with --privileged'
    : 'run it as root with every capability (not under a service manager or sandbox that drops some)';
  const problems: Problem[] = [];
  if (probe.uid !== 0) {
    problems.push({
      missing: 'root',
      sentence: `It runs as uid ${probe.uid ?? 'unknown'}, but mounting layers and starting containers need root: ${probe.inContainer ? 'start the container as root (no --user)' : 'run it as root (for example with sudo)'}.`,
    });
  }
  if (probe.uid === 0 && !probe.sysAdmin) {
    problems.push({
      missing: 'CAP_SYS_ADMIN',
      sentence: `It lacks CAP_SYS_ADMIN, which overlay and tmpfs mounts and new namespaces need: ${privileged}${probe.inContainer ? ' (or, where that cannot be used, --cap-add ALL --security-opt seccomp=unconfined --security-opt apparmor=unconfined --security-opt systempaths=unconfined)' : ''}.`,
    });
  }
  if (probe.apparmor !== undefined) {
    problems.push({
      missing: 'apparmor',
      sentence: `The AppArmor profile ${probe.apparmor} forbids the mounts every container needs: ${probe.inContainer ? 'start the container with --privileged or --security-opt apparmor=unconfined' : 'run it unconfined'}.`,
    });
  }
  if (!probe.userNamespaces.ok) {
    const fix = probe.inContainer
      ? 'start the container with --privileged (and if it still fails, allow them on the host: '
      : 'allow them (';
    problems.push({
      missing: 'user-namespaces',
      sentence: `It cannot create a user namespace (${probe.userNamespaces.reason}), and every container gets one so that its root owns nothing on the host: ${fix}sysctl user.max_user_namespaces=15000, and kernel.unprivileged_userns_clone=1 where it exists).`,
    });
  }
  if (probe.cgroups !== 'writable') {
    problems.push({
      missing: 'cgroups',
      sentence:
        probe.cgroups === 'missing'
          ? `No cgroup hierarchy is mounted at /sys/fs/cgroup, so containers could get no memory, pids or CPU limits: ${probe.inContainer ? 'start the container with --privileged' : 'mount cgroup2 at /sys/fs/cgroup'}.`
          : `/sys/fs/cgroup is mounted read-only, so containers could get no memory, pids or CPU limits: ${probe.inContainer ? "start the container with --privileged (or give it the host's tree read-write: --volume /sys/fs/cgroup:/sys/fs/cgroup)" : 'remount it read-write'}.`,
    });
  }
  if (!probe.overlayfs) {
    problems.push({
      missing: 'overlayfs',
      sentence: `The kernel has no overlayfs loaded, and image layers are mounted with it: run \`modprobe overlay\` on the ${probe.inContainer ? 'host (a container cannot load kernel modules)' : 'host'}.`,
    });
  }
  if (probe.runtime === undefined) {
    problems.push({
      missing: 'runtime',
      sentence: 'Neither crun nor runc is on the PATH: install one (apt-get install crun).',
    });
  }
  if (!probe.busybox) {
    problems.push({
      missing: 'busybox',
      sentence:
        'There is no static busybox to check the runtime with: install it (apt-get install busybox-static).',
    });
  }
  return problems;
}

/** Throws a `HostRequirementsError` listing every missing requirement; returns when there is none. */
export function requireHost(probe: HostProbe = probeHost()): void {
  const problems = hostProblems(probe);
  if (problems.length > 0) {
    throw new HostRequirementsError(
      problems.map((p) => p.sentence),
      problems.map((p) => p.missing),
    );
  }
}
