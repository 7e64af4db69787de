// The server's limits in one place: per session, per container, per WebSocket, server-wide. Every
// field has a default; createServer({ limits }) overrides any of them (tests shorten timers).

export interface ServerLimits {
  /** Sessions alive at once on this node; the next `GET /api/session` gets 503. */
  maxSessions: number;
  /** Containers (any state) one session may hold. */
  maxContainersPerSession: number;
  /** Images (records, including build steps) one session may hold. */
  maxImagesPerSession: number;
  /** Terminals one session may hold open. */
  maxTerminalsPerSession: number;
  /** WebSockets one session may hold (tabs). */
  maxSocketsPerSession: number;
  /** Per-container cgroup and disk limits, given to the session's engine config. */
  container: {
    memoryBytes: number;
    pids: number;
    cpus: number;
    diskBytes: number;
    /** A running container is stopped after this long (checked every `reapIntervalMs`). */
    maxRunMs: number;
  };
  /** A session with no socket for this long is disposed. */
  idleTimeoutMs: number;
  /** How often idle sessions are looked for. */
  reapIntervalMs: number;
  ws: {
    /** Largest message; bigger closes the socket with 1009. */
    maxPayload: number;
    /** Ping interval; a socket that missed the previous pong is terminated. */
    heartbeatMs: number;
    /** Token bucket: `burst` messages at once, refilled at `perSecond`. */
    burst: number;
    perSecond: number;
    /** Rate-limited messages in a row (bucket empty) before the socket is closed with 1008. */
    abuseLimit: number;
    /** Bytes queued on a socket above which terminal output is paused. */
    highWaterMark: number;
    /** Bytes queued below which paused output resumes. */
    lowWaterMark: number;
    /** Open WebSockets on this server; the next upgrade gets 503 (idle sockets cannot pile up). */
    maxConnections: number;
    /** Open WebSockets from one remote address (a classroom behind one NAT shares one). */
    maxConnectionsPerIp: number;
  };
  /** Request bodies of the HTTP API. */
  maxBodyBytes: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxSessions: 200,
  maxContainersPerSession: 10,
  maxImagesPerSession: 60,
  maxTerminalsPerSession: 8,
  maxSocketsPerSession: 8,
  container: {
    memoryBytes: 256 * 1024 * 1024,
    pids: 256,
    cpus: 1,
    diskBytes: 128 * 1024 * 1024,
    maxRunMs: 60 * 60 * 1000,
  },
  idleTimeoutMs: 30 * 60 * 1000,
  reapIntervalMs: 60 * 1000,
  ws: {
    maxPayload: 64 * 1024,
    heartbeatMs: 30_000,
    burst: 200,
    perSecond: 100,
    abuseLimit: 200,
    highWaterMark: 256 * 1024,
    lowWaterMark: 64 * 1024,
    maxConnections: 2000,
    maxConnectionsPerIp: 512,
  },
  maxBodyBytes: 64 * 1024,
};

export type LimitsOverride = Partial<Omit<ServerLimits, 'container' | 'ws'>> & {
  container?: Partial<ServerLimits['container']>;
  ws?: Partial<ServerLimits['ws']>;
};

export function resolveLimits(override: LimitsOverride = {}): ServerLimits {
  return {
    ...DEFAULT_LIMITS,
    ...override,
    container: { ...DEFAULT_LIMITS.container, ...override.container },
    ws: { ...DEFAULT_LIMITS.ws, ...override.ws },
  };
}
