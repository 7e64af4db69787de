// The Layerlab server: one Node http server for the built site, the JSON API, /healthz, /metrics
// and the WebSocket endpoint, hosting the engine for many sessions. createServer() has no side
// effects; listen() cleans a previous run's leftovers, then serves.

import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { type EngineConfig, loadConfig } from '../engine/config.ts';
import { createContext } from '../engine/context.ts';
import { collectGarbage } from '../engine/gc.ts';
import { closeRoot } from '../engine/recover.ts';
import { detectRuntime, type RuntimeInfo } from '../engine/runtime/detect.ts';
import { registerRequestRoutes } from './api/http-routes.ts';
import { type CheckReport, createSessionApi, type SessionApi } from './api/session-api.ts';
import { recordCommands } from './checks/command-log.ts';
import { cleanupPreviousRun } from './cleanup.ts';
import { nodeCookie } from './cluster/cookies.ts';
import { capConnectionsPerAddress } from './http/connections.ts';
import { createEdgeGuard } from './http/edge-guard.ts';
import { crossSiteRequest } from './http/origin.ts';
import { requestInfo, TrustedProxies } from './http/request-info.ts';
import { createRouter, HttpError, type Router, sendJson, sessionCookie } from './http/router.ts';
import { setSecurityHeaders } from './http/security-headers.ts';
import { serveStatic } from './http/static.ts';
import { type LimitsOverride, resolveLimits, type ServerLimits } from './limits.ts';
import { Metrics, metricsAccess } from './metrics.ts';
import { watchSession } from './pictures/fs-changes.ts';
import type { SessionEvent } from './protocol.ts';
import {
  type ServerSession,
  SessionLimitError,
  SessionManager,
  SessionQuotaError,
} from './sessions/manager.ts';
import type { Session } from './sessions/session.ts';
import { createWsEdge, type WsEdge } from './ws/upgrade.ts';

const REPO_ROOT = join(import.meta.dirname, '..');

/** What a plugin (the workshop) can reach to add routes, gate sessions and end them. */
export interface ServerInternals {
  readonly root: string;
  /** The operator's `--public-url`s (the workshop's join link is built from the first). */
  readonly publicUrls: readonly string[];
  readonly router: Router;
  readonly sessions: SessionManager;
  readonly metrics: Metrics;
  readonly limits: ServerLimits;
  /** Called before `GET /api/session` creates a session; throw HttpError to refuse (e.g. workshop full). */
  readonly sessionGates: ((req: IncomingMessage) => void | Promise<void>)[];
  /**
   * Tried before the gates when `GET /api/session` finds no session: one may hand the browser a
   * session of its own (a cluster re-seating a student whose node is gone).
   */
  readonly sessionAdopters: ((
    req: IncomingMessage,
    client: string | undefined,
  ) => Promise<Session | undefined>)[];
  /**
   * In a cluster: this node's id (the node cookie set with every session cookie names it) and
   * whether it is draining (readiness fails, no one new is let in).
   */
  cluster?: { node: string; readonly draining: boolean };
  /** Extra fields for the `welcome` message's `workshop`. */
  workshopInfo: { name: string } & Record<string, unknown>;
  /** The workshop a session is a student of, for its `welcome` (a cluster node runs any workshop). */
  workshopOf?: (sessionId: string) => { name: string; code: string } | undefined;
  /** Upgrade handlers tried before `/ws` (the teacher's watch sockets); one returning true took the socket. */
  readonly upgradeHandlers: ((req: IncomingMessage, socket: Duplex, head: Buffer) => boolean)[];
  /** The session API both transports serve (the workshop resets a student through it). */
  readonly api: SessionApi;
  /** Told about every evaluated check, from the WebSocket or HTTP alike. */
  readonly checkListeners: ((sessionId: string, report: CheckReport) => void)[];
  /** Told which lesson a session's page shows (the `visit` request). */
  readonly visitListeners: ((sessionId: string, lesson: string) => void)[];
  /** Ends a session: closes its sockets (code 4000) and disposes it. */
  endSession(id: string, reason?: string): Promise<void>;
  log(message: string): void;
}

export type ServerPlugin = (server: ServerInternals) => void | Promise<void>;

export interface ServerOptions {
  /** The engine state root; sessions live under `<root>/sessions/`. */
  root: string;
  /** Engine configuration (default: `<root>/config.json`). */
  config?: EngineConfig;
  /** The built site (default `site/dist`). */
  siteDir?: string;
  /** Origins besides the server's own allowed to open the WebSocket and post (e.g. a dev server). */
  allowedOrigins?: string[];
  /**
   * URLs readers reach this server at besides loopback (`--public-url`): their hosts are answered
   * (others get 421, against DNS rebinding) and their origins may post and open sockets.
   */
  publicUrls?: string[];
  /** Reverse proxies whose `Forwarded` / `X-Forwarded-*` headers are believed (IPs or CIDR ranges). */
  trustedProxies?: string[];
  limits?: LimitsOverride;
  /** Bearer token `/metrics` asks for (`LAYERLAB_METRICS_TOKEN`); without one, it answers loopback only. */
  metricsToken?: string;
  /** A workshop's name, shown in `welcome`; the workshop plugin does the rest. */
  workshop?: string;
  plugins?: ServerPlugin[];
  /** Clean a previous run's leftovers on listen (default true). */
  cleanup?: boolean;
  log?: (message: string) => void;
}

export interface LayerlabServer {
  listen(port: number, host?: string): Promise<void>;
  close(): Promise<void>;
  /** `http://HOST:PORT` once listening. */
  readonly url: string;
  readonly sessions: SessionManager;
  readonly metrics: Metrics;
  readonly router: Router;
  readonly internals: ServerInternals;
  /** Sessions alive, the most this node holds, and how many more it takes (readiness, a cluster's heartbeat). */
  room(): { sessions: number; maxSessions: number; free: number };
}

export function createServer(options: ServerOptions): LayerlabServer {
  const root = options.root;
  const limits = resolveLimits(options.limits);
  const log = options.log ?? ((m: string) => process.stderr.write(`layerlab: ${m}\n`));
  let config: EngineConfig | undefined = options.config;
  const metrics = new Metrics();
  const containers = new Map<string, Set<string>>();
  const pullStarts = new Map<string, number>();

  const observe = (session: Session, event: SessionEvent) => {
    switch (event.type) {
      case 'container.created': {
        const set = containers.get(session.id) ?? new Set<string>();
        containers.set(session.id, set);
        set.add(event.id);
        break;
      }
      case 'container.removed':
        containers.get(session.id)?.delete(event.id);
        break;
      case 'pull.exchange': {
        const key = `${session.id} ${event.ref}`;
        if (!pullStarts.has(key)) pullStarts.set(key, performance.now());
        break;
      }
      case 'pull.done': {
        const key = `${session.id} ${event.ref}`;
        const start = pullStarts.get(key);
        pullStarts.delete(key);
        metrics.pullsTotal++;
        if (start !== undefined) metrics.observe('pull', (performance.now() - start) / 1000);
        break;
      }
      case 'terminal.command': {
        const ms = (event as { durationMs?: unknown }).durationMs;
        if (typeof ms === 'number') metrics.observe('command', ms / 1000);
        break;
      }
    }
  };

  let sessions: SessionManager | undefined;
  const manager = (): SessionManager => {
    sessions ??= new SessionManager({ root, config: engineConfig(), limits, observe, log });
    return sessions;
  };
  const engineConfig = (): EngineConfig => {
    config ??= loadConfig(root);
    return config;
  };

  const guard = createEdgeGuard({
    publicUrls: options.publicUrls ?? [],
    trustedProxies: options.trustedProxies ?? [],
    allowedOrigins: options.allowedOrigins ?? [],
    log,
  });
  const router = createRouter({
    resolveSession: (token) => manager().byToken(token),
    maxBodyBytes: limits.maxBodyBytes,
    allowedOrigins: guard.origins,
    onError: (err, req) => {
      metrics.error();
      log(`${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
    },
  });

  let runtime: RuntimeInfo | undefined;
  let runtimeError: string | undefined;
  let http: Server | undefined;
  let edge: WsEdge | undefined;
  let url = '';
  const checkListeners: ServerInternals['checkListeners'] = [];
  const visitListeners: ServerInternals['visitListeners'] = [];
  const api = createSessionApi({
    onCheck(sessionId, report) {
      for (const listener of checkListeners) {
        try {
          listener(sessionId, report);
        } catch (err) {
          log(`check listener: ${(err as Error).message}`);
        }
      }
    },
    onVisit(sessionId, lesson) {
      for (const listener of visitListeners) listener(sessionId, lesson);
    },
  });
  registerRequestRoutes(router, api);

  const internals: ServerInternals = {
    root,
    publicUrls: options.publicUrls ?? [],
    router,
    get sessions() {
      return manager();
    },
    metrics,
    limits,
    sessionGates: [],
    sessionAdopters: [],
    upgradeHandlers: [],
    api,
    checkListeners,
    visitListeners,
    workshopInfo: { name: options.workshop ?? '' },
    async endSession(id, reason = 'session ended') {
      for (const c of edge?.connections ?? []) if (c.session.id === id) c.end(reason);
      await manager().dispose(id);
    },
    log,
  };

  metrics.gauge('layerlab_sessions', 'Sessions alive on this node.', () => manager().count);
  metrics.gauge('layerlab_containers', 'Containers of all sessions (any state).', () =>
    [...containers.values()].reduce((n, s) => n + s.size, 0),
  );
  metrics.gauge('layerlab_ws_connections', 'Open WebSockets.', () => edge?.connections.size ?? 0);

  router.get(
    '/api/session',
    async (req, res, { session }) => {
      let current = session as ServerSession | undefined;
      if (!current) {
        // A hostile page's `<img src=/api/session>` would otherwise spend its visitors' address quota.
        if (crossSiteRequest(req, guard.origins)) {
          throw new HttpError(403, 'cross_origin', 'sessions are created only for pages of this server');
        }
        const client = requestInfo(req).client;
        for (const adopt of internals.sessionAdopters) {
          const adopted = await adopt(req, client);
          current = adopted ? manager().get(adopted.id) : undefined;
          if (current) break;
        }
        if (!current) for (const gate of internals.sessionGates) await gate(req);
        try {
          current ??= await manager().create({ client });
        } catch (err) {
          if (err instanceof SessionLimitError) throw new HttpError(503, 'full', err.message);
          if (err instanceof SessionQuotaError) {
            return sendJson(
              res,
              429,
              { error: { code: 'too_many_sessions', message: err.message } },
              { 'retry-after': String(err.retryAfterSeconds) },
            );
          }
          throw err;
        }
      }
      sendJson(
        res,
        200,
        { session: current.id, token: current.token },
        {
          'set-cookie': internals.cluster
            ? [sessionCookie(req, current.token), nodeCookie(req, internals.cluster.node)]
            : sessionCookie(req, current.token),
        },
      );
    },
    { auth: 'none' },
  );

  router.get(
    '/healthz',
    async (_req, res) => {
      const registry = await registryReachable(engineConfig());
      sendJson(res, 200, {
        ok: runtime !== undefined,
        runtime: runtime ? `${runtime.name} ${runtime.version}` : (runtimeError ?? 'not detected yet'),
        registry,
        sessions: manager().count,
        ...(internals.cluster ? { node: internals.cluster.node } : {}),
      });
    },
    { auth: 'none' },
  );

  // Readiness: whether this node takes new visitors. A draining or full node answers 503 (its own
  // sessions are still served), so Kubernetes and the router send newcomers elsewhere.
  router.get(
    '/readyz',
    (_req, res) => {
      const { sessions, free } = room();
      const draining = internals.cluster?.draining === true;
      const ready = !draining && free > 0;
      sendJson(res, ready ? 200 : 503, {
        ready,
        ...(draining ? { draining } : {}),
        sessions,
        free,
        ...(internals.cluster ? { node: internals.cluster.node } : {}),
      });
    },
    { auth: 'none' },
  );

  router.get(
    '/metrics',
    (req, res) => {
      const access = metricsAccess(
        { client: requestInfo(req).client, headers: req.headers },
        options.metricsToken,
      );
      if (access === 'unauthorized') {
        throw new HttpError(401, 'unauthorized', "metrics need the operator's bearer token");
      }
      if (access === 'forbidden') {
        throw new HttpError(403, 'forbidden', 'metrics are served to this machine only (or set a token)');
      }
      const body = metrics.render();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(body);
    },
    { auth: 'none' },
  );

  const siteDir = options.siteDir ?? join(REPO_ROOT, 'site', 'dist');

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (!guard.admitRequest(req, res)) return;
      if (await router.handle(req, res)) return;
      await serveStatic(siteDir, req, res);
    } catch (err) {
      metrics.error();
      log(`${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
      if (!res.headersSent)
        res.writeHead(500, { 'content-type': 'text/plain' }).end('internal server error\n');
      else res.destroy();
    }
  }

  function room() {
    const sessions = manager().count;
    return { sessions, maxSessions: limits.maxSessions, free: Math.max(0, limits.maxSessions - sessions) };
  }

  const server: LayerlabServer = {
    room,
    get url() {
      return url;
    },
    get sessions() {
      return manager();
    },
    metrics,
    router,
    internals,

    async listen(port, host = '127.0.0.1') {
      await mkdir(root, { recursive: true });
      const cfg = engineConfig();
      if (options.cleanup !== false) await cleanupPreviousRun(root, cfg, log);
      const baseCtx = createContext(root, { config: cfg });
      try {
        runtime = await detectRuntime(baseCtx);
        const cache = join(baseCtx.paths.run, 'runtime.json');
        manager().setRuntimeCache(existsSync(cache) ? cache : undefined);
      } catch (err) {
        runtimeError = (err as Error).message;
        log(`runtime: ${runtimeError}`);
      }
      // What every session keeps running until it ends: the fs.change watcher and the command log.
      manager().onCreated((s) => {
        watchSession(s);
        recordCommands(s);
      });
      for (const plugin of options.plugins ?? []) await plugin(internals);
      manager().onDisposed((s) => {
        containers.delete(s.id);
        for (const c of edge?.connections ?? []) if (c.session === s) c.end('session ended');
        // Content the session alone used can go now; a pull elsewhere is protected by the grace period.
        collectGarbage(root).catch((err: Error) => log(`gc: ${err.message}`));
      });
      edge = createWsEdge({
        sessions: manager(),
        allowedOrigins: guard.origins,
        deps: {
          limits,
          metrics,
          api,
          log,
          workshop: (sessionId) =>
            internals.workshopOf?.(sessionId) ??
            (internals.workshopInfo.name !== '' ? internals.workshopInfo : undefined),
        },
      });
      const { http: edgeLimits } = limits;
      // The timeouts are checked every `checkIntervalMs`: with Node's default of 30 s a 10 s header
      // timeout let half-sent requests stay three times as long as documented.
      const h = createHttpServer(
        {
          headersTimeout: edgeLimits.headersTimeoutMs,
          requestTimeout: edgeLimits.requestTimeoutMs,
          keepAliveTimeout: edgeLimits.keepAliveTimeoutMs,
          connectionsCheckingInterval: edgeLimits.checkIntervalMs,
        },
        (req, res) => {
          setSecurityHeaders(res);
          void onRequest(req, res);
        },
      );
      // One address cannot hold the server's connections (a slowloris from one host fills only its
      // own share); a trusted reverse proxy speaks for many clients and is not capped.
      const proxies = new TrustedProxies(options.trustedProxies ?? []);
      const tcp = capConnectionsPerAddress(
        h,
        limits.ws.maxConnectionsPerIp + edgeLimits.extraConnectionsPerIp,
        (address) => proxies.trusts(address),
        () => metrics.error(),
      );
      metrics.gauge('layerlab_http_connections', 'Open TCP connections (HTTP and WebSocket).', () =>
        tcp.total(),
      );
      h.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (!guard.admitUpgrade(req, socket)) return;
        for (const handler of internals.upgradeHandlers) if (handler(req, socket, head)) return;
        edge?.handleUpgrade(req, socket, head);
      });
      h.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
        // A request the header or request timeout cut off is told so, as Node would without this handler.
        if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && socket.writable) {
          socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
        }
        socket.destroy();
      });
      // The total is capped below the process's descriptor limit: WebSockets plus room for page loads.
      h.maxConnections = limits.ws.maxConnections + 1000;
      http = h;
      await new Promise<void>((resolve, reject) => {
        h.once('error', reject);
        h.listen(port, host, () => {
          h.off('error', reject);
          resolve();
        });
      });
      const address = h.address() as AddressInfo;
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      url = `http://${shownHost}:${address.port}`;
      guard.listening(address);
      manager().startReaper();
    },

    async close() {
      sessions?.stopReaper();
      edge?.close();
      const h = http;
      http = undefined;
      if (h) {
        h.closeAllConnections();
        await new Promise<void>((resolve) => h.close(() => resolve()));
      }
      await sessions?.disposeAll();
      // Drops this server's liveness lock on the root, so a later engine process may recover it.
      closeRoot(createContext(root, { config: engineConfig() }));
    },
  };
  return server;
}

/** Whether the docker.io mirror (the local registry) answers `/v2/` within a second. */
async function registryReachable(config: EngineConfig): Promise<{ url: string; ok: boolean } | null> {
  const mirror = config.mirrors['docker.io']?.[0];
  if (!mirror) return null;
  try {
    const res = await fetch(`${mirror.replace(/\/$/, '')}/v2/`, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return { url: mirror, ok: res.status < 500 };
  } catch {
    return { url: mirror, ok: false };
  }
}
