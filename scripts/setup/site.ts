// Builds the Astro site into site/dist when any of its sources is newer than the last build, so
// `npm start` and the browser tests serve what the lessons say now without rebuilding every time.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const SOURCES = [
  'site/src',
  'site/astro.config.mjs',
  'site/public',
  'site/recordings',
  'content/lessons',
  'content/lesson-checks.ts',
  'server/checks/schema.ts',
  'server/reset',
];

function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(s.mtimeMs, ...readdirSync(path).map((n) => newest(join(path, n))));
}

/** Returns whether it built (false when site/dist was already newer than every source). */
export function ensureSiteBuilt(repoRoot: string, options: { quiet?: boolean } = {}): boolean {
  const built = join(repoRoot, 'site', 'dist', 'index.html');
  const builtAt = existsSync(built) ? statSync(built).mtimeMs : 0;
  // LAYERLAB_REUSE_SITE=1 takes site/dist as it is (e.g. while lessons are half written).
  if (builtAt > 0 && process.env.LAYERLAB_REUSE_SITE === '1') return false;
  if (builtAt > Math.max(...SOURCES.map((s) => newest(join(repoRoot, s))))) return false;
  execFileSync(join(repoRoot, 'node_modules', '.bin', 'astro'), ['build', '--root', 'site'], {
    cwd: repoRoot,
    stdio: ['ignore', options.quiet ? 'ignore' : 'inherit', 'inherit'],
  });
  return true;
}
