// Finding the runtime executables, and the two caches detect.ts keeps in a root's run dir: each
// binary's version by its identity (`runtime-versions.json`) and the runtimes proven to run a
// container (`runtime.json`). No libc bindings here, so a short command (`version`) can ask what
// detection already found on this root without loading koffi or preparing the host.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RuntimeChoice } from '../config-defaults.ts';

export type RuntimeName = 'crun' | 'runc';

export interface RuntimeInfo {
  name: RuntimeName;
  path: string;
  version: string;
}

export const VERSIONS_FILE = 'runtime-versions.json';
export const VERDICTS_FILE = 'runtime.json';

const SEARCH_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SEARCH_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** The runtimes `choice` allows, in the order detection tries them. */
export function wantedRuntimes(choice: RuntimeChoice): RuntimeName[] {
  return choice === 'auto' ? ['crun', 'runc'] : [choice];
}

/** What a cached version is keyed by: the executable's device, inode, size, mtime and ctime. */
export function executableIdentity(path: string): string {
  const st = statSync(path);
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

export type VersionCache = Record<string, { identity: string; version: string }>;
export type VerdictCache = Record<string, { ok: true; checkedAt: string }>;

/** A cache file's object, or an empty one when it is missing or unreadable (it is only a cache). */
export function readCache<T extends object>(runDir: string, file: string): Partial<T> {
  try {
    const value: unknown = JSON.parse(readFileSync(join(runDir, file), 'utf8'));
    return typeof value === 'object' && value !== null ? (value as Partial<T>) : {};
  } catch {
    return {};
  }
}

/** The verdict's key: a runtime is proven per binary path and version. */
export function verdictKey(path: string, version: string): string {
  return `${path}@${version}`;
}

/**
 * The runtime detection would pick on this root, when its caches already say so: the first wanted
 * runtime found on the PATH whose version is cached for this very binary and which has passed the
 * probe. Undefined when detection has something left to do (then run it: detectRuntime).
 */
export function knownRuntime(runDir: string, choice: RuntimeChoice): RuntimeInfo | undefined {
  const versions = readCache<VersionCache>(runDir, VERSIONS_FILE);
  const verdicts = readCache<VerdictCache>(runDir, VERDICTS_FILE);
  for (const name of wantedRuntimes(choice)) {
    const path = findExecutable(name);
    if (!path) continue; // detection skips it too
    const hit = Object.hasOwn(versions, path) ? versions[path] : undefined;
    let identity: string;
    try {
      identity = executableIdentity(path);
    } catch {
      return undefined;
    }
    if (hit?.identity !== identity || typeof hit.version !== 'string') return undefined;
    const key = verdictKey(path, hit.version);
    if (!(Object.hasOwn(verdicts, key) && verdicts[key]?.ok === true)) return undefined;
    return { name, path, version: hit.version };
  }
  return undefined;
}
