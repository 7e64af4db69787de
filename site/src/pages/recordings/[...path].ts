// Serves the recordings in site/recordings/<lesson>/<terminal>.json as static files of the build,
// so a copy of the site without an engine can still replay every terminal.

import { readFileSync } from 'node:fs';
import type { APIRoute, GetStaticPaths } from 'astro';
import { listRecordings } from '../../recordings.ts';

export const getStaticPaths = (() =>
  listRecordings().map(({ path, file }) => ({ params: { path }, props: { file } }))) satisfies GetStaticPaths;

export const GET: APIRoute = ({ props }) =>
  new Response(readFileSync((props as { file: string }).file), {
    headers: { 'content-type': 'application/json' },
  });
