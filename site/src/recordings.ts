// The recordings made by scripts/record.ts, found at build time in site/recordings/.

import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export const RECORDINGS_DIR = join(process.cwd(), process.cwd().endsWith('site') ? '' : 'site', 'recordings');

function walk(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? walk(full) : name.endsWith('.json') ? [full] : [];
  });
}

/** `[{ path: 'index/main.json', file: '/abs/…' }]` */
export function listRecordings(): { path: string; file: string }[] {
  return walk(RECORDINGS_DIR).map((file) => ({ path: relative(RECORDINGS_DIR, file), file }));
}
