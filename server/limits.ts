// The server's limits in one place: per session, per container, per WebSocket, server-wide. Every
// field has a default; createServer({ limits }) overrides any of them (tests shorten timers).

export interface ServerLimits {
  /**
   * Sessions alive at once on this node; the next `GET /api/session` gets 503. A workshop's free seats
   * are kept out of it for its students: readers without a seat get at most `maxSessions` minus those.
   */
  maxSessions: number;
  /**
   * Sessions per client address (behind a trusted proxy, the client it names; IPv6 per /64), so one
   * address cannot take the node's sessions. Workshop students, who hold a seat, are not counted.
   */
  sessionsPerAddress: {
    /** Sessions one address may hold at once; the next `GET /api/session` gets 429. */
    max: number;
    /** Token bucket of session creations: `burst` at once, then `perMinute`; beyond it, 429. */
    burst: number;
    perMinute: number;
  };
  /**
   * A session that has not opened a WebSocket yet is disposed after this long without a request:
   * a page opens its socket within a second, so what remains is a script or a crawler.
   */
  connectGraceMs: number;
  /** Containers (any state) one session may hold. */
  maxContainersPerSession: number;
  /** Images (records, including build steps) one session may hold. */
  maxImagesPerSession: number;
  /**
   * Size of each named volume of a session: its data lives on a tmpfs of this size (no disk quota
   * is available), so `maxVolumesPerSession` × this is what a session's volumes can hold.
   */
  volumeBytes: number;
  /** Named volumes one session may hold. */
  maxVolumesPerSession: number;
  /**
   * Bytes of distinct layers one session's images may reference (commit, build, pull, load); past it
   * the operation is refused with "storage quota exceeded" (engine/store/quota.ts).
   */
  maxStoredLayerBytesPerSession: number;
  /**
   * Registries a session may pull from besides the local registry and the configured mirrors:
   * registry names (`docker.io` brings its API, token and blob hosts) or `host[:port]`, `*.domain`.
   * Every other host is refused before a connection is opened (engine/registry/policy.ts).
   */
  allowedRegistries: string[];
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
  /** The TCP and HTTP edge, for every connection (page loads, API calls, sockets before upgrade). */
  http: {
    /** A request (or upgrade) whose headers are not complete this long after the connection opened gets 408 and is closed. */
    headersTimeoutMs: number;
    /** A whole request, body included. */
    requestTimeoutMs: number;
    /** An idle keep-alive connection between requests. */
    keepAliveTimeoutMs: number;
    /** How often the timeouts above are checked (Node's default, 30 s, would let them run long). */
    checkIntervalMs: number;
    /**
     * TCP connections one client address (IPv6: per /64) may hold beyond `ws.maxConnectionsPerIp`:
     * room for page loads and API calls. Counted when a connection is accepted, HTTP and WebSocket
     * alike, so the total per address is `ws.maxConnectionsPerIp + extraConnectionsPerIp`.
     */
    extraConnectionsPerIp: number;
  };
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxSessions: 200,
  sessionsPerAddress: { max: 20, burst: 10, perMinute: 20 },
  connectGraceMs: 60 * 1000,
  maxContainersPerSession: 10,
  maxImagesPerSession: 60,
  volumeBytes: 64 * 1024 * 1024,
  maxVolumesPerSession: 4,
  maxStoredLayerBytesPerSession: 512 * 1024 * 1024,
  allowedRegistries: [],
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
  http: {
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    keepAliveTimeoutMs: 5_000,
    checkIntervalMs: 1_000,
    extraConnectionsPerIp: 128,
  },
};

export type LimitsOverride = Partial<
  Omit<ServerLimits, 'container' | 'ws' | 'sessionsPerAddress' | 'http'>
> & {
  http?: Partial<ServerLimits['http']>;
  container?: Partial<ServerLimits['container']>;
  ws?: Partial<ServerLimits['ws']>;
  sessionsPerAddress?: Partial<ServerLimits['sessionsPerAddress']>;
};

export function resolveLimits(override: LimitsOverride = {}): ServerLimits {
  return {
    ...DEFAULT_LIMITS,
    ...override,
    container: { ...DEFAULT_LIMITS.container, ...override.container },
    ws: { ...DEFAULT_LIMITS.ws, ...override.ws },
    sessionsPerAddress: { ...DEFAULT_LIMITS.sessionsPerAddress, ...override.sessionsPerAddress },
    http: { ...DEFAULT_LIMITS.http, ...override.http },
  };
}
