// What `--cluster` and `--node-id` may be, checked before anything connects: kept apart from the
// Redis client so the CLI's start-up does not load it.

/** The cluster's address or node id is unusable, or Redis cannot be reached. */
export class ClusterError extends Error {
  readonly input: string;
  constructor(message: string, input: string) {
    super(message);
    this.name = 'ClusterError';
    this.input = input;
  }
}

/** Checks `--cluster`: a redis:// or rediss:// URL. Errors never repeat a password it may hold. */
export function parseClusterUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ClusterError(`--cluster: not a URL; expected redis://HOST:PORT`, '');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ClusterError(
      `--cluster: unsupported scheme "${url.protocol}"; expected redis://HOST:PORT or rediss://HOST:PORT`,
      url.protocol,
    );
  }
  if (url.hostname === '') throw new ClusterError('--cluster: the URL names no host', '');
  return url;
}

/** Checks `--node-id`: what HAProxy and Kubernetes accept as a server or pod name. */
export function checkNodeId(id: string): string {
  if (!/^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/.test(id)) {
    throw new ClusterError(
      `--node-id: invalid node id "${id.slice(0, 80)}": use 1-63 lowercase letters, digits, dots and dashes (a pod name)`,
      id,
    );
  }
  return id;
}

/** The URL with its password hidden, for messages. */
export function shownUrl(url: URL): string {
  return `${url.protocol}//${url.hostname}${url.port ? `:${url.port}` : ''}`;
}
