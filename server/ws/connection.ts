// One WebSocket of a session: validates every message, routes binary frames to terminals by
// channel, streams terminal output with back-pressure, forwards session events, and answers
// requests. Terminals belong to the session, so closing the socket only detaches from them.

import type WebSocket from 'ws';
import { LayerlabError } from '../../engine/errors.ts';
import { parseRequestInput, runRequest, type SessionApi } from '../api/session-api.ts';
import type { ServerLimits } from '../limits.ts';
import type { Metrics } from '../metrics.ts';
import {
  CLOSE,
  type ClientMessage,
  decodeTerminalFrame,
  type ErrorCode,
  encodeTerminalFrame,
  parseClientMessage,
  type RequestMessage,
  type ServerMessage,
} from '../protocol.ts';
import type { ServerSession } from '../sessions/manager.ts';
import type { SessionTerminal } from '../sessions/session.ts';
import { createTerminal } from '../terminal/terminal.ts';
import { TokenBucket } from './rate-limit.ts';

type Ran = Extract<ServerMessage, { type: 'terminal.ran' }>;

interface Attachment {
  name: string;
  channel: number;
  terminal: SessionTerminal;
  unsubscribe: () => void;
  /** Output dropped while the socket was congested (terminal without pause): resync by replay. */
  dropped: boolean;
}

export interface ConnectionDeps {
  limits: ServerLimits;
  metrics: Metrics;
  /** The session API the requests run against (shared with the HTTP routes). */
  api: SessionApi;
  /** The workshop shown in `welcome`, read when a socket opens (the plugin sets it after start). */
  /** The workshop the session's page belongs to, for `welcome` (undefined: none). */
  workshop: (sessionId: string) => ({ name: string } & Record<string, unknown>) | undefined;
  log: (message: string) => void;
}

export class Connection {
  readonly ws: WebSocket;
  readonly session: ServerSession;
  readonly #deps: ConnectionDeps;
  readonly #bucket: TokenBucket;
  readonly #byChannel = new Map<number, Attachment>();
  readonly #byName = new Map<string, Attachment>();
  readonly #cleanups: (() => void)[] = [];
  #congested = false;
  #drainTimer: NodeJS.Timeout | undefined;
  /** Terminals whose input queue is full: until each drains, this socket reads nothing more. */
  readonly #heldBy = new Map<SessionTerminal, () => void>();
  #closed = false;
  alive = true;

  constructor(ws: WebSocket, session: ServerSession, deps: ConnectionDeps) {
    this.ws = ws;
    this.session = session;
    this.#deps = deps;
    this.#bucket = new TokenBucket(deps.limits.ws.burst, deps.limits.ws.perSecond);
    this.#cleanups.push(session.addSocket());
    this.#cleanups.push(
      session.events.on((event) => {
        // Events are pictures, not a log: a congested socket skips them instead of queueing without bound.
        if (this.ws.bufferedAmount > deps.limits.ws.highWaterMark * 4) return;
        this.send({ type: 'event', event });
      }),
    );
    ws.on('pong', () => {
      this.alive = true;
    });
    ws.on('message', (data, isBinary) => {
      this.#onMessage(data as Buffer | Buffer[] | ArrayBuffer, isBinary).catch((err: Error) => {
        deps.metrics.error();
        deps.log(`session ${session.id}: ${err.stack ?? err.message}`);
        this.error('internal', 'internal server error');
      });
    });
    ws.on('close', () => this.#onClose());
    ws.on('error', (err) => {
      // ws reports oversized frames (1009) and protocol errors here, then closes the socket.
      deps.metrics.error();
      deps.log(`session ${session.id}: socket error: ${err.message}`);
    });
    const workshop = deps.workshop(session.id);
    this.send({ type: 'welcome', session: session.id, ...(workshop ? { workshop } : {}) });
  }

  send(message: ServerMessage): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.#deps.metrics.wsMessages.out++;
    this.ws.send(JSON.stringify(message));
  }

  error(code: ErrorCode, message: string, id?: string): void {
    this.send({ type: 'error', code, message, ...(id !== undefined ? { id } : {}) });
  }

  /** Closes the socket as the session ends (reaped, reset by a teacher, workshop over). */
  end(reason: string): void {
    this.ws.close(CLOSE.sessionEnded, reason.slice(0, 120));
  }

  async #onMessage(data: Buffer | Buffer[] | ArrayBuffer, isBinary: boolean): Promise<void> {
    const { metrics, limits } = this.#deps;
    metrics.wsMessages.in++;
    this.session.touch();
    if (!this.#bucket.take()) {
      metrics.error();
      if (this.#bucket.refusedInARow > limits.ws.abuseLimit) {
        this.ws.close(CLOSE.policy, 'rate limit exceeded');
        return;
      }
      // One error frame per burst of refusals is enough for the page to show it.
      if (this.#bucket.refusedInARow === 1 || this.#bucket.refusedInARow % 50 === 0) {
        this.error('rate_limited', `too many messages: at most ${limits.ws.perSecond} per second`);
      }
      return;
    }
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (isBinary) {
      const frame = decodeTerminalFrame(buf);
      const attachment = frame && this.#byChannel.get(frame.channel);
      if (!frame || !attachment) {
        metrics.error();
        this.error('bad_frame', `binary frame for channel ${frame?.channel ?? '(none)'}, which is not open`);
        return;
      }
      // A teacher paused the class: keys are dropped, not queued for after (the page says so).
      if (this.session.held !== undefined) return;
      if (attachment.terminal.input(frame.payload) === false) this.#holdInput(attachment.terminal);
      return;
    }
    const parsed = parseClientMessage(buf.toString('utf8'));
    if (!parsed.ok) {
      metrics.error();
      this.error(parsed.code, parsed.message);
      return;
    }
    await this.#dispatch(parsed.message);
  }

  async #dispatch(message: ClientMessage): Promise<void> {
    switch (message.type) {
      case 'ping':
        this.send({ type: 'pong' });
        return;
      case 'terminal.open':
        await this.#open(message.terminal, message.cols, message.rows);
        return;
      case 'terminal.resize':
        this.#terminal(message.terminal)?.resize(message.cols, message.rows);
        return;
      case 'terminal.run':
        this.#run(message);
        return;
      case 'terminal.close': {
        if (!this.#terminal(message.terminal)) return;
        closeTerminal(this.session, message.terminal);
        return;
      }
      default:
        // A request of the session API (requests.ts): answered by the same code as its HTTP route.
        await this.#request(message);
        return;
    }
  }

  async #request(message: RequestMessage): Promise<void> {
    const { type: name, id, ...input } = message;
    try {
      const data = await runRequest(this.#deps.api, name, this.session, parseRequestInput(name, input));
      this.send({ type: 'result', id, ok: true, data });
    } catch (err) {
      // Typed engine and check errors carry a message meant for the reader; anything else is ours.
      const known = err instanceof LayerlabError;
      if (!known) {
        this.#deps.metrics.error();
        this.#deps.log(`session ${this.session.id}: request ${id}: ${(err as Error).stack ?? String(err)}`);
      }
      this.send({
        type: 'result',
        id,
        ok: false,
        error: {
          code: known ? 'failed' : 'internal',
          message: known ? err.message : 'internal server error',
        },
      });
    }
  }

  /**
   * Click-to-run. Inside a container's session the line is refused, not queued: typed into the
   * container's program it would mean something else, and queued it would run, unseen, after `exit`.
   */
  #run(message: Extract<ClientMessage, { type: 'terminal.run' }>): void {
    const { terminal: name, id } = message;
    const terminal = this.#terminal(name);
    const ran = (status: Ran['status'], reason?: Ran['reason']) => {
      if (id === undefined || this.#closed) return;
      this.send({ type: 'terminal.ran', terminal: name, id, status, ...(reason ? { reason } : {}) });
    };
    if (!terminal) {
      ran('refused', 'closed');
      return;
    }
    if (terminal.mode === 'container') {
      ran('refused', 'container');
      return;
    }
    if (this.session.held !== undefined) {
      ran('refused', 'paused');
      return;
    }
    const result = terminal.run(message.command);
    if (result.status === 'busy') {
      ran('refused', 'busy');
      return;
    }
    ran(result.status);
    if (id !== undefined) void terminal.idle().then(() => ran('done'));
  }

  #terminal(name: string): SessionTerminal | undefined {
    const attachment = this.#byName.get(name);
    if (!attachment)
      this.error('no_such_terminal', `terminal ${JSON.stringify(name)} is not open on this socket`);
    return attachment?.terminal;
  }

  async #open(name: string, cols: number, rows: number): Promise<void> {
    const { limits } = this.#deps;
    const session = this.session;
    const hub = session.terminalHub;
    let terminal = session.terminals.get(name);
    if (terminal) terminal.resize(cols, rows);
    else {
      let pending = hub.pending.get(name);
      if (!pending) {
        if (session.terminals.size + hub.pending.size >= limits.maxTerminalsPerSession) {
          this.error('limit', `at most ${limits.maxTerminalsPerSession} terminals per session`);
          return;
        }
        pending = Promise.resolve(createTerminal(session, { cols, rows, name })).then((t) => {
          session.terminals.set(name, t);
          t.onClose?.(() => closeTerminal(session, name));
          return t;
        });
        hub.pending.set(name, pending);
        pending.finally(() => hub.pending.delete(name)).catch(() => {});
      }
      terminal = await pending;
    }
    if (this.#closed || session.disposed) return;
    this.#attach(name, terminal);
  }

  #attach(name: string, terminal: SessionTerminal): void {
    const existing = this.#byName.get(name);
    if (existing?.terminal === terminal) {
      // The page reopened a terminal it holds (a remount): resend the screen on the same channel.
      this.send({
        type: 'terminal.opened',
        terminal: name,
        channel: existing.channel,
        replay: terminal.replay(),
      });
      return;
    }
    if (existing) this.detach(name);
    const channel = this.#freeChannel();
    if (channel === undefined) {
      this.error('limit', 'no free terminal channel on this socket');
      return;
    }
    const hub = this.session.terminalHub;
    const offOutput = terminal.onOutput((data) => this.#output(attachment, data));
    const offMode = terminal.onMode((mode, container) => {
      this.send({ type: 'terminal.mode', terminal: name, mode, ...(container ? { container } : {}) });
    });
    const attachment: Attachment = {
      name,
      channel,
      terminal,
      dropped: false,
      unsubscribe: () => {
        offOutput();
        offMode();
      },
    };
    this.#byChannel.set(channel, attachment);
    this.#byName.set(name, attachment);
    const sockets = hub.attached.get(name) ?? new Set<Connection>();
    hub.attached.set(name, sockets);
    sockets.add(this);
    if (this.#congested) this.#pause(terminal);
    // Replay and subscription happen in one tick: no output can fall between them.
    this.send({ type: 'terminal.opened', terminal: name, channel, replay: terminal.replay() });
  }

  /** Stops forwarding a terminal to this socket (the terminal lives on in the session). */
  detach(name: string, notify = false): void {
    const attachment = this.#byName.get(name);
    if (!attachment) return;
    attachment.unsubscribe();
    this.#releaseInput(attachment.terminal);
    if (this.#congested) this.#unpause(attachment.terminal);
    this.#byName.delete(name);
    this.#byChannel.delete(attachment.channel);
    this.session.terminalHub.attached.get(name)?.delete(this);
    if (notify) this.send({ type: 'terminal.closed', terminal: name });
  }

  #freeChannel(): number | undefined {
    for (let c = 0; c < 256; c++) if (!this.#byChannel.has(c)) return c;
    return undefined;
  }

  #output(attachment: Attachment, data: Buffer): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    const { highWaterMark } = this.#deps.limits.ws;
    if (this.#congested && attachment.terminal.pause === undefined) {
      attachment.dropped = true; // no pause: drop now, resync with a replay once drained
      return;
    }
    this.ws.send(encodeTerminalFrame(attachment.channel, data));
    if (!this.#congested && this.ws.bufferedAmount > highWaterMark) this.#startCongestion();
  }

  /**
   * The socket cannot keep up: pause every terminal attached to it (their output waits in the PTY
   * or shell, bounded by the kernel) and poll until the queue drains below the low-water mark.
   */
  #startCongestion(): void {
    this.#congested = true;
    for (const a of this.#byName.values()) this.#pause(a.terminal);
    this.#drainTimer = setInterval(() => {
      if (this.ws.readyState !== this.ws.OPEN) return this.#endCongestion();
      if (this.ws.bufferedAmount <= this.#deps.limits.ws.lowWaterMark) this.#endCongestion();
    }, 10);
  }

  #endCongestion(): void {
    if (!this.#congested) return;
    this.#congested = false;
    clearInterval(this.#drainTimer);
    this.#drainTimer = undefined;
    for (const a of this.#byName.values()) {
      this.#unpause(a.terminal);
      if (a.dropped) {
        a.dropped = false;
        this.send({
          type: 'terminal.opened',
          terminal: a.name,
          channel: a.channel,
          replay: a.terminal.replay(),
        });
      }
    }
  }

  /**
   * A terminal has more typed input queued than it wants: stop reading this socket until it drains.
   * The bytes wait in the kernel's buffers, then the sender's: TCP holds a flood back, not our memory.
   */
  #holdInput(terminal: SessionTerminal): void {
    if (this.#heldBy.has(terminal) || !terminal.onInputDrain) return;
    const release = terminal.onInputDrain(() => this.#releaseInput(terminal));
    this.#heldBy.set(terminal, release);
    if (this.#heldBy.size === 1) this.ws.pause();
  }

  #releaseInput(terminal: SessionTerminal): void {
    const release = this.#heldBy.get(terminal);
    if (!release) return;
    release();
    this.#heldBy.delete(terminal);
    if (this.#heldBy.size === 0 && !this.#closed) this.ws.resume();
  }

  #pause(terminal: SessionTerminal): void {
    const pauses = this.session.terminalHub.pauses;
    const n = pauses.get(terminal) ?? 0;
    pauses.set(terminal, n + 1);
    if (n === 0) terminal.pause?.();
  }

  #unpause(terminal: SessionTerminal): void {
    const pauses = this.session.terminalHub.pauses;
    const n = pauses.get(terminal) ?? 0;
    if (n <= 1) {
      pauses.delete(terminal);
      if (n === 1) terminal.resume?.();
    } else pauses.set(terminal, n - 1);
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const name of [...this.#byName.keys()]) this.detach(name);
    clearInterval(this.#drainTimer);
    for (const cleanup of this.#cleanups.splice(0)) cleanup();
  }
}

/** Disposes a session's terminal and tells every socket attached to it. */
export function closeTerminal(session: ServerSession, name: string): void {
  const terminal = session.terminals.get(name);
  if (!terminal) return;
  session.terminals.delete(name);
  const hub = session.terminalHub;
  for (const connection of [...(hub.attached.get(name) ?? [])]) connection.detach(name, true);
  hub.attached.delete(name);
  hub.pauses.delete(terminal);
  terminal.dispose();
}
