// The list of recordings, so a page asks only for the ones that exist (no 404s in the console).

import type { APIRoute } from 'astro';
import { listRecordings } from '../../recordings.ts';

export const GET: APIRoute = () =>
  new Response(JSON.stringify({ recordings: listRecordings().map((r) => r.path) }), {
    headers: { 'content-type': 'application/json' },
  });
