// `layerlab serve` (and `npm start`): cleans what a previous run left, serves the site, API and
// WebSocket on one port, and on SIGINT/SIGTERM (or the caller's signal) disposes every session.

import { createServer, type LayerlabServer, type ServerPlugin } from './app.ts';
import { parseClusterUrl, shownUrl } from './cluster/address.ts';
import type { RedisCluster } from './cluster/redis-cluster.ts';
import type { LimitsOverride } from './limits.ts';
import type { WorkshopService } from './workshop/service.ts';

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
  /** `--cluster redis://HOST:PORT --node-id NAME`: one node of a cluster sharing its classrooms. */
  cluster?: { url: string; node: string };
  /** In a cluster, how long a node asked to stop keeps serving while it drains (default 10 s). */
  drainSeconds?: number;
}

/** What a draining node's students read until they are moved. */
const DRAIN_NOTICE =
  'This machine is being taken down for maintenance: in a few seconds you will be moved to another one. Your progress comes along; your containers do not.';

/**
 * Loads classroom mode only when asked for, so a reader's server does not carry it. A cluster node
 * always has it: a teacher may start a workshop on any node, and students are re-seated on any node.
 */
async function workshopPlugins(
  options: ServeOptions,
  cluster: RedisCluster | undefined,
  onReady: (service: WorkshopService) => void,
): Promise<ServerPlugin[]> {
  const { workshop: name, teacherPassword, adminPassword, seats } = options;
  if (name === undefined && cluster === undefined) return [];
  const { workshopPlugin } = await import('./workshop/plugin.ts');
  return [
    workshopPlugin({
      ...(name !== undefined ? { name } : {}),
      ...(cluster ? { cluster, store: cluster.store } : {}),
      onReady,
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
  let server: LayerlabServer | undefined;
  let service: WorkshopService | undefined;
  // Loaded only for a cluster: the Redis client is not part of every server's start-up.
  const cluster = options.cluster
    ? await (await import('./cluster/redis-cluster.ts')).RedisCluster.join({
        url: options.cluster.url,
        node: options.cluster.node,
        // Before the server exists the node says it has no room.
        capacity: () => server?.room() ?? { sessions: 0, maxSessions: 0, free: 0 },
        log: (message) => process.stderr.write(`layerlab: ${message}\n`),
      })
    : undefined;
  if (cluster && options.cluster)
    out(
      `Layerlab node ${cluster.node} joined the cluster at ${shownUrl(parseClusterUrl(options.cluster.url))}`,
    );
  server = createServer({
    root: options.root,
    ...(options.workshop !== undefined ? { workshop: options.workshop } : {}),
    ...(options.limits !== undefined ? { limits: options.limits } : {}),
    publicUrls: options.publicUrls ?? [],
    trustedProxies: options.trustedProxies ?? [],
    ...(options.metricsToken !== undefined ? { metricsToken: options.metricsToken } : {}),
    plugins: await workshopPlugins(options, cluster, (s) => {
      service = s;
    }),
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
    if (cluster) {
      // Draining: no one new comes here, the students here are told, and after a moment the node
      // leaves the cluster and closes their sockets; their pages reconnect and are re-seated elsewhere.
      const seconds = options.drainSeconds ?? 10;
      out(`Layerlab node ${cluster.node} is draining for ${seconds} s before it stops…`);
      cluster.drain();
      service?.setNotice(DRAIN_NOTICE);
      await drained(server, seconds * 1000);
      await cluster.close();
    }
    out('Layerlab is shutting down: ending sessions…');
    await server.close();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    options.signal?.removeEventListener('abort', onSignal);
  }
}

/** Resolves once the node has no session left, or after `ms` (a second signal stops waiting). */
function drained(server: LayerlabServer, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearInterval(poll);
      clearTimeout(timer);
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    const poll = setInterval(() => {
      if (server.sessions.count === 0) done();
    }, 250);
    const timer = setTimeout(done, ms);
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}
