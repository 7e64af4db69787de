// What a browser session is to the rest of the server: its id and token, its own engine context
// (its root under `<root>/sessions/<id>/`, content shared), its event bus, terminals and limits.
// The terminal, state, check and workshop modules all take a Session; what each keeps on it has a
// typed field of its own below.

import type { EngineContext } from '../../engine/context.ts';
import type { RanCommand } from '../checks/evaluate.ts';
import type { ServerLimits } from '../limits.ts';
import type { SessionWatcher } from '../pictures/fs-changes.ts';
import type { SessionEvent } from '../protocol.ts';

/** Terminal bookkeeping shared by one session's sockets. */
export interface TerminalHub {
  /** Terminals being created, so two sockets opening the same name get the same one. */
  readonly pending: Map<string, Promise<SessionTerminal>>;
  /** Sockets attached to each terminal, so closing it tells them all. */
  readonly attached: Map<string, Set<{ detach(name: string, closed?: boolean): void }>>;
  /** How many sockets currently want each terminal paused. */
  readonly pauses: Map<SessionTerminal, number>;
}

/**
 * The terminal as the WebSocket layer uses it; `createTerminal(session, { cols, rows })` returns
 * one. `pause`/`resume` are for back-pressure: while paused the terminal stops reading its
 * source (shell output, the container PTY) and keeps only its screen, so memory stays bounded.
 */
export interface SessionTerminal {
  /**
   * Typed bytes. `false` asks the caller to stop reading its source until `onInputDrain` calls back
   * (the bytes were taken all the same): a page typing faster than its terminal works is held back by
   * TCP instead of by the server's memory.
   */
  input(data: Buffer): boolean;
  onInputDrain?(cb: () => void): () => void;
  resize(cols: number, rows: number): void;
  /** Click-to-run: typed at the prompt now, queued behind the command in progress, or refused (`busy`). */
  run(command: string): { status: 'started' | 'queued' | 'busy' };
  /** `container` while the keyboard goes to a container's PTY (`run -it`, `exec -it`, `attach`). */
  readonly mode: 'shell' | 'container';
  /** Resolves when no command runs and nothing waits to run. */
  idle(): Promise<void>;
  onOutput(cb: (data: Buffer) => void): () => void;
  onMode(cb: (mode: 'shell' | 'container', container?: string) => void): () => void;
  /** The current screen as escape sequences (@xterm/addon-serialize), to replay on (re)attach. */
  replay(): string;
  dispose(): void;
  pause?(): void;
  resume?(): void;
  /** Called when the terminal ends by itself (the shell exited). */
  onClose?(cb: () => void): () => void;
}

export interface SessionEventBus {
  emit(event: SessionEvent): void;
  /** Returns the unsubscribe function. */
  on(listener: (event: SessionEvent) => void): () => void;
}

export interface Session {
  /** 128 random bits, hex; names the session's root dir and addresses it on this node. */
  readonly id: string;
  /** 256 random bits, base64url; the secret the browser presents (cookie or `?token=`). */
  readonly token: string;
  /** `<server root>/sessions/<id>`. */
  readonly root: string;
  /** The session's engine context: its own images, names and containers; shared blobs and layers. Its `events` feed `events`. */
  readonly ctx: EngineContext;
  readonly events: SessionEventBus;
  readonly limits: ServerLimits;
  /** Terminals by name; they belong to the session, not a socket, so a reconnect reattaches. */
  readonly terminals: Map<string, SessionTerminal>;
  /** Commands run in the session's terminals, oldest first, bounded: what `command-ran` checks read. */
  readonly commands: RanCommand[];
  /** Terminal bookkeeping shared by the session's sockets (opening, attached sockets, pauses). */
  readonly terminalHub: TerminalHub;
  /** The upper-dir watcher behind `fs.change` events, once started. */
  watcher: SessionWatcher | undefined;
  /** Set while a teacher has paused the class: the reason. Its terminals then take no input and run no Run block. */
  held?: string | undefined;
  readonly createdAt: number;
  /** Last time a socket or request used the session (ms since epoch). */
  readonly lastActive: number;
  /** Open WebSockets of this session. */
  readonly sockets: number;
  /** Aborted when the session is disposed: long work (pulls, builds, watchers) stops with it. */
  readonly signal: AbortSignal;
  readonly disposed: boolean;
  /** Marks the session as used now (postpones idle reaping). */
  touch(): void;
  /** Runs `fn` at dispose, before containers are removed (terminals, watchers). Returns an unregister. */
  onDispose(fn: () => void | Promise<void>): () => void;
  /** Removes every container (forced), unmounts what is left, deletes the root. Idempotent. */
  dispose(): Promise<void>;
}
