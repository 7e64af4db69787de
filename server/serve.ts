// `layerlab serve` (and `npm start`): cleans what a previous run left, serves the site, API and
// WebSocket on one port, and on SIGINT/SIGTERM (or the caller's signal) disposes every session.

import { createServer, type ServerPlugin } from './app.ts';
import type { LimitsOverride } from './limits.ts';

export interface ServeOptions {
  root: string;
  port: number;
  host?: string;
  signal?: AbortSignal;
  /** Start in classroom mode with this workshop name. */
  workshop?: string;
  /** In a workshop, anonymous readers get a sandbox too (`--workshop-readers`). */
  workshopReaders?: boolean;
  /** Overrides of the default limits (`--limits FILE`). */
  limits?: LimitsOverride;
  /** URLs readers reach the server at besides loopback (`--public-url`); other hosts get 421. */
  publicUrls?: string[];
  /** Reverse proxies whose forwarding headers are believed (`--trusted-proxy`). */
  trustedProxies?: string[];
  /** The workshop's teacher password (generated when absent) and seats (default 30). */
  teacherPassword?: string;
  seats?: number;
  /** Lets a teacher start a workshop over HTTP. */
  adminPassword?: string;
  /** The bearer token `/metrics` asks for (`LAYERLAB_METRICS_TOKEN`); without it, loopback only. */
  metricsToken?: string;
  /** Where to print the address line (default stdout). */
  out?: (line: string) => void;
}

/** Loads classroom mode only when asked for, so a reader's server does not carry it. */
async function workshopPlugins(options: ServeOptions): Promise<ServerPlugin[]> {
  const { workshop: name, teacherPassword, adminPassword, seats } = options;
  if (name === undefined) return [];
  const { workshopPlugin } = await import('./workshop/plugin.ts');
  return [
    workshopPlugin({
      name,
      ...(teacherPassword !== undefined ? { teacherPassword } : {}),
      ...(adminPassword !== undefined ? { adminPassword } : {}),
      ...(seats !== undefined ? { seats } : {}),
      ...(options.workshopReaders ? { readers: true } : {}),
    }),
  ];
}

/** Serves until `signal` aborts or the process gets SIGINT/SIGTERM; resolves once shut down. */
export async function serve(options: ServeOptions): Promise<void> {
  const host = options.host ?? '127.0.0.1';
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const server = createServer({
    root: options.root,
    ...(options.workshop !== undefined ? { workshop: options.workshop } : {}),
    ...(options.limits !== undefined ? { limits: options.limits } : {}),
    publicUrls: options.publicUrls ?? [],
    trustedProxies: options.trustedProxies ?? [],
    ...(options.metricsToken !== undefined ? { metricsToken: options.metricsToken } : {}),
    plugins: await workshopPlugins(options),
  });
  await server.listen(options.port, host);
  out(`Layerlab is serving ${server.url}/`);

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  options.signal?.addEventListener('abort', onSignal, { once: true });
  if (options.signal?.aborted) stop.abort();
  try {
    await new Promise<void>((resolve) =>
      stop.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    out('Layerlab is shutting down: ending sessions…');
    await server.close();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    options.signal?.removeEventListener('abort', onSignal);
  }
}
