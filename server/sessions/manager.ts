// Creates, finds and disposes browser sessions on this node. A session is addressable by its id
// (for a later router in front of many nodes) and found by its token in constant time; idle ones
// are reaped with everything they hold. Creation is where the node's capacity is shared out: per
// client address (address-quota.ts), and with a workshop's free seats kept for its students.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { EngineConfig } from '../../engine/config.ts';
import { listContainers, stopContainer } from '../../engine/container/index.ts';
import { createContext, type EngineContext } from '../../engine/context.ts';
import type { EngineEvent } from '../../engine/events.ts';
import { sessionRegistryAccess } from '../../engine/registry/session-access.ts';
import { sessionRoot } from '../../engine/store/paths.ts';
import { type TeardownReport, teardownRoot } from '../../engine/teardown.ts';
import type { RanCommand } from '../checks/evaluate.ts';
import type { ServerLimits } from '../limits.ts';
import type { SessionWatcher } from '../pictures/fs-changes.ts';
import type { SessionEvent } from '../protocol.ts';
import { AddressQuota } from './address-quota.ts';
import type { Session, SessionEventBus, SessionTerminal, TerminalHub } from './session.ts';

export { SessionQuotaError } from './address-quota.ts';

/** Thrown by create() when the node holds `maxSessions` already (less the seats kept for students). */
export class SessionLimitError extends Error {
  constructor(max: number, reserved: number) {
    super(
      reserved > 0
        ? `this server is full (${max} sessions, ${reserved} of them kept for workshop students); try again later`
        : `this server is full (${max} sessions); try again later`,
    );
    this.name = 'SessionLimitError';
  }
}

export interface CreateSessionOptions {
  /**
   * The client's address (RequestInfo.client), counted against `sessionsPerAddress`. Sessions the
   * server makes for itself pass none.
   */
  client?: string;
  /**
   * The session fills a workshop seat the caller holds: it may use the capacity kept for seats, and
   * is not counted per address (the seats bound it; a class behind one NAT shares an address).
   */
  workshopSeat?: boolean;
}

export interface SessionManagerOptions {
  /** The server's state root; sessions live in `<root>/sessions/<id>`. */
  root: string;
  /** The engine configuration sessions start from; container limits come from `limits`. */
  config: EngineConfig;
  limits: ServerLimits;
  /** Sees every session event (metrics); runs before the session's own listeners. */
  observe?: (session: Session, event: SessionEvent) => void;
  log?: (message: string) => void;
}

class EventBus implements SessionEventBus {
  readonly #listeners = new Set<(event: SessionEvent) => void>();
  readonly #before: (event: SessionEvent) => void;
  constructor(before: (event: SessionEvent) => void) {
    this.#before = before;
  }
  emit(event: SessionEvent): void {
    this.#before(event);
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch {
        // a listener's bug must not stop the engine operation that emitted the event
      }
    }
  }
  on(listener: (event: SessionEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

export class ServerSession implements Session {
  readonly id: string;
  readonly token: string;
  readonly root: string;
  readonly ctx: EngineContext;
  readonly events: SessionEventBus;
  readonly limits: ServerLimits;
  readonly terminals = new Map<string, SessionTerminal>();
  readonly commands: RanCommand[] = [];
  readonly terminalHub: TerminalHub = { pending: new Map(), attached: new Map(), pauses: new Map() };
  watcher: SessionWatcher | undefined;
  held: string | undefined;
  readonly createdAt = Date.now();
  lastActive = Date.now();
  sockets = 0;
  /** Whether a WebSocket was ever opened for this session (a page, not a script that only asked for one). */
  everConnected = false;
  readonly #abort = new AbortController();
  readonly #hooks = new Set<() => void | Promise<void>>();
  #disposing: Promise<TeardownReport> | undefined;
  readonly #onDisposed: (s: ServerSession) => void;

  constructor(init: {
    id: string;
    token: string;
    root: string;
    sharedContent: string;
    config: EngineConfig;
    limits: ServerLimits;
    observe: (session: Session, event: SessionEvent) => void;
    onDisposed: (s: ServerSession) => void;
  }) {
    this.id = init.id;
    this.token = init.token;
    this.root = init.root;
    this.limits = init.limits;
    this.#onDisposed = init.onDisposed;
    const bus = new EventBus((event) => init.observe(this, event));
    this.events = bus;
    this.ctx = createContext(init.root, {
      config: init.config,
      events: (event: EngineEvent) => bus.emit(event),
      signal: this.#abort.signal,
      sharedContent: init.sharedContent,
      // Which registries it may reach, its namespace for pushes, the local registry's credential.
      registry: sessionRegistryAccess({
        serverRoot: init.sharedContent,
        config: init.config,
        sessionId: init.id,
        allowedRegistries: init.limits.allowedRegistries,
      }),
    });
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get disposed(): boolean {
    return this.#disposing !== undefined;
  }

  touch(): void {
    this.lastActive = Date.now();
  }

  /** Counts a socket in; returns the function that counts it out. */
  addSocket(): () => void {
    this.sockets++;
    this.everConnected = true;
    this.touch();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.sockets--;
      this.touch();
    };
  }

  onDispose(fn: () => void | Promise<void>): () => void {
    this.#hooks.add(fn);
    return () => this.#hooks.delete(fn);
  }

  dispose(): Promise<void> {
    return this.disposeWithReport().then(() => undefined);
  }

  /** dispose() with what teardown found; the manager logs leftovers. Idempotent. */
  disposeWithReport(): Promise<TeardownReport> {
    this.#disposing ??= (async () => {
      this.#abort.abort(new Error('session ended'));
      for (const hook of [...this.#hooks].reverse()) {
        try {
          await hook();
        } catch {
          // teardown continues whatever a module's hook does
        }
      }
      for (const terminal of this.terminals.values()) {
        try {
          terminal.dispose();
        } catch {
          // as above
        }
      }
      this.terminals.clear();
      const report = await teardownRoot(this.ctx);
      this.#onDisposed(this);
      return report;
    })();
    return this.#disposing;
  }
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class SessionManager {
  readonly #options: SessionManagerOptions;
  readonly #byId = new Map<string, ServerSession>();
  /** sha256(token) → session: the lookup never compares secret bytes with a short-circuiting `===`. */
  readonly #byTokenHash = new Map<string, ServerSession>();
  readonly #createdListeners = new Set<(s: Session) => void>();
  readonly #disposedListeners = new Set<(s: Session) => void>();
  #reaper: NodeJS.Timeout | undefined;
  #runtimeCache: string | undefined;
  readonly #quota: AddressQuota;
  /** What each live session counts out of its address's quota when it ends. */
  readonly #quotaRelease = new Map<string, () => void>();
  readonly #reservations = new Set<() => number>();

  constructor(options: SessionManagerOptions) {
    this.#options = options;
    this.#quota = new AddressQuota(options.limits.sessionsPerAddress);
  }

  /**
   * Keeps capacity for workshop seats: `seats()` says how many seats are free now, and sessions
   * created without `workshopSeat` may only use `maxSessions` minus those. Returns the unregister.
   */
  reserve(seats: () => number): () => void {
    this.#reservations.add(seats);
    return () => this.#reservations.delete(seats);
  }

  /** Sessions currently kept for free workshop seats. */
  get reserved(): number {
    let total = 0;
    for (const seats of this.#reservations) total += Math.max(0, seats());
    return total;
  }

  get count(): number {
    return this.#byId.size;
  }

  list(): ServerSession[] {
    return [...this.#byId.values()];
  }

  get(id: string): ServerSession | undefined {
    return this.#byId.get(id);
  }

  /** The session whose token is `token`, compared in constant time; undefined for anything else. */
  byToken(token: string | undefined): ServerSession | undefined {
    if (typeof token !== 'string' || token.length === 0 || token.length > 200) return undefined;
    const session = this.#byTokenHash.get(hashToken(token));
    if (!session || session.disposed) return undefined;
    const a = Buffer.from(session.token);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b) ? session : undefined;
  }

  /**
   * A runtime verdict cached in the server root (`run/runtime.json`), copied into each new session so
   * it does not probe the runtime again.
   */
  setRuntimeCache(path: string | undefined): void {
    this.#runtimeCache = path;
  }

  /**
   * Creates a session, or throws SessionLimitError (the node is full, free workshop seats counted as
   * taken unless this session fills one) or SessionQuotaError (the client's address is over its share).
   */
  async create(options: CreateSessionOptions = {}): Promise<ServerSession> {
    const { limits, root, config } = this.#options;
    const reserved = options.workshopSeat ? 0 : this.reserved;
    if (this.#byId.size + reserved >= limits.maxSessions) {
      throw new SessionLimitError(limits.maxSessions, reserved);
    }
    const release =
      options.client !== undefined && !options.workshopSeat ? this.#quota.admit(options.client) : undefined;
    const id = randomBytes(16).toString('hex');
    const token = randomBytes(32).toString('base64url');
    const dir = sessionRoot(root, id);
    const session = new ServerSession({
      id,
      token,
      root: dir,
      sharedContent: root,
      config: {
        ...config,
        limits: {
          ...config.limits,
          memoryBytes: limits.container.memoryBytes,
          pids: limits.container.pids,
          cpus: limits.container.cpus,
          containerDiskBytes: limits.container.diskBytes,
          maxContainers: limits.maxContainersPerSession,
          maxImages: limits.maxImagesPerSession,
          storedLayerBytes: limits.maxStoredLayerBytesPerSession,
          // Volumes on capped tmpfs, and no host paths: the sandbox's (engine/volume/volumes.ts).
          volumeBytes: limits.volumeBytes,
          maxVolumes: limits.maxVolumesPerSession,
          hostBinds: false,
        },
      },
      limits,
      observe: (s, e) => this.#options.observe?.(s, e),
      onDisposed: (s) => this.#forget(s),
    });
    // Registered before the awaits below, so concurrent creates cannot overshoot maxSessions.
    this.#byId.set(id, session);
    this.#byTokenHash.set(hashToken(token), session);
    if (release) this.#quotaRelease.set(id, release);
    this.#disposeIfNeverConnected(session);
    await mkdir(session.ctx.paths.run, { recursive: true });
    if (this.#runtimeCache) {
      await copyFile(this.#runtimeCache, join(session.ctx.paths.run, 'runtime.json')).catch(() => {});
    }
    for (const listener of this.#createdListeners) listener(session);
    return session;
  }

  /** Disposes a session by id; resolves when its containers, mounts and root are gone. */
  async dispose(id: string): Promise<TeardownReport | undefined> {
    const session = this.#byId.get(id);
    if (!session) return undefined;
    const report = await session.disposeWithReport();
    if (report.leftovers.length > 0 || report.errors.length > 0) {
      this.#options.log?.(
        `session ${id}: teardown left ${[...report.leftovers, ...report.errors].join('; ')}`,
      );
    }
    return report;
  }

  async disposeAll(): Promise<void> {
    await Promise.all(this.list().map((s) => this.dispose(s.id)));
  }

  /** Disposes sessions without a socket whose last activity is older than the idle timeout. */
  async reapIdle(now = Date.now()): Promise<string[]> {
    const idle = this.list().filter(
      (s) => !s.disposed && s.sockets === 0 && now - s.lastActive >= this.#options.limits.idleTimeoutMs,
    );
    await Promise.all(idle.map((s) => this.dispose(s.id)));
    return idle.map((s) => s.id);
  }

  /**
   * Stops (SIGTERM, then SIGKILL) every container that has run longer than the per-container run
   * time, so a forgotten `sleep infinity` or a busy loop does not hold the machine for ever.
   */
  async stopOverdue(now = Date.now()): Promise<string[]> {
    const limit = this.#options.limits.container.maxRunMs;
    const stopped: string[] = [];
    for (const session of this.list().filter((s) => !s.disposed)) {
      for (const row of await listContainers(session.ctx, { all: false, external: true })) {
        const started = Date.parse(row.startedAt ?? '');
        if (Number.isFinite(started) && now - started >= limit) {
          await stopContainer(session.ctx, row.id, { timeout: 2 }).catch(() => {});
          stopped.push(row.id);
        }
      }
    }
    return stopped;
  }

  startReaper(): void {
    this.#reaper ??= setInterval(() => {
      this.reapIdle().catch((err: Error) => this.#options.log?.(`idle reaping: ${err.message}`));
      this.stopOverdue().catch((err: Error) => this.#options.log?.(`run time limit: ${err.message}`));
    }, this.#options.limits.reapIntervalMs);
    this.#reaper.unref();
  }

  stopReaper(): void {
    if (this.#reaper) clearInterval(this.#reaper);
    this.#reaper = undefined;
  }

  onCreated(listener: (s: Session) => void): () => void {
    this.#createdListeners.add(listener);
    return () => this.#createdListeners.delete(listener);
  }

  onDisposed(listener: (s: Session) => void): () => void {
    this.#disposedListeners.add(listener);
    return () => this.#disposedListeners.delete(listener);
  }

  /**
   * Disposes the session once it has gone `connectGraceMs` without a request while never having
   * opened a socket: asked-for-and-abandoned sessions must not hold the node for the idle timeout.
   */
  #disposeIfNeverConnected(session: ServerSession): void {
    const grace = this.#options.limits.connectGraceMs;
    let timer: NodeJS.Timeout | undefined;
    const check = () => {
      timer = undefined;
      if (session.disposed || session.everConnected) return;
      const quiet = Date.now() - session.lastActive;
      if (quiet < grace) {
        timer = setTimeout(check, grace - quiet).unref();
        return;
      }
      this.dispose(session.id).catch((err: Error) =>
        this.#options.log?.(`session ${session.id}: ${err.message}`),
      );
    };
    timer = setTimeout(check, grace).unref();
    session.onDispose(() => {
      if (timer) clearTimeout(timer);
    });
  }

  #forget(session: ServerSession): void {
    this.#byId.delete(session.id);
    this.#byTokenHash.delete(hashToken(session.token));
    this.#quotaRelease.get(session.id)?.();
    this.#quotaRelease.delete(session.id);
    for (const listener of this.#disposedListeners) listener(session);
  }
}
