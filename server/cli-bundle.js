// Which code the `layerlab` executable loads: the esbuild bundle setup writes to dist/cli/
// (scripts/setup/bundle.ts) when its manifest still matches every input file by size and mtime, else
// the TypeScript sources. Plain JavaScript, so deciding costs no TypeScript loading (~1 ms of stats).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
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
