// Who is in the room: a student whose session has had no open socket for the grace period is marked
// gone (their seat frees for a rejoin), and one who reconnects on the same session is back. Also
// keeps the tail of each student terminal's output, so a failed command reaches the dashboard with
// its error text. Polls the sessions (cheap: a few fields per student) rather than hooking the socket
// layer.

import { stripVTControlCharacters } from 'node:util';
import type { Session } from '../sessions/session.ts';
import type { Workshop, WorkshopRegistry } from './workshop.ts';

/** Output kept per terminal since its last command, enough for an error's last lines. */
const TAIL_BYTES = 4096;

export interface PresenceOptions {
  workshops: WorkshopRegistry;
  getSession(id: string): Session | undefined;
  /** No socket for this long: gone. */
  graceMs: number;
  /**
   * In a cluster, this node's id: only the students it holds are looked at here (another node's
   * students are that node's to watch).
   */
  node?: string;
  /** How often sessions are looked at (default a quarter of the grace, between 100 ms and 1 s). */
  intervalMs?: number;
  now?: () => number;
}

export class Presence {
  readonly #options: PresenceOptions;
  readonly #quietSince = new Map<string, number>();
  readonly #watched = new Map<string, SessionWatch>();
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(options: PresenceOptions) {
    this.#options = options;
    const interval = options.intervalMs ?? Math.min(1000, Math.max(100, options.graceMs / 4));
    this.#timer = setInterval(() => this.sweep(), interval);
    this.#timer.unref();
  }

  /** A student's session: its commands (with error text) go to the workshop. */
  watch(workshop: Workshop, session: Session): void {
    if (this.#watched.has(session.id)) return;
    const watch = new SessionWatch(workshop, session);
    this.#watched.set(session.id, watch);
    session.onDispose(() => this.unwatch(session.id));
  }

  unwatch(sessionId: string): void {
    this.#watched.get(sessionId)?.dispose();
    this.#watched.delete(sessionId);
    this.#quietSince.delete(sessionId);
  }

  /** One look at every student session: terminals to follow, sockets gone or back. */
  sweep(): void {
    const now = (this.#options.now ?? Date.now)();
    for (const workshop of this.#options.workshops.active()) {
      for (const student of workshop.students.values()) {
        const id = student.sessionId;
        if (id === undefined) continue;
        if (this.#options.node !== undefined && student.node !== this.#options.node) continue;
        const session = this.#options.getSession(id);
        // In a cluster, a session this node does not have is one it lost (restarted after a crash):
        // the student's page is re-seated on its next request, so the seat waits out the grace period
        // as a quiet one does, keeping the session id the re-seat recognises.
        if (!session && this.#options.node !== undefined) {
          if (student.left !== undefined) continue;
          const since = this.#quietSince.get(id) ?? now;
          this.#quietSince.set(id, since);
          if (now - since >= this.#options.graceMs) workshop.studentLeft(id);
          continue;
        }
        if (!session || session.disposed) {
          workshop.studentLeft(id, { sessionEnded: true });
          this.unwatch(id);
          continue;
        }
        this.#watched.get(id)?.follow();
        // In a cluster, the teacher's views on other nodes learn this student's terminals from here.
        if (this.#options.node !== undefined) workshop.noteTerminals(id, [...session.terminals.keys()]);
        if (session.sockets > 0) {
          this.#quietSince.delete(id);
          if (student.left !== undefined && workshop.seatsTaken < workshop.seats) workshop.studentBack(id);
          continue;
        }
        if (student.left !== undefined) {
          // A rejoin on this session starts a fresh grace period.
          this.#quietSince.delete(id);
          continue;
        }
        const since = this.#quietSince.get(id) ?? now;
        this.#quietSince.set(id, since);
        if (now - since >= this.#options.graceMs) workshop.studentLeft(id);
      }
    }
  }

  close(): void {
    clearInterval(this.#timer);
    for (const watch of this.#watched.values()) watch.dispose();
    this.#watched.clear();
  }
}

/** One student session: the tail of each terminal's output, and its commands fed to the workshop. */
class SessionWatch {
  readonly session: Session;
  readonly #workshop: Workshop;
  readonly #tails = new Map<string, string>();
  readonly #followed = new Set<string>();
  /** Failed commands whose output is still arriving, by terminal. */
  readonly #failing = new Map<
    string,
    { command: string; at: string; timer: ReturnType<typeof setTimeout> }
  >();
  readonly #off: (() => void)[] = [];

  constructor(workshop: Workshop, session: Session) {
    this.session = session;
    this.#workshop = workshop;
    this.#off.push(
      session.events.on((event) => {
        if (event.type !== 'terminal.command') return;
        const terminal = event.terminal;
        // A terminal opened since the last look has no tail yet: its screen holds the same lines.
        if (!this.#followed.has(terminal))
          this.#tails.set(terminal, session.terminals.get(terminal)?.replay() ?? '');
        this.follow();
        const at = workshop.noteCommand(session.id, event.command, event.exitCode);
        if (event.exitCode === 0 || at === undefined) return;
        // The command's last output is flushed just after the event: its error text is read once the
        // next prompt shows, or after a second at the latest.
        this.#finish(terminal);
        const timer = setTimeout(() => this.#finish(terminal), 1000);
        timer.unref();
        this.#failing.set(terminal, { command: event.command, at, timer });
      }),
    );
    this.follow();
  }

  /** Subscribes to terminals opened since the last look. */
  follow(): void {
    for (const [name, terminal] of this.session.terminals) {
      if (this.#followed.has(name)) continue;
      this.#followed.add(name);
      this.#off.push(
        terminal.onOutput((data) => {
          const text = (this.#tails.get(name) ?? '') + data.toString('utf8');
          const tail = text.length > TAIL_BYTES ? text.slice(-TAIL_BYTES) : text;
          this.#tails.set(name, tail);
          if (this.#failing.has(name) && PROMPT_AT_END.test(stripVTControlCharacters(tail.slice(-200)))) {
            this.#finish(name);
          }
        }),
      );
    }
  }

  #finish(terminal: string): void {
    const failing = this.#failing.get(terminal);
    if (!failing) return;
    this.#failing.delete(terminal);
    clearTimeout(failing.timer);
    const error = errorText(this.#tails.get(terminal) ?? '', failing.command);
    if (error) this.#workshop.noteCommandError(this.session.id, failing.at, error);
  }

  dispose(): void {
    for (const failing of this.#failing.values()) clearTimeout(failing.timer);
    this.#failing.clear();
    for (const off of this.#off.splice(0)) off();
  }
}

/** The shell's prompt (`reader@layerlab:~$ `), as the last thing on the screen. */
const PROMPT_AT_END = /\S+@\S+:\S*[$#] ?$/;

/**
 * What a failed command printed: the lines after its echoed command line, escape sequences removed,
 * the last three at most. Undefined when it printed nothing.
 */
export function errorText(output: string, command: string): string | undefined {
  // A serialised screen moves the cursor down where the output had a line break.
  const lines = stripVTControlCharacters(output.replace(/\x1b\[\d*[BE]/g, '\n'))
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((l) => l.trimEnd());
  const echoed = lines.findLastIndex((l) => command.trim() !== '' && l.includes(command.trim()));
  // The shell's prompt (`reader@layerlab:~$`) follows the output.
  const printed = lines.slice(echoed + 1).filter((l) => l.trim() !== '' && !PROMPT_AT_END.test(l.trim()));
  if (printed.length === 0) return undefined;
  return printed.slice(-3).join('\n').slice(0, 500);
}
