// Builds the OCI runtime config (bundle/config.json) for one container: a pure function from what the
// engine knows (rootfs, process, limits, id ranges) to the sandbox crun/runc sets up. No I/O here.

/** The subset of the OCI runtime spec (v1.0.2) Layerlab writes. */
export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly?: boolean };
  hostname: string;
  mounts: OciMount[];
  linux: OciLinux;
  annotations?: Record<string, string>;
}

export interface OciProcess {
  terminal: boolean;
  consoleSize?: { height: number; width: number };
  user: { uid: number; gid: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: {
    bounding: string[];
    effective: string[];
    permitted: string[];
    inheritable: string[];
    ambient: string[];
  };
  rlimits?: OciRlimit[];
  noNewPrivileges?: boolean;
}

export interface OciRlimit {
  type: string;
  soft: number;
  hard: number;
}

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface OciLinux {
  uidMappings: OciIdMapping[];
  gidMappings: OciIdMapping[];
  namespaces: { type: 'pid' | 'network' | 'ipc' | 'uts' | 'mount' | 'user' | 'cgroup'; path?: string }[];
  cgroupsPath: string;
  resources: {
    memory?: { limit: number; swap: number };
    pids?: { limit: number };
    cpu?: { quota: number; period: number };
    devices?: { allow: boolean; access?: string }[];
  };
  maskedPaths: string[];
  readonlyPaths: string[];
  seccomp?: OciSeccomp;
}

export interface OciSeccomp {
  defaultAction: string;
  architectures?: string[];
  syscalls: { names: string[]; action: string; errnoRet?: number; args?: OciSeccompArg[] }[];
}

export interface OciSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

/** What the caller (the container module) decides; everything else is Layerlab's sandbox policy. */
export interface ProcessInput {
  args: string[];
  env: string[];
  cwd: string;
  /** Numeric ids inside the container; resolving `User` through /etc/passwd is the caller's job. */
  uid: number;
  gid: number;
  additionalGids?: number[];
  terminal: boolean;
  /** Initial terminal size, when terminal. */
  rows?: number;
  cols?: number;
  /** The host's hard limits, from `readHostRlimits()`; the container never asks for more. */
  hostRlimits?: HostRlimits;
}

export interface SpecInput {
  /** Full container id; the hostname is its first 12 characters unless `hostname` is set. */
  id: string;
  /** Absolute path of the mounted rootfs (the overlay's merged dir). */
  rootfs: string;
  process: ProcessInput;
  hostname?: string;
  /** Container id 0 maps to host id `base`, for `size` ids (config.usernsBase/usernsSize). */
  userns: { base: number; size: number };
  limits: { memoryBytes: number; pids: number; cpus: number };
  /** Deny-list seccomp profile; on unless explicitly false (used to measure its cost). */
  seccomp?: boolean;
  readonlyRootfs?: boolean;
  /**
   * Generated /etc/hosts, /etc/resolv.conf and /etc/hostname bind-mounted over the image's, writable
   * unless the rootfs is read-only, as Docker mounts them (moby daemon/container/container_unix.go,
   * `NetworkMounts`).
   */
  etcFiles?: { hosts?: string; resolvConf?: string; hostname?: string };
  /** Extra bind mounts (host path → container path). */
  binds?: { source: string; destination: string; readonly?: boolean }[];
  annotations?: Record<string, string>;
}

/** RLIMIT hard values of the current process (`-1` = unlimited), by OCI name. */
export type HostRlimits = Partial<Record<string, number>>;

/** Docker's default capability set. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Docker's masked paths: hidden (bind of /dev/null or an empty read-only tmpfs). */
export const MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const READONLY_PATHS: readonly string[] = [
  '/proc/asound',
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

/**
 * Syscalls the container may not make (EPERM). A deny-list, not Docker's allow-list: short enough to
 * read in a lesson, and it closes what matters once a user namespace is in place — new mounts and
 * namespaces, kernel modules and kexec, bpf/perf, keyrings, tracing other processes, clocks, swap.
 */
export const DENIED_SYSCALLS: readonly string[] = [
  'mount',
  'umount',
  'umount2',
  'fsopen',
  'fsconfig',
  'fsmount',
  'fspick',
  'move_mount',
  'open_tree',
  'mount_setattr',
  'pivot_root',
  'kexec_load',
  'kexec_file_load',
  'init_module',
  'finit_module',
  'delete_module',
  'create_module',
  'bpf',
  'perf_event_open',
  'keyctl',
  'add_key',
  'request_key',
  'ptrace',
  'process_vm_readv',
  'process_vm_writev',
  'swapon',
  'swapoff',
  'reboot',
  'settimeofday',
  'stime',
  'clock_settime',
  'clock_adjtime',
  'adjtimex',
  'acct',
  'quotactl',
  'quotactl_fd',
  'open_by_handle_at',
  'name_to_handle_at',
  'userfaultfd',
  'syslog',
  'setns',
  'iopl',
  'ioperm',
  'lookup_dcookie',
  'nfsservctl',
  'uselib',
  'vm86',
  'vm86old',
];

/** CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET: no nested namespaces. */
const CLONE_NEW_FLAGS = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000];

/**
 * The seccomp profile: allow by default; EPERM for the denied syscalls, and for unshare(2)/clone(2)
 * with any CLONE_NEW* flag. SCMP_CMP_MASKED_EQ matches when (arg & mask) == value, so "any of these
 * bits" is one rule per bit. clone3 passes its flags in a struct seccomp cannot read: ENOSYS makes
 * libc fall back to clone, whose flags (argument 0) are filtered.
 */
export function defaultSeccomp(): OciSeccomp {
  const EPERM = 1;
  const ENOSYS = 38;
  const namespaceRules = CLONE_NEW_FLAGS.flatMap((flag) =>
    ['unshare', 'clone'].map((name) => ({
      names: [name],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: EPERM,
      args: [{ index: 0, value: flag, valueTwo: flag, op: 'SCMP_CMP_MASKED_EQ' }],
    })),
  );
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64'],
    syscalls: [
      { names: [...DENIED_SYSCALLS], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
      ...namespaceRules,
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    ],
  };
}

/**
 * Limits the container asks for, each capped by the host's hard limit (raising a hard limit needs
 * CAP_SYS_RESOURCE, which the engine may not have). Without host limits the process inherits the
 * runtime's own, which are within them by construction.
 */
function rlimits(host: HostRlimits | undefined): OciRlimit[] {
  if (!host) return [];
  const wanted: OciRlimit[] = [
    { type: 'RLIMIT_NOFILE', soft: 1024, hard: 1_048_576 },
    { type: 'RLIMIT_NPROC', soft: 65_536, hard: 65_536 },
  ];
  return wanted.map((limit) => {
    const hostHard = host?.[limit.type];
    if (hostHard === undefined || hostHard < 0) return limit;
    const hard = Math.min(limit.hard, hostHard);
    return { type: limit.type, soft: Math.min(limit.soft, hard), hard };
  });
}

/** The process part alone: also what `runtime exec --process` takes. */
export function buildProcess(input: ProcessInput): OciProcess {
  const caps = [...DEFAULT_CAPABILITIES];
  const process: OciProcess = {
    terminal: input.terminal,
    user: {
      uid: input.uid,
      gid: input.gid,
      ...(input.additionalGids && input.additionalGids.length > 0
        ? { additionalGids: [...input.additionalGids] }
        : {}),
    },
    args: [...input.args],
    env: [...input.env],
    cwd: input.cwd || '/',
    capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
    noNewPrivileges: true,
  };
  const limits = rlimits(input.hostRlimits);
  if (limits.length > 0) process.rlimits = limits;
  if (input.terminal && input.rows && input.cols) {
    process.consoleSize = { height: input.rows, width: input.cols };
  }
  return process;
}

export function buildSpec(input: SpecInput): OciSpec {
  const hostname = input.hostname ?? input.id.slice(0, 12);
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      // No gid=5: inside a user namespace only mapped ids are valid, and tty group may not exist.
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    // sysfs can be mounted because the container owns its network namespace (and user namespace).
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  ];
  const etc = input.etcFiles ?? {};
  const etcBinds: [string | undefined, string][] = [
    [etc.hosts, '/etc/hosts'],
    [etc.resolvConf, '/etc/resolv.conf'],
    [etc.hostname, '/etc/hostname'],
  ];
  for (const [source, destination] of etcBinds) {
    if (source) {
      const access = input.readonlyRootfs ? 'ro' : 'rw';
      mounts.push({ destination, type: 'bind', source, options: ['rbind', access, 'nosuid', 'nodev'] });
    }
  }
  for (const bind of input.binds ?? []) {
    mounts.push({
      destination: bind.destination,
      type: 'bind',
      source: bind.source,
      options: ['rbind', bind.readonly ? 'ro' : 'rw'],
    });
  }

  const cpuPeriod = 100_000;
  const spec: OciSpec = {
    ociVersion: '1.0.2',
    process: buildProcess(input.process),
    root: { path: input.rootfs, readonly: input.readonlyRootfs ?? false },
    hostname,
    mounts,
    linux: {
      uidMappings: [{ containerID: 0, hostID: input.userns.base, size: input.userns.size }],
      gidMappings: [{ containerID: 0, hostID: input.userns.base, size: input.userns.size }],
      namespaces: [
        { type: 'pid' },
        { type: 'network' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
        { type: 'user' },
      ],
      cgroupsPath: `/layerlab/${input.id}`,
      resources: {
        memory: { limit: input.limits.memoryBytes, swap: input.limits.memoryBytes },
        pids: { limit: input.limits.pids },
        cpu: { quota: Math.round(input.limits.cpus * cpuPeriod), period: cpuPeriod },
        devices: [{ allow: false, access: 'rwm' }],
      },
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
    },
  };
  if (input.seccomp !== false) spec.linux.seccomp = defaultSeccomp();
  if (input.annotations) spec.annotations = { ...input.annotations };
  return spec;
}

/** Parses /proc/self/limits text into hard limits by OCI name (`-1` = unlimited). Pure. */
export function parseProcLimits(text: string): HostRlimits {
  const names: Record<string, string> = {
    'Max open files': 'RLIMIT_NOFILE',
    'Max processes': 'RLIMIT_NPROC',
    'Max locked memory': 'RLIMIT_MEMLOCK',
    'Max stack size': 'RLIMIT_STACK',
    'Max core file size': 'RLIMIT_CORE',
  };
  const out: HostRlimits = {};
  for (const line of text.split('\n')) {
    for (const [label, type] of Object.entries(names)) {
      if (!line.startsWith(label)) continue;
      const fields = line.slice(label.length).trim().split(/\s+/);
      const hard = fields[1];
      if (hard === undefined) continue;
      out[type] = hard === 'unlimited' ? -1 : Number(hard);
    }
  }
  return out;
}
