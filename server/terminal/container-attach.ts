// The command in a terminal's foreground: its tty streams, the keyboard while it runs (raw bytes to a
// container's PTY, or a tty's cooked line), Ctrl-C, and the switch between the shell and container modes.

import type { EngineEvent } from '../../engine/events.ts';
import { LINE_TOO_LONG, MAX_LINE_CHARS } from './line-editor.ts';
import { ignoredInterruptNote, leftRunningNote, ttyInterruptNote } from './signal-notes.ts';
import { type CommandStreams, createCommandStreams } from './streams.ts';

export type TerminalMode = 'shell' | 'container';

type ModeListener = (mode: TerminalMode, container?: string) => void;

/** Whether the page shows the prompt or a container's session, and who is told when it changes. */
export class ModeSwitch {
  #mode: TerminalMode = 'shell';
  readonly #listeners = new Set<ModeListener>();

  get mode(): TerminalMode {
    return this.#mode;
  }

  /** Back to the shell is said once; each switch to a container is said (the container may differ). */
  set(next: TerminalMode, container?: string): void {
    if (next === this.#mode && next === 'shell') return;
    this.#mode = next;
    for (const cb of this.#listeners) cb(next, container);
  }

  onChange(cb: ModeListener): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  clear(): void {
    this.#listeners.clear();
  }
}

/** What a foreground command needs of its terminal. */
export interface ForegroundHost {
  /** Bytes for the page; false asks the writer to wait for 'drain'. */
  write(data: Buffer | string): boolean;
  columns(): number;
  rows(): number;
  readonly mode: ModeSwitch;
  /** A second Ctrl-C left the command to finish in the background: the prompt comes back. */
  abandoned(): void;
  /** The command began to read its input (raw mode, or a `data` listener): typed-ahead keys may go. */
  inputWanted?(): void;
  /** Whether a container still runs (for the notes on a Ctrl-C its main process ignored). */
  containerRunning?(id: string): Promise<boolean>;
}

/** How long after a Ctrl-C a container that has not reacted is explained (it has had time to exit). */
export const INTERRUPT_NOTE_MS = 1500;

/** A command attached to a container's main process (`run` without -d, `start -a`, `attach`). */
export interface ContainerSession {
  /** The program as typed (`docker`, `podman`), for the commands the notes suggest. */
  program: string;
}

export class ForegroundCommand {
  readonly streams: CommandStreams;
  readonly controller = new AbortController();
  /** The container this command created or targets, for the mode event. */
  container: string | undefined;
  /** The `exec`/`attach`/`start` target being resolved to its id. */
  lookup: Promise<string | undefined> | undefined;
  /** Turns host paths in the output back into the names the reader typed. */
  rewrite: ((data: Buffer) => Buffer) | undefined;
  /** Set when the command attaches to a container: Ctrl-C then goes to its main process. */
  session: ContainerSession | undefined;
  /** The name of the container this command created, for the notes. */
  #containerName: string | undefined;
  /** Chunks written so far: a container that answers a Ctrl-C writes something (a shell's prompt). */
  #writes = 0;
  #ttyNoteShown = false;
  readonly #host: ForegroundHost;
  #interrupts = 0;
  /** Typed text waiting for Enter when the command reads input without raw mode. */
  #cooked = '';
  /** The cooked line went past MAX_LINE_CHARS (the message is said once per line). */
  #overflowed = false;
  /** Still the terminal's foreground: once finished or abandoned, its output and mode changes are dropped. */
  #attached = true;

  constructor(host: ForegroundHost) {
    this.#host = host;
    this.streams = createCommandStreams({
      output: (data) => {
        // A tty's own echo of Ctrl-C is not an answer to it.
        if (data.length > 6 || data.toString('latin1').replace(/[\r\n]/g, '') !== '^C') this.#writes++;
        return this.#attached ? host.write(this.rewrite ? this.rewrite(data) : data) : true;
      },
      rawMode: (raw) => this.#rawMode(raw),
      columns: () => host.columns(),
      rows: () => host.rows(),
    });
    this.streams.stdin.on('newListener', (event) => {
      if (event === 'data') queueMicrotask(() => this.#attached && host.inputWanted?.());
    });
  }

  /** The command reads what is typed: a container's PTY in raw mode, or a cooked reader (`run -i`). */
  get takesInput(): boolean {
    return this.streams.stdin.isRaw || this.streams.stdin.reading;
  }

  get attached(): boolean {
    return this.#attached;
  }

  /** An engine event of this command: the first container it creates is the one the page names. */
  observe(event: EngineEvent): void {
    if (event.type === 'container.created' && this.container === undefined) {
      this.container = event.id;
      this.#containerName = event.name;
    }
  }

  /** Typed bytes: straight to a raw-mode reader (a container's PTY), else through the cooked line. */
  input(data: Buffer): void {
    if (this.streams.stdin.isRaw) {
      if (data.includes(0x03)) this.#watchTtyInterrupt();
      this.streams.stdin.push(data);
    } else this.#cookedInput(data);
  }

  /**
   * Ctrl-C while the command has not taken the keyboard: cancel it (a container session passes SIGINT
   * on to the container's main process, as Docker's sig-proxy does); a second press leaves it
   * running in the background and gives the prompt back, saying so.
   */
  interrupt(): void {
    this.#interrupts++;
    this.#host.write('^C\r\n');
    if (this.#interrupts === 1) {
      this.controller.abort();
      if (this.session) this.#afterInterrupt(() => this.#interrupts === 1, ignoredInterruptNote);
      return;
    }
    // It did not stop: leave it to finish in the background, as Docker's CLI does after a forced exit.
    this.closeStreams();
    this.detach();
    const label = this.#label();
    if (this.session && label) this.#host.write(leftRunningNote(this.session.program, label));
    this.#host.abandoned();
  }

  /** The container's name as created, else its short id. */
  #label(): string | undefined {
    return this.#containerName ?? this.container?.slice(0, 12);
  }

  /**
   * After INTERRUPT_NOTE_MS, if the command is still attached (`still()`) and its container still
   * runs, the note explains why the Ctrl-C changed nothing and how to get out.
   */
  #afterInterrupt(still: () => boolean, note: (program: string, label: string) => string): void {
    const timer = setTimeout(async () => {
      const id = this.container ?? (await this.lookup);
      const session = this.session;
      if (!this.#attached || !still() || !session || id === undefined) return;
      if (this.container === undefined) this.container = id;
      if (this.#host.containerRunning && !(await this.#host.containerRunning(id))) return;
      if (this.#attached && still()) this.#host.write(note(session.program, this.#label()!));
    }, INTERRUPT_NOTE_MS);
    timer.unref?.();
  }

  /** Ctrl-C went to a container's tty: if nothing answers it, say why once (PID 1 ignores SIGINT). */
  #watchTtyInterrupt(): void {
    if (this.#ttyNoteShown || !this.session) return;
    const writes = this.#writes;
    this.#afterInterrupt(
      () => !this.#ttyNoteShown && this.#writes === writes && this.streams.stdin.isRaw,
      (program, label) => {
        this.#ttyNoteShown = true;
        return ttyInterruptNote(program, label);
      },
    );
  }

  /** The screen caught up: writers that were told to wait may write again. */
  wakeWriters(): void {
    this.streams.stdout.emit('drain');
    this.streams.stderr.emit('drain');
  }

  resized(): void {
    this.streams.stdout.emit('resize');
  }

  /** Later writes are dropped and stdin ends. */
  closeStreams(): void {
    this.streams.stdout.close();
    this.streams.stderr.close();
    this.streams.stdin.end();
  }

  /** No longer the foreground: what it writes or switches from now on does not reach the page. */
  detach(): void {
    this.#attached = false;
  }

  #rawMode(raw: boolean): void {
    if (!this.#attached) return;
    if (!raw) {
      this.#host.mode.set('shell');
      return;
    }
    this.#host.inputWanted?.();
    const show = (id?: string) => {
      if (this.#attached && this.streams.stdin.isRaw) this.#host.mode.set('container', id);
    };
    if (this.container || !this.lookup) show(this.container);
    else void this.lookup.then(show);
  }

  /**
   * Keys for a command that reads input without raw mode (`docker run -i`): a tty's cooked mode. A
   * line holds at most MAX_LINE_CHARS, like the prompt's; the echo of a chunk is written at once.
   */
  #cookedInput(data: Buffer): void {
    const stdin = this.streams.stdin;
    let echo = '';
    const flushEcho = () => {
      if (echo !== '') this.#host.write(echo);
      echo = '';
    };
    for (const char of data.toString('utf8')) {
      if (char === '\x03') {
        flushEcho();
        this.interrupt();
        return;
      }
      if (!stdin.reading) continue;
      if (char === '\r' || char === '\n') {
        echo += '\r\n';
        stdin.push(Buffer.from(`${this.#cooked}\n`));
        this.#cooked = '';
        this.#overflowed = false;
      } else if (char === '\x04') {
        if (this.#cooked === '') stdin.end();
        else stdin.push(Buffer.from(this.#cooked));
        this.#cooked = '';
      } else if (char === '\x7f' || char === '\b') {
        if (this.#cooked !== '') {
          // One code point: a surrogate pair is two UTF-16 units.
          const cut = /[\udc00-\udfff]$/.test(this.#cooked) ? 2 : 1;
          this.#cooked = this.#cooked.slice(0, -cut);
          echo += '\b \b';
        }
      } else if (char >= ' ') {
        if (this.#cooked.length >= MAX_LINE_CHARS) {
          // As a tty does with a full line: the character is dropped, with the bell (and once, why).
          echo += this.#overflowed ? '\x07' : `\x07\r\n${LINE_TOO_LONG}\r\n`;
          this.#overflowed = true;
          continue;
        }
        this.#cooked += char;
        echo += char;
      }
    }
    flushEcho();
  }
}
