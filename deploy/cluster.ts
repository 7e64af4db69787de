// The one source of truth for a Layerlab cluster: node names and addresses, the routing cookies, the
// probe paths, the registry allow-list, and the HAProxy configs of the router and the registry gate.
// deploy/render.ts writes the checked-in files from it; the tests compare them with a fresh render.

import { InvalidArgumentError } from '../engine/errors.ts';
import { LESSON_IMAGES } from '../engine/seed.ts';
import { NODE_COOKIE, NODE_PARAM } from '../server/cluster/cookies.ts';
import { SESSION_COOKIE } from '../server/http/router.ts';

export { NODE_COOKIE, NODE_PARAM, SESSION_COOKIE };

/** Kubernetes names the manifests in deploy/kubernetes/ use; the test checks they agree. */
export const CLUSTER = {
  namespace: 'layerlab',
  /** Engine nodes: `ceil(students / SESSIONS_PER_NODE) + 1` for a workshop (one spare for upgrades). */
  replicas: 3,
  statefulSet: 'layerlab',
  nodesService: 'layerlab-nodes',
  nodePort: 8080,
  routerService: 'layerlab-router',
  routerPort: 8080,
  /** The HAProxy pods' own liveness endpoint (`monitor-uri /healthz`), apart from the site's paths. */
  monitorPort: 8404,
  redisService: 'layerlab-redis',
  redisPort: 6379,
  registryService: 'layerlab-registry',
  registryPort: 5000,
  /** distribution listens here, inside the registry pod only: the gate is its one way in. */
  registryCachePort: 5001,
} as const;

/** Live sessions one node (2 cores) is sized for: keystroke echo p99 3.8 ms at 40 (docs/PERFORMANCE.md). */
export const SESSIONS_PER_NODE = 40;

/** What the server answers for Kubernetes' and HAProxy's probes. */
export const PROBE_PATHS = {
  /** 200 while the process serves; the router's check for pinned sessions, the kubelet's liveness. */
  health: '/healthz',
  /** 200 only while the node admits new visitors (not draining, capacity left); 503 otherwise. */
  ready: '/readyz',
} as const;

/**
 * A node's own registry, first mirror as setup's is on one machine (engine/config.ts's default): the
 * lesson images and each session's pushes live there. The node image must start and seed it.
 */
export const NODE_LOCAL_MIRROR = 'http://127.0.0.1:5000';

/**
 * Docker Hub repositories the pull-through cache may serve to visitors. The lesson images that carry
 * Docker Hub's own names (`library/busybox`) are in it; `layerlab/*` lesson images are not: they
 * exist only in each node's seeded local registry, and on Docker Hub that name is someone else's.
 * `library/alpine` is the image readers reach for first once a lesson is done.
 */
export const CACHE_ALLOWED_REPOSITORIES: readonly string[] = [
  ...LESSON_IMAGES.map((image) => image.repository).filter((name) => name.startsWith('library/')),
  'library/alpine',
];

export interface NodeAddress {
  /** The pod name, which is also the node id the server puts in its `layerlab_node` cookie. */
  id: string;
  host: string;
  port: number;
}

/** The StatefulSet's pods `layerlab-0..N-1`, addressed through the headless Service's DNS names. */
export function nodeAddresses(
  replicas: number = CLUSTER.replicas,
  namespace: string = CLUSTER.namespace,
): NodeAddress[] {
  if (!Number.isInteger(replicas) || replicas < 1) {
    throw new InvalidArgumentError(`replicas must be a positive integer, not ${replicas}`, String(replicas));
  }
  return Array.from(
    { length: replicas },
    (_, i): NodeAddress => ({
      id: `${CLUSTER.statefulSet}-${i}`,
      host: `${CLUSTER.statefulSet}-${i}.${CLUSTER.nodesService}.${namespace}.svc.cluster.local`,
      port: CLUSTER.nodePort,
    }),
  );
}

/** Nodes for a workshop of `students`: enough for all at SESSIONS_PER_NODE each, plus one spare. */
export function nodesForWorkshop(students: number): number {
  return Math.ceil(students / SESSIONS_PER_NODE) + 1;
}

export interface Endpoint {
  host: string;
  port: number;
}

export interface RouterOptions {
  bind: Endpoint;
  nodes: readonly NodeAddress[];
  /**
   * Resolve server names at run time through these DNS servers (Kubernetes: kube-dns, read from the
   * pod's /etc/resolv.conf when `nameservers` is absent). Without it, names resolve once at start.
   */
  resolvers?: { name: string; nameservers?: readonly Endpoint[] };
  /** A separate listener answering `GET /healthz` for the router's own liveness probe. */
  monitor?: Endpoint;
}

// HAProxy reads a config word by word: anything outside these would need quoting or change meaning.
const SAFE_WORD = /^[A-Za-z0-9_.:-]+$/;

function word(value: string, what: string): string {
  if (!SAFE_WORD.test(value))
    throw new InvalidArgumentError(`${what}: not a plain HAProxy word: ${value}`, value);
  return value;
}

function address({ host, port }: Endpoint, what: string): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgumentError(`${what}: not a port: ${port}`, String(port));
  }
  // An IPv6 literal has colons of its own; HAProxy reads the last one as the port separator.
  return `${word(host, what)}:${port}`;
}

/** The first line of every generated file. */
export const GENERATED_NOTE =
  '# Generated from deploy/cluster.ts by deploy/render.ts: edit those, then run `node deploy/render.ts`.';

function globalAndDefaults(): string[] {
  return [
    'global',
    '  log stdout format raw local0',
    '',
    'defaults',
    '  mode http',
    '  log global',
    '  option httplog',
    '  timeout connect 5s',
    '  timeout http-request 10s',
    '  timeout http-keep-alive 5s',
    // For plain requests; once a WebSocket is upgraded, `timeout tunnel` applies instead.
    '  timeout client 60s',
    '  timeout server 60s',
    // An upgraded WebSocket is a tunnel, kept busy by the server's 30 s pings; this ends dead ones.
    '  timeout tunnel 1h',
    '  timeout client-fin 10s',
    '',
  ];
}

function resolversSection(resolvers: RouterOptions['resolvers']): string[] {
  if (resolvers === undefined) return [];
  const lines = [`resolvers ${word(resolvers.name, 'resolvers name')}`];
  if (resolvers.nameservers === undefined || resolvers.nameservers.length === 0) {
    lines.push('  parse-resolv-conf');
  } else {
    resolvers.nameservers.forEach((ns, i) => {
      lines.push(`  nameserver dns${i} ${address(ns, 'nameserver')}`);
    });
  }
  // A pod that is gone stays unresolvable for a while: retry often, keep the last good answer briefly.
  lines.push('  resolve_retries 3', '  timeout resolve 1s', '  timeout retry 1s', '  hold valid 10s');
  lines.push('  hold nx 5s', '  hold obsolete 10s', '');
  return lines;
}

/**
 * An HTTP/1.1 check with a Host the server answers: `option httpchk GET <path>` alone sends HTTP/1.0
 * with no Host, which the server's Host allow-list refuses (421), and every node would look down.
 */
function healthCheck(path: string): string[] {
  return ['  option httpchk', `  http-check send meth GET uri ${path} ver HTTP/1.1 hdr Host localhost`];
}

function serverLine(node: NodeAddress, resolvers: RouterOptions['resolvers']): string {
  // `init-addr last,libc,none`: a pod not yet in DNS starts as down instead of stopping HAProxy.
  const dns = resolvers === undefined ? '' : ` resolvers ${resolvers.name} init-addr last,libc,none`;
  return `  server ${word(node.id, 'node id')} ${address(node, `node ${node.id}`)} check inter 1s fall 2 rise 2${dns}`;
}

/**
 * The router's haproxy.cfg. A page that carries the node cookie goes to that node (`use-server`);
 * when that node is down, the session cookie's consistent hash picks another one, the same on every
 * router replica, where the session is re-seated. A new visitor goes to the least busy node that
 * says it is ready; when none is, to any live node, which answers "full" itself. A teacher's view
 * of a student's terminal names the student's node in its query (`?node=`), which wins over the
 * teacher's own node cookie.
 */
export function renderHaproxyConfig(options: RouterOptions): string {
  const { bind, nodes, resolvers, monitor } = options;
  if (nodes.length === 0) throw new InvalidArgumentError('the router needs at least one node', '[]');
  const ids = new Set(nodes.map((n) => n.id));
  if (ids.size !== nodes.length)
    throw new InvalidArgumentError('node ids must be unique', nodes.map((n) => n.id).join(','));
  const lines = [GENERATED_NOTE, ...globalAndDefaults(), ...resolversSection(resolvers)];
  if (monitor !== undefined) {
    lines.push('frontend monitor', `  bind ${address(monitor, 'monitor')}`, '  monitor-uri /healthz', '');
  }
  lines.push(
    'frontend site',
    `  bind ${address(bind, 'bind')}`,
    '  option forwardfor',
    `  use_backend pinned if { urlp(${NODE_PARAM}) -m found }`,
    `  use_backend pinned if { req.cook(${NODE_COOKIE}) -m found }`,
    '  use_backend pinned if { nbsrv(admit) eq 0 }',
    '  default_backend admit',
    '',
    'backend pinned',
    `  balance hash req.cook(${SESSION_COOKIE})`,
    '  hash-type consistent',
    ...healthCheck(PROBE_PATHS.health),
    ...nodes.map((n) => `  use-server ${n.id} if { urlp(${NODE_PARAM}) -m str ${n.id} }`),
    ...nodes.map((n) => `  use-server ${n.id} if { req.cook(${NODE_COOKIE}) -m str ${n.id} }`),
    ...nodes.map((n) => serverLine(n, resolvers)),
    '',
    'backend admit',
    '  balance leastconn',
    ...healthCheck(PROBE_PATHS.ready),
    ...nodes.map((n) => serverLine(n, resolvers)),
  );
  return `${lines.join('\n')}\n`;
}

export interface RegistryGateOptions {
  bind: Endpoint;
  /** The pull-through cache behind the gate. */
  cache: Endpoint;
  repositories: readonly string[];
  monitor?: Endpoint;
}

// Docker's repository-name grammar (lowercase path components), so a name cannot smuggle a regex.
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/**
 * The registry gate's haproxy.cfg: distribution has no allow-list, so this refuses (403) every
 * request but a read (GET or HEAD) of `/v2/` or of a listed repository's manifests and blobs. The
 * path is matched raw, so `%2F` or `..` in it simply does not match.
 */
export function renderRegistryGateConfig(options: RegistryGateOptions): string {
  const { bind, cache, repositories, monitor } = options;
  if (repositories.length === 0) throw new InvalidArgumentError('the registry allow-list is empty', '[]');
  for (const repo of repositories) {
    if (!REPOSITORY.test(repo)) throw new InvalidArgumentError(`not a repository name: ${repo}`, repo);
  }
  const names = repositories.map((r) => r.replaceAll('.', '\\.')).join('|');
  const reference =
    '(manifests/([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|sha256:[a-f0-9]{64})|blobs/sha256:[a-f0-9]{64})';
  const lines = [GENERATED_NOTE, ...globalAndDefaults()];
  if (monitor !== undefined) {
    lines.push('frontend monitor', `  bind ${address(monitor, 'monitor')}`, '  monitor-uri /healthz', '');
  }
  lines.push(
    'frontend registry',
    `  bind ${address(bind, 'bind')}`,
    '  acl is_read method GET HEAD',
    '  acl api_root path /v2/',
    `  acl allowed_repo path_reg ^/v2/(${names})/${reference}$`,
    '  http-request deny deny_status 403 unless is_read',
    '  http-request deny deny_status 403 unless api_root || allowed_repo',
    '  default_backend cache',
    '',
    'backend cache',
    `  server cache ${address(cache, 'cache')}`,
  );
  return `${lines.join('\n')}\n`;
}

/** The engine's `<root>/config.json` on a node: lesson images from its own registry, the rest from the cache. */
export function renderEngineConfig(): string {
  const cache = `http://${CLUSTER.registryService}:${CLUSTER.registryPort}`;
  return formatJson({ mirrors: { 'docker.io': [NODE_LOCAL_MIRROR, cache] } });
}

/**
 * The server's limits file on a node sized for SESSIONS_PER_NODE students (docs/OPERATIONS.md's
 * class settings): a few sessions of headroom for second browsers, four containers a session.
 */
export function renderNodeLimits(): string {
  const limits = {
    maxSessions: SESSIONS_PER_NODE + 5,
    maxContainersPerSession: 4,
    container: { memoryBytes: 128 * 1024 * 1024, diskBytes: 64 * 1024 * 1024 },
  };
  return formatJson(limits);
}

type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json };

/**
 * JSON as the repository's formatter (biome) writes it, so `biome check --write` leaves a generated
 * file alone: objects one member a line, short arrays on one line.
 */
function formatJson(value: Json): string {
  const format = (v: Json, indent: string): string => {
    if (Array.isArray(v)) return `[${v.map((item) => format(item, indent)).join(', ')}]`;
    if (v !== null && typeof v === 'object') {
      const inner = `${indent}  `;
      const members = Object.entries(v).map(
        ([key, item]) => `${inner}${JSON.stringify(key)}: ${format(item, inner)}`,
      );
      return `{\n${members.join(',\n')}\n${indent}}`;
    }
    return JSON.stringify(v);
  };
  return `${format(value, '')}\n`;
}
