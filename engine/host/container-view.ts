// A running container as the host sees it: its overlay mount as the kernel reports it (lowerdir,
// upperdir, workdir, from the one mountinfo reader) and its processes with both of their names (host
// pid and uid, container pid and uid), plus the shims that parent them. What the host view picture
// draws and lesson 20 teaches; every string that comes from the container (its commands) is cut and
// made printable here, because the container writes it.

import { readlinkSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { EngineContext } from '../context.ts';
import { rootfsPaths } from '../runtime/overlay.ts';
import { containerPids, processInContainerCgroup } from './cgroups.ts';
import { decodeMountField, readMounts } from './mounts.ts';
import { namespaceIds, processInfo, shimProcess } from './processes.ts';

/** The options of an overlay mount, lowerdir split into its dirs (top first, as the kernel lists them). */
export interface OverlayOptions {
  lowerdir: string[];
  upperdir: string | undefined;
  workdir: string | undefined;
  /** Every other option (`rw`, `redirect_dir=off`, …), in the kernel's order. */
  other: string[];
}

/**
 * Parses an overlay's per-superblock options from mountinfo. The kernel escapes `,`, spaces and `\`
 * in option values as octal (`\054`), and a `:` inside one lower dir as `\:`; newer kernels may list
 * lowers one by one as `lowerdir+=`.
 */
export function parseOverlayOptions(superOptions: string): OverlayOptions {
  const out: OverlayOptions = { lowerdir: [], upperdir: undefined, workdir: undefined, other: [] };
  for (const option of superOptions.split(',')) {
    if (option === '') continue;
    const eq = option.indexOf('=');
    const key = eq === -1 ? option : option.slice(0, eq);
    const value = eq === -1 ? '' : option.slice(eq + 1);
    if (key === 'lowerdir') {
      for (const dir of value.split(/(?<!\\):/)) {
        if (dir !== '') out.lowerdir.push(decodeMountField(dir).replaceAll('\\:', ':'));
      }
    } else if (key === 'lowerdir+') out.lowerdir.push(decodeMountField(value));
    else if (key === 'upperdir') out.upperdir = decodeMountField(value);
    else if (key === 'workdir') out.workdir = decodeMountField(value);
    else out.other.push(decodeMountField(option));
  }
  return out;
}

/** One lower dir of a container's overlay: the dir, and the short link the mount named it by, if any. */
export interface OverlayLower {
  /** The directory itself (a link's target resolved). */
  dir: string;
  /** `<container dir>/l/0`: the short name the mount used when the full option string did not fit. */
  via?: string;
}

export interface ContainerOverlay {
  mountPoint: string;
  lowers: OverlayLower[];
  upper: string | undefined;
  work: string | undefined;
  other: string[];
}

/**
 * The overlay mounted on `mergedDir` (a container's `merged/`), as the kernel's mount table says;
 * undefined while the container is not running. Relative dirs (the many-layer case, mounted from
 * `containerDir` as the cwd) are resolved against `containerDir`, and each short link under its `l/`
 * (made by the engine, never by the container) is read to the layer it names.
 */
export function containerOverlay(mergedDir: string, containerDir: string): ContainerOverlay | undefined {
  const mount = readMounts().findLast((m) => m.mountPoint === mergedDir && m.fsType === 'overlay');
  if (!mount) return undefined;
  const options = parseOverlayOptions(mount.superOptions);
  const absolute = (dir: string) => (isAbsolute(dir) ? dir : join(containerDir, dir));
  const links = join(containerDir, 'l');
  const lowers = options.lowerdir.map((entry): OverlayLower => {
    const dir = absolute(entry);
    if (!dir.startsWith(`${links}/`)) return { dir };
    try {
      return { dir: readlinkSync(dir), via: dir };
    } catch {
      return { dir };
    }
  });
  return {
    mountPoint: mount.mountPoint,
    lowers,
    upper: options.upperdir === undefined ? undefined : absolute(options.upperdir),
    work: options.workdir === undefined ? undefined : absolute(options.workdir),
    other: options.other,
  };
}

/** One process of the container (or a shim parenting one), under both of its names. */
export interface ContainerProcess {
  role: 'container' | 'shim';
  hostPid: number;
  /** The parent's host pid. */
  ppid: number;
  /** Its pid in the container's pid namespace; undefined for a shim, which lives on the host. */
  containerPid: number | undefined;
  hostUid: number;
  /** The uid as the container's user namespace maps it; undefined for a shim. */
  containerUid: number | undefined;
  /** The command line, printable and cut (a shim's is only its name: its arguments are host paths). */
  command: string;
}

/** Longest command shown; the rest is cut with `…`. */
export const MAX_COMMAND = 200;

/** `text` with control characters shown as `?` (as ps does) and cut to `max` characters. */
export function printable(text: string, max = MAX_COMMAND): string {
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/**
 * The processes of running container `id` from the host: every pid in its cgroup, read from /proc
 * and kept only if it is still in that cgroup after the read (a pid that exited and was reused by
 * another process in between is dropped), and each parent outside the cgroup that is one of this
 * engine's shims for the same container under `runDir` (the root's own run dirs). Host pid order.
 */
export function containerProcesses(id: string, runDir: string): ContainerProcess[] {
  const found: ContainerProcess[] = [];
  const pids = new Set(containerPids(id));
  for (const pid of pids) {
    const info = processInfo(pid);
    const ids = namespaceIds(pid);
    if (!info || !ids || !processInContainerCgroup(pid, id)) continue;
    found.push({
      role: 'container',
      hostPid: pid,
      ppid: info.ppid,
      containerPid: ids.nsPids.at(-1),
      hostUid: ids.uid,
      containerUid: ids.containerUid,
      command: printable(info.command),
    });
  }
  const parents = new Set(found.map((p) => p.ppid).filter((ppid) => !pids.has(ppid)));
  for (const ppid of parents) {
    const shim = shimProcess(ppid);
    if (shim?.container !== id || shim.runDir === undefined) continue;
    if (shim.runDir !== runDir && !shim.runDir.startsWith(`${runDir}/`)) continue;
    const info = processInfo(ppid);
    const ids = namespaceIds(ppid);
    if (!info || !ids) continue;
    found.push({
      role: 'shim',
      hostPid: ppid,
      ppid: info.ppid,
      containerPid: undefined,
      hostUid: ids.uid,
      containerUid: undefined,
      command: 'layerlab-shim',
    });
  }
  return found.sort((a, b) => a.hostPid - b.hostPid);
}

/** The container's host view: overlay (while mounted) and processes. */
export interface ContainerHostFacts {
  overlay: ContainerOverlay | undefined;
  processes: ContainerProcess[];
}

/** Reads what the host knows of container `id`, whose directory is `containerDir`. */
export function containerHostFacts(ctx: EngineContext, id: string, containerDir: string): ContainerHostFacts {
  return {
    overlay: containerOverlay(rootfsPaths(containerDir).merged, containerDir),
    processes: containerProcesses(id, ctx.paths.run),
  };
}
