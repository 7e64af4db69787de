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
import { cleanupPreviousRun } from './cleanup.ts';
import { createRouter, HttpError, type Router, SESSION_COOKIE, sendJson } from './http/router.ts';
import { serveStatic } from './http/static.ts';
import { type LimitsOverride, resolveLimits, type ServerLimits } from './limits.ts';
import { Metrics } from './metrics.ts';
import type { SessionEvent } from './protocol.ts';
import { type ServerSession, SessionLimitError, SessionManager } from './sessions/manager.ts';
import type { Session } from './sessions/session.ts';
import { loadModules, type Modules } from './ws/modules.ts';
import { createWsEdge, type WsEdge } from './ws/upgrade.ts';

const REPO_ROOT = join(import.meta.dirname, '..');

/** What a plugin (the workshop, S4) can reach to add routes, gate sessions and end them. */
export interface ServerInternals {
  readonly root: string;
  readonly router: Router;
  readonly sessions: SessionManager;
  readonly metrics: Metrics;
  readonly limits: ServerLimits;
  /** Called before `GET /api/session` creates a session; throw HttpError to refuse (e.g. workshop full). */
  readonly sessionGates: ((req: IncomingMessage) => void | Promise<void>)[];
  /** Extra fields for the `welcome` message's `workshop`. */
  workshopInfo: { name: string } & Record<string, unknown>;
  /** Upgrade handlers tried before `/ws` (the teacher's watch sockets); one returning true took the socket. */
  readonly upgradeHandlers: ((req: IncomingMessage, socket: Duplex, head: Buffer) => boolean)[];
  /** Told about every evaluated check that names its lesson step. */
  readonly checkListeners: ((
    sessionId: string,
    report: { lesson: string; check: string; pass: boolean },
  ) => void)[];
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
  /** Origins besides the server's own allowed to open the WebSocket (e.g. a dev server). */
  allowedOrigins?: string[];
  limits?: LimitsOverride;
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

  const router = createRouter({
    resolveSession: (token) => manager().byToken(token),
    maxBodyBytes: limits.maxBodyBytes,
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
  const modules: Modules = {};

  const internals: ServerInternals = {
    root,
    router,
    get sessions() {
      return manager();
    },
    metrics,
    limits,
    sessionGates: [],
    upgradeHandlers: [],
    checkListeners: [],
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
        for (const gate of internals.sessionGates) await gate(req);
        try {
          current = await manager().create();
        } catch (err) {
          if (err instanceof SessionLimitError) throw new HttpError(503, 'full', err.message);
          throw err;
        }
      }
      sendJson(
        res,
        200,
        { session: current.id, token: current.token },
        { 'set-cookie': `${SESSION_COOKIE}=${current.token}; Path=/; HttpOnly; SameSite=Lax` },
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
      });
    },
    { auth: 'none' },
  );

  router.get(
    '/metrics',
    (_req, res) => {
      const body = metrics.render();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(body);
    },
    { auth: 'none' },
  );

  const siteDir = options.siteDir ?? join(REPO_ROOT, 'site', 'dist');

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
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

  const server: LayerlabServer = {
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
      Object.assign(modules, await loadModules());
      modules.registerStateRoutes?.(router);
      if (modules.watchSession) {
        const watch = modules.watchSession;
        manager().onCreated((s) => {
          const stop = watch(s);
          if (stop) s.onDispose(stop);
        });
      }
      for (const plugin of options.plugins ?? []) await plugin(internals);
      manager().onDisposed((s) => {
        containers.delete(s.id);
        for (const c of edge?.connections ?? []) if (c.session === s) c.end('session ended');
        // Content the session alone used can go now; a pull elsewhere is protected by the grace period.
        collectGarbage(root).catch((err: Error) => log(`gc: ${err.message}`));
      });
      edge = createWsEdge({
        sessions: manager(),
        allowedOrigins: options.allowedOrigins ?? [],
        deps: {
          limits,
          metrics,
          modules,
          log,
          workshop: () => (internals.workshopInfo.name !== '' ? internals.workshopInfo : undefined),
          onCheck: (sessionId, report) => {
            for (const listener of internals.checkListeners) {
              try {
                listener(sessionId, report);
              } catch (err) {
                log(`check listener: ${(err as Error).message}`);
              }
            }
          },
        },
      });
      const h = createHttpServer((req, res) => {
        void onRequest(req, res);
      });
      h.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        for (const handler of internals.upgradeHandlers) if (handler(req, socket, head)) return;
        edge?.handleUpgrade(req, socket, head);
      });
      h.on('clientError', (_err, socket) => socket.destroy());
      // Connections that never finish a request (or an upgrade) are dropped after 10 s, and the
      // total is capped below the process's descriptor limit: WebSockets plus room for page loads.
      h.headersTimeout = 10_000;
      h.requestTimeout = 30_000;
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
