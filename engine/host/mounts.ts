// The engine's one reader of the kernel's mount table (/proc/self/mountinfo): mount points under a
// directory, whether a path is a mount point, and the lower dirs of mounted overlays; and the
// size-capped tmpfs a named volume's data lives on where volumes have a cap (a server session).

import { readFileSync } from 'node:fs';
import { MNT, MS, mount, umount2 } from '../sys/libc.ts';

/** One line of /proc/self/mountinfo, with the kernel's octal escapes (`\040` for a space) decoded. */
export interface MountEntry {
  readonly mountPoint: string;
  readonly fsType: string;
  readonly source: string;
  /** Per-mount options (`rw,nosuid,…`). */
  readonly options: string;
  /** Per-superblock options (`lowerdir=…,upperdir=…` for an overlay). */
  readonly superOptions: string;
}

/** Decodes mountinfo's escapes of space, tab, newline and backslash (`\ooo`). */
export function decodeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/**
 * Parses mountinfo text: `id parent major:minor root mountpoint options [optional…] - fstype source
 * superoptions`. The optional fields vary in number, so the fields after `-` are found by the separator.
 */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (fields.length < 7 || dash === -1) continue;
    entries.push({
      mountPoint: decodeMountField(fields[4]!),
      options: fields[5]!,
      fsType: fields[dash + 1] ?? '',
      source: decodeMountField(fields[dash + 2] ?? ''),
      superOptions: fields[dash + 3] ?? '',
    });
  }
  return entries;
}

/** The current mount table of this process's mount namespace; empty when /proc is unreadable. */
export function readMounts(): MountEntry[] {
  try {
    return parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'));
  } catch {
    return [];
  }
}

/** Mount points at or under `dir`, deepest first (the order to unmount them in). */
export function mountsUnder(dir: string): string[] {
  return readMounts()
    .map((m) => m.mountPoint)
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** Whether something is mounted on `path` itself. */
export function isMountPoint(path: string): boolean {
  return readMounts().some((m) => m.mountPoint === path);
}

/** Lower dirs of every mounted overlay, as the kernel reports them (a container mid-teardown). */
export function overlayLowerDirs(): Set<string> {
  const dirs = new Set<string>();
  for (const mount of readMounts()) {
    if (mount.fsType !== 'overlay') continue;
    const match = /(?:^|,)lowerdir=([^,]+)/.exec(mount.superOptions);
    if (!match) continue;
    // Overlay separates lower dirs with ':'; a literal ':' in a path is escaped as '\:'.
    for (const dir of match[1]!.split(/(?<!\\):/)) dirs.add(decodeMountField(dir).replaceAll('\\:', ':'));
  }
  return dirs;
}

/**
 * Mounts a tmpfs of `sizeBytes` on `dir` (unless something is mounted there already), its root owned
 * by `owner` (container root's host id) with mode 0755, as a new volume's `_data` is. Inodes are
 * capped too: empty files cost kernel memory the size cap never counts.
 */
export function mountSizedTmpfs(dir: string, sizeBytes: number, owner: number): void {
  if (isMountPoint(dir)) return;
  const inodes = Math.max(4096, Math.floor(sizeBytes / 4096));
  mount(
    'tmpfs',
    dir,
    'tmpfs',
    MS.NOSUID | MS.NODEV,
    `size=${sizeBytes},nr_inodes=${inodes},mode=0755,uid=${owner},gid=${owner}`,
  );
}

/** Unmounts whatever is mounted on `dir` (a volume's tmpfs), lazily if it is still busy. */
export function unmountIfMounted(dir: string): void {
  if (!isMountPoint(dir)) return;
  try {
    umount2(dir, 0);
  } catch {
    umount2(dir, MNT.DETACH);
  }
}
