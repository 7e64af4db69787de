// Global setup for the browser tests: the integration setup (packages, native helpers, a seeded test
// registry), chromium, and a fresh build of the site (rebuilt only when a source is newer than it).

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import integrationSetup from '../support/global-setup.ts';

const repo = join(import.meta.dirname, '..', '..');
const SOURCES = [
  'site/src',
  'site/astro.config.mjs',
  'site/public',
  'site/recordings',
  'content/lessons',
  'server/checks/schema.ts',
];

function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(s.mtimeMs, ...readdirSync(path).map((n) => newest(join(path, n))));
}

export function ensureSiteBuilt(): void {
  const built = join(repo, 'site', 'dist', 'index.html');
  const builtAt = existsSync(built) ? statSync(built).mtimeMs : 0;
  // LAYERLAB_REUSE_SITE=1 takes site/dist as it is (e.g. while lessons are half written).
  if (builtAt > 0 && process.env.LAYERLAB_REUSE_SITE === '1') return;
  if (builtAt > Math.max(...SOURCES.map((s) => newest(join(repo, s))))) return;
  execFileSync(join(repo, 'node_modules', '.bin', 'astro'), ['build', '--root', 'site'], {
    cwd: repo,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  if (!existsSync('/usr/bin/chromium')) {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'ignore' });
  }
  ensureSiteBuilt();
  return integrationSetup();
}
