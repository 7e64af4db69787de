// The page's one connection to the Layerlab server: gets a session (`GET /api/session`), opens `/ws`,
// reconnects with backoff, and routes what arrives — JSON messages by `type`, terminal bytes by
// channel — to whoever subscribed. Without a server (a static copy of the site) it settles in
// `replay` mode and the components play recordings instead. Knows nothing of the DOM.

import type {
  ClientMessage,
  RequestMessage,
  ServerMessage,
  ServerMessageOf,
} from '../../../server/protocol.ts';
import type { RequestInput, RequestName, RequestResults } from '../../../server/requests.ts';
import { lessonIdOf } from './recording.ts';

export type ConnectionStatus = 'connecting' | 'live' | 'reconnecting' | 'replay' | 'ended';
type Handler<T> = (value: T) => void;
type Unsubscribe = () => void;

/** Close code the server uses when the session is over (server/protocol.ts CLOSE.sessionEnded). */
const SESSION_ENDED = 4000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10_000;
/** A seat being moved between cluster nodes is asked about again this soon. */
const MOVED_RETRY_MS = 700;
const REQUEST_TIMEOUT_MS = 60_000;
/** Where the page remembers the session it had, to tell a kept session from a new one. */
const LAST_SESSION_KEY = 'layerlab:session';

type ResultMessage = ServerMessageOf<'result'>;

/** A request the server answered with a failure (or that never reached it). */
export class RequestError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.name = 'RequestError';
    this.code = code;
  }
}

export class Connection {
  #status: ConnectionStatus = 'connecting';
  #socket: WebSocket | undefined;
  #attempt = 0;
  #everLive = false;
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The next try comes soon: the server said the seat is being moved (cluster). */
  #soon = false;
  #nextId = 1;
  readonly #statusHandlers = new Set<Handler<ConnectionStatus>>();
  readonly #typeHandlers = new Map<string, Set<Handler<ServerMessage>>>();
  readonly #channelHandlers = new Map<number, Set<Handler<Uint8Array>>>();
  readonly #pending = new Map<string, { resolve: Handler<ResultMessage>; reject: Handler<Error> }>();
  #session: string | undefined;
  #kept: boolean | undefined;
  #refusal: string | undefined;

  get status(): ConnectionStatus {
    return this.#status;
  }

  get session(): string | undefined {
    return this.#session;
  }

  /** Why the server made no sandbox for this page (a workshop it did not join, or one that ended). */
  get refusal(): string | undefined {
    return this.#refusal;
  }

  /**
   * Whether the server gave this page the session this browser had before (a reload, a second visit)
   * rather than a new one; undefined until the first answer of `GET /api/session`.
   */
  get kept(): boolean | undefined {
    return this.#kept;
  }

  /** Calls `fn` now with the current status and on every change. */
  onStatus(fn: Handler<ConnectionStatus>): Unsubscribe {
    this.#statusHandlers.add(fn);
    fn(this.#status);
    return () => this.#statusHandlers.delete(fn);
  }

  on<T extends ServerMessage['type']>(type: T, fn: Handler<ServerMessageOf<T>>): Unsubscribe {
    let set = this.#typeHandlers.get(type);
    if (!set) {
      set = new Set();
      this.#typeHandlers.set(type, set);
    }
    const h = fn as Handler<ServerMessage>;
    set.add(h);
    return () => set.delete(h);
  }

  onChannel(channel: number, fn: Handler<Uint8Array>): Unsubscribe {
    let set = this.#channelHandlers.get(channel);
    if (!set) {
      set = new Set();
      this.#channelHandlers.set(channel, set);
    }
    set.add(fn);
    return () => set.delete(fn);
  }

  /** Sends a control message; false when not connected (the caller retries on the next `live`). */
  send(message: ClientMessage): boolean {
    if (this.#socket?.readyState !== WebSocket.OPEN) return false;
    this.#socket.send(JSON.stringify(message));
    return true;
  }

  /** Sends terminal bytes as one binary frame `[channel][bytes]`. */
  sendBytes(channel: number, bytes: Uint8Array): boolean {
    if (this.#socket?.readyState !== WebSocket.OPEN) return false;
    const frame = new Uint8Array(bytes.length + 1);
    frame[0] = channel;
    frame.set(bytes, 1);
    this.#socket.send(frame);
    return true;
  }

  /**
   * Runs request `name` of the session API (server/requests.ts) and resolves with its typed result;
   * rejects with a `RequestError` carrying the server's message when it fails.
   */
  request<K extends RequestName>(name: K, input: RequestInput<K>): Promise<RequestResults[K]> {
    const id = `r${this.#nextId++}`;
    return new Promise<ResultMessage>((resolve, reject) => {
      if (!this.send({ ...input, type: name, id } as RequestMessage)) {
        reject(new RequestError('not connected'));
        return;
      }
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error('no answer from the server'));
      }, REQUEST_TIMEOUT_MS);
      this.#pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    }).then((result) => {
      if (!result.ok)
        throw new RequestError(result.error?.message ?? 'the request failed', result.error?.code);
      // The server answers request `name` with RequestResults[K] (server/api/session-api.ts), so the
      // data of its result is that type: the one place the page trusts the wire's shape.
      return result.data as RequestResults[K];
    });
  }

  start(): void {
    this.#stopped = false;
    void this.#connect();
  }

  /** Closes the socket and forgets every timer; used when the page goes away. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.close(1000, 'page left');
    for (const p of this.#pending.values()) p.reject(new Error('page left'));
    this.#pending.clear();
  }

  #setStatus(status: ConnectionStatus): void {
    if (status === this.#status) return;
    this.#status = status;
    for (const fn of [...this.#statusHandlers]) fn(status);
  }

  async #connect(): Promise<void> {
    let token: string;
    try {
      const res = await fetch('/api/session', {
        credentials: 'same-origin',
        headers: { accept: 'application/json' },
      });
      const type = res.headers.get('content-type') ?? '';
      // A workshop server makes no sandbox for whoever did not join, nor for anyone after the end.
      const refusal = await workshopRefusal(res);
      if (refusal !== undefined) {
        this.#refusal = refusal;
        return this.#setStatus('ended');
      }
      if (!res.ok || !type.includes('application/json')) {
        // A static copy of the site (404 or an HTML page): there is no engine to talk to. A full
        // server (503) or too many sessions from this address (429) is worth trying again.
        if (!this.#everLive && res.status !== 503 && res.status !== 429) return this.#setStatus('replay');
        // A cluster moving this student's seat to another node: worth asking again soon, not later.
        if (res.status === 503 && (await errorCode(res)) === 'moved') this.#soon = true;
        throw new Error(`GET /api/session: ${res.status}`);
      }
      const body = (await res.json()) as { session: string; token: string };
      token = body.token;
      this.#session = body.session;
      if (this.#kept === undefined) this.#kept = rememberSession(body.session);
    } catch {
      if (!this.#everLive && this.#attempt >= 1) return this.#setStatus('replay');
      return this.#retry();
    }
    if (this.#stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(token)}`);
    socket.binaryType = 'arraybuffer';
    this.#socket = socket;
    socket.addEventListener('message', (e) => this.#receive(e.data));
    socket.addEventListener('close', (e) => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      for (const p of this.#pending.values()) p.reject(new Error('connection lost'));
      this.#pending.clear();
      if (this.#stopped) return;
      if (e.code === SESSION_ENDED) return this.#setStatus('ended');
      this.#retry();
    });
  }

  #retry(): void {
    if (this.#stopped) return;
    this.#setStatus(this.#everLive ? 'reconnecting' : 'connecting');
    if (this.#soon) {
      this.#soon = false;
      this.#timer = setTimeout(() => void this.#connect(), MOVED_RETRY_MS);
      return;
    }
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.#attempt);
    this.#attempt++;
    const delay = base * (0.8 + Math.random() * 0.4);
    this.#timer = setTimeout(() => void this.#connect(), delay);
  }

  #receive(data: unknown): void {
    if (data instanceof ArrayBuffer) {
      const bytes = new Uint8Array(data);
      if (bytes.length < 1) return;
      const payload = bytes.subarray(1);
      for (const fn of [...(this.#channelHandlers.get(bytes[0]!) ?? [])]) fn(payload);
      return;
    }
    let message: ServerMessage;
    try {
      message = JSON.parse(String(data)) as ServerMessage;
    } catch {
      return;
    }
    if (message.type === 'welcome') {
      this.#attempt = 0;
      this.#everLive = true;
      this.#setStatus('live');
      // In a workshop, the teacher's dashboard shows which lesson each student has open, and the page
      // shows the room the teacher runs (its DOM lives in the classroom module, loaded only here).
      if (message.workshop) {
        void this.request('visit', { lesson: lessonIdOf(location.pathname) }).catch(() => {});
        void import('../workshop/classroom.ts').then((m) => m.mountClassroom(this)).catch(() => {});
      }
    }
    if (message.type === 'result' || (message.type === 'error' && message.id)) {
      const id = message.id!;
      const pending = this.#pending.get(id);
      if (pending) {
        this.#pending.delete(id);
        if (message.type === 'result') pending.resolve(message);
        else pending.reject(new Error(message.message));
      }
    }
    for (const fn of [...(this.#typeHandlers.get(message.type) ?? [])]) fn(message);
  }
}

/** The `error.code` of a JSON error answer, if it is one. */
async function errorCode(res: Response): Promise<string | undefined> {
  try {
    const body = (await res.clone().json()) as { error?: { code?: unknown } };
    return typeof body.error?.code === 'string' ? body.error.code : undefined;
  } catch {
    return undefined;
  }
}

/** The server's sentence when it refuses a sandbox for a workshop (403 `not_joined`, 410 `ended`). */
async function workshopRefusal(res: Response): Promise<string | undefined> {
  if (res.status !== 403 && res.status !== 410) return undefined;
  try {
    const body = (await res.clone().json()) as { error?: { code?: unknown; message?: unknown } };
    const { code, message } = body.error ?? {};
    return (code === 'not_joined' || code === 'ended') && typeof message === 'string' ? message : undefined;
  } catch {
    return undefined;
  }
}

/** Records `session` as this browser's; true when it was already the one recorded. */
function rememberSession(session: string): boolean {
  try {
    const before = localStorage.getItem(LAST_SESSION_KEY);
    localStorage.setItem(LAST_SESSION_KEY, session);
    return before === session;
  } catch {
    return false; // storage refused (private mode): nothing to compare with
  }
}

let shared: Connection | undefined;

/** The page's connection, started on first use and stopped when the page is left. */
export function connection(): Connection {
  if (!shared) {
    const c = new Connection();
    shared = c;
    c.start();
    addEventListener('pagehide', () => c.stop());
    addEventListener('pageshow', (e) => {
      if (e.persisted) c.start();
    });
  }
  return shared;
}
