// The command in a terminal's foreground: its tty streams, the keyboard while it runs (raw bytes to a
// container's PTY, or a tty's cooked line), Ctrl-C, and the switch between the shell and container modes.

import type { EngineEvent } from '../../engine/events.ts';
import { LINE_TOO_LONG, MAX_LINE_CHARS } from './line-editor.ts';
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
}

export class ForegroundCommand {
  readonly streams: CommandStreams;
  readonly controller = new AbortController();
  /** The container this command created or targets, for the mode event. */
  container: string | undefined;
  /** The `exec`/`attach` target being resolved to its id. */
  lookup: Promise<string | undefined> | undefined;
  /** Turns host paths in the output back into the names the reader typed. */
  rewrite: ((data: Buffer) => Buffer) | undefined;
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
      output: (data) => (this.#attached ? host.write(this.rewrite ? this.rewrite(data) : data) : true),
      rawMode: (raw) => this.#rawMode(raw),
      columns: () => host.columns(),
      rows: () => host.rows(),
    });
  }

  get attached(): boolean {
    return this.#attached;
  }

  /** An engine event of this command: the first container it creates is the one the page names. */
  observe(event: EngineEvent): void {
    if (event.type === 'container.created' && this.container === undefined) this.container = event.id;
  }

  /** Typed bytes: straight to a raw-mode reader (a container's PTY), else through the cooked line. */
  input(data: Buffer): void {
    if (this.streams.stdin.isRaw) this.streams.stdin.push(data);
    else this.#cookedInput(data);
  }

  /** Ctrl-C while the command has not taken the keyboard: cancel it; a second press abandons it. */
  interrupt(): void {
    this.#interrupts++;
    this.#host.write('^C\r\n');
    if (this.#interrupts === 1) {
      this.controller.abort();
      return;
    }
    // It did not stop: leave it to finish in the background, as Docker's CLI does after a forced exit.
    this.closeStreams();
    this.detach();
    this.#host.abandoned();
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
