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
