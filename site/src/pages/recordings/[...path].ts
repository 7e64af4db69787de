// Serves the recordings in site/recordings/<lesson>/<terminal>.json as static files of the build,
// so a copy of the site without an engine can still replay every terminal.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { APIRoute, GetStaticPaths } from 'astro';

const DIR = join(process.cwd(), process.cwd().endsWith('site') ? '' : 'site', 'recordings');

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

export const getStaticPaths = (() =>
  walk(DIR).map((file) => ({ params: { path: relative(DIR, file) }, props: { file } }))) satisfies GetStaticPaths;

export const GET: APIRoute = ({ props }) =>
  new Response(readFileSync((props as { file: string }).file), {
    headers: { 'content-type': 'application/json' },
  });
