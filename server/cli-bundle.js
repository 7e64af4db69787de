// Which code the `layerlab` executable loads: the esbuild bundle setup writes to dist/cli/
// (scripts/setup/bundle.ts) when its manifest still matches every input file by size and mtime, else
// the TypeScript sources. Plain JavaScript, so deciding costs no TypeScript loading (~1 ms of stats).
import { readFileSync, statSync, watch } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Keep in step with BUNDLE_FORMAT in scripts/setup/bundle.ts. */
export const BUNDLE_FORMAT = 2;

/**
 * The module to import for the CLI: `{ url, bundle: true }` for a fresh bundle in `dir`, else the
 * sources' server/cli.ts with `stale` saying why the bundle was not taken.
 * @param {string} repoRoot
 * @param {string} [dir]
 * @returns {{ url: string, bundle: boolean, stale?: string }}
 */
export function cliModule(repoRoot, dir = join(repoRoot, 'dist', 'cli')) {
  const sources = (stale) => ({
    url: pathToFileURL(join(repoRoot, 'server', 'cli.ts')).href,
    bundle: false,
    stale,
  });
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  } catch {
    return sources('no bundle');
  }
  if (manifest?.format !== BUNDLE_FORMAT || typeof manifest.entry !== 'string' || !manifest.inputs) {
    return sources('bundle of another format');
  }
  for (const [input, recorded] of Object.entries(manifest.inputs)) {
    let st;
    try {
      st = statSync(join(repoRoot, input));
    } catch {
      return sources(`${input} is gone`);
    }
    if (!Array.isArray(recorded) || st.size !== recorded[0] || st.mtimeMs !== recorded[1]) {
      return sources(`${input} changed`);
    }
  }
  return { url: pathToFileURL(join(dir, manifest.entry)).href, bundle: true };
}

/**
 * Calls `onChange` whenever something changes in the bundle's directory or in a directory holding
 * one of its inputs (inotify, no polling), so a resident process (engine/daemon/) need recheck
 * `cliModule` only then instead of stat-ing every input per command. Returns a function that stops
 * watching. Where a directory cannot be watched, `onChange` is called at once: the caller then
 * rechecks every time, which stays correct.
 * @param {string} repoRoot
 * @param {() => void} onChange
 * @param {string} [dir]
 * @returns {() => void}
 */
export function watchBundleInputs(repoRoot, onChange, dir = join(repoRoot, 'dist', 'cli')) {
  const dirs = new Set([dir]);
  try {
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    for (const input of Object.keys(manifest?.inputs ?? {})) dirs.add(dirname(join(repoRoot, input)));
  } catch {
    // no manifest: watching the bundle's directory tells when one appears
  }
  const watchers = [];
  for (const path of dirs) {
    try {
      const watcher = watch(path, { persistent: false }, () => onChange());
      watcher.on('error', () => onChange());
      watchers.push(watcher);
    } catch {
      onChange();
    }
  }
  return () => {
    for (const watcher of watchers) watcher.close();
  };
}
