// Serves the built site (`site/dist`) read-only, confined to its directory; a plain placeholder
// page stands in until the site has been built.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { pipeline } from 'node:stream';
import { createGzip } from 'node:zlib';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.xml': 'application/xml',
  '.webmanifest': 'application/manifest+json',
};

/** Text worth compressing: a lesson page's CSS blocks its first paint, and xterm.js is 350 kB raw. */
const COMPRESSIBLE = /^(text\/|application\/(json|xml|manifest\+json)|image\/svg\+xml)/;

const PLACEHOLDER = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Layerlab</title></head>
<body><h1>Layerlab is running</h1>
<p>The lessons site has not been built yet. The API and WebSocket endpoint are up:
<a href="/healthz">/healthz</a>, <a href="/metrics">/metrics</a>.</p></body></html>
`;

async function fileAt(path: string): Promise<{ path: string; size: number } | undefined> {
  try {
    const s = await stat(path);
    if (s.isFile()) return { path, size: s.size };
    if (s.isDirectory()) {
      const index = join(path, 'index.html');
      const i = await stat(index);
      if (i.isFile()) return { path: index, size: i.size };
    }
  } catch {
    // not there
  }
  return undefined;
}

export async function serveStatic(siteDir: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
  } catch {
    res.writeHead(400).end();
    return;
  }
  const root = normalize(siteDir);
  const target = normalize(join(root, pathname));
  if (target !== root && !target.startsWith(root + sep)) {
    res.writeHead(404).end();
    return;
  }
  const found = (await fileAt(target)) ?? (await fileAt(`${target}.html`));
  if (!found) {
    if (pathname === '/' && !(await fileAt(root))) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : PLACEHOLDER);
      return;
    }
    const notFound = await fileAt(join(root, '404.html'));
    res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' });
    if (notFound && req.method === 'GET') createReadStream(notFound.path).pipe(res);
    else res.end('Not found\n');
    return;
  }
  const type = TYPES[extname(found.path)] ?? 'application/octet-stream';
  const compressible = COMPRESSIBLE.test(type) && found.size > 1024;
  const gzip = compressible && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  res.writeHead(200, {
    'content-type': type,
    ...(gzip ? { 'content-encoding': 'gzip' } : { 'content-length': found.size }),
    ...(compressible ? { vary: 'accept-encoding' } : {}),
    // Astro's hashed assets never change; pages do.
    'cache-control': pathname.startsWith('/_astro/') ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  if (req.method === 'HEAD') res.end();
  else if (gzip) pipeline(createReadStream(found.path), createGzip(), res, () => {});
  else createReadStream(found.path).pipe(res);
}
