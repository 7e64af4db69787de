// The engine's one way to find processes on the host: live `layerlab-shim` monitors (by their command
// line, so a shim whose pid file is lost is still found) and whether a process has exited.

import { readdirSync, readFileSync } from 'node:fs';

/** A live container monitor: its pid, the container it serves (`-i`) and its run dir (`-r`). */
export interface ShimProcess {
  readonly pid: number;
  readonly container: string | undefined;
  readonly runDir: string | undefined;
}

function commandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined; // exited, or never was
  }
}

/** The shim behind `pid`, when `pid` is a live layerlab-shim. */
export function shimProcess(pid: number): ShimProcess | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  const argv = commandLine(pid);
  if (!argv?.[0]?.endsWith('layerlab-shim') || processExited(pid)) return undefined;
  const flag = (name: string) => {
    const i = argv.indexOf(name);
    return i === -1 ? undefined : argv[i + 1];
  };
  return { pid, container: flag('-i'), runDir: flag('-r') };
}

/** Live shims whose run dir is `runDir` itself or under it (a session's or a root's `paths.run`). */
export function shimProcessesUnder(runDir: string): ShimProcess[] {
  const found: ShimProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const shim = shimProcess(Number(entry));
    if (shim?.runDir !== undefined && (shim.runDir === runDir || shim.runDir.startsWith(`${runDir}/`)))
      found.push(shim);
  }
  return found;
}

/** Gone, or a zombie waiting for its parent to reap it: either way it runs nothing any more. */
export function processExited(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** What `docker top` shows of one host process (ps -ef's columns), read from /proc. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  uid: number;
  /** Start time in ms since the epoch. */
  startedAt: number;
  /** CPU time (user + system) in seconds. */
  cpuSeconds: number;
  tty: string;
  command: string;
}

/** Reads /proc/<pid>; undefined when the process is gone. */
export function processInfo(pid: number): ProcessInfo | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    const ticks = 100; // USER_HZ on Linux
    const bootMs = bootTime() * 1000;
    const argv = commandLine(pid)?.filter((a, i, all) => a !== '' || i < all.length - 1) ?? [];
    const ttyNr = Number(fields[4]);
    const major = (ttyNr >> 8) & 0xfff;
    const minor = (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00);
    return {
      pid,
      ppid: Number(fields[1]),
      uid,
      startedAt: bootMs + (Number(fields[19]) / ticks) * 1000,
      cpuSeconds: (Number(fields[11]) + Number(fields[12])) / ticks,
      tty: ttyNr === 0 ? '?' : major === 136 ? `pts/${minor}` : `tty${minor}`,
      command: argv.length > 0 && argv.join('') !== '' ? argv.join(' ').trim() : `[${comm}]`,
    };
  } catch {
    return undefined;
  }
}

function bootTime(): number {
  const stat = readFileSync('/proc/stat', 'utf8');
  return Number(/^btime (\d+)/m.exec(stat)?.[1] ?? 0);
}

/** One line of a user namespace's uid_map: `count` ids from `inside` are host ids from `outside`. */
export interface IdMapping {
  inside: number;
  outside: number;
  count: number;
}

/** Parses /proc/<pid>/uid_map (`inside outside count` per line). */
export function parseIdMap(text: string): IdMapping[] {
  const out: IdMapping[] = [];
  for (const line of text.split('\n')) {
    const [inside, outside, count] = line.trim().split(/\s+/).map(Number);
    if ([inside, outside, count].every((n) => Number.isSafeInteger(n) && n! >= 0)) {
      out.push({ inside: inside!, outside: outside!, count: count! });
    }
  }
  return out;
}

/** The id inside the namespace that host id `outside` is, or undefined when the map leaves it out. */
export function mapInside(map: readonly IdMapping[], outside: number): number | undefined {
  const line = map.find((m) => outside >= m.outside && outside < m.outside + m.count);
  return line === undefined ? undefined : outside - line.outside + line.inside;
}

/** A process's ids in the host's namespaces and in its own. */
export interface NamespaceIds {
  /** Its pid in each pid namespace it is in, the host's first and its own last (`NSpid:`). */
  nsPids: number[];
  /** Its real uid on the host. */
  uid: number;
  /** That uid as its user namespace names it; undefined when the namespace does not map it. */
  containerUid: number | undefined;
}

/** Reads `NSpid`, `Uid` and the user namespace's uid_map of `pid`; undefined when it is gone. */
export function namespaceIds(pid: number): NamespaceIds | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    const nsPids = (/^NSpid:\s+([\d\s]+)$/m.exec(status)?.[1] ?? String(pid)).trim().split(/\s+/).map(Number);
    if (!Number.isSafeInteger(uid) || !nsPids.every(Number.isSafeInteger)) return undefined;
    const map = parseIdMap(readFileSync(`/proc/${pid}/uid_map`, 'utf8'));
    return { nsPids, uid, containerUid: mapInside(map, uid) };
  } catch {
    return undefined;
  }
}
