// A terminal's output on its way to the page: every byte goes to the server's screen copy, and to the
// page's listeners unless the socket paused them; writers are asked to wait while either is behind.

import { Screen } from './screen.ts';

/** CLI output kept while the socket is slow; past it the page is re-sent the screen instead. */
export const MAX_QUEUED_BYTES = 256 * 1024;
/** Unparsed bytes the screen may hold before writers are asked to wait. */
export const SCREEN_HIGH_WATER = 512 * 1024;

export interface OutputHooks {
  /** Bytes written, so the input queue can charge their parse to the session's work budget. */
  written(bytes: number): void;
  /** What asks the running command's writers to write again, or undefined when none runs. */
  writers(): (() => void) | undefined;
  /** The screen copy caught up with everything written (typed keys may be drawn again). */
  idle(): void;
}

export class TerminalOutput {
  readonly #screen: Screen;
  readonly #hooks: OutputHooks;
  readonly #listeners = new Set<(data: Buffer) => void>();
  /** Paused by the socket layer: bytes wait here (or, past the cap, the screen is re-sent). */
  #paused = false;
  #queued: Buffer[] = [];
  #queuedBytes = 0;
  #resync = false;
  /** A write answered false: the writers get a 'drain' once nothing is congested. */
  #writersWaiting = false;
  #disposed = false;

  constructor(cols: number, rows: number, hooks: OutputHooks) {
    this.#hooks = hooks;
    this.#screen = new Screen(cols, rows);
    this.#screen.onIdle = () => {
      this.#wakeWriters();
      hooks.idle();
    };
  }

  /** The screen copy is far behind: new keys are not drawn and writers wait until it catches up. */
  get behind(): boolean {
    return this.#screen.backlog > SCREEN_HIGH_WATER;
  }

  get congested(): boolean {
    return this.#paused || this.behind;
  }

  /** Every byte for the page goes through here; false asks the writer to wait for 'drain'. */
  emit(data: Buffer | string): boolean {
    if (this.#disposed) return true;
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (bytes.length === 0) return !this.congested;
    this.#hooks.written(bytes.length);
    this.#screen.write(bytes);
    if (this.#paused || this.#resync) {
      if (!this.#resync) {
        this.#queued.push(bytes);
        this.#queuedBytes += bytes.length;
        if (this.#queuedBytes > MAX_QUEUED_BYTES) {
          // Too much to hold: drop it and, on resume, send the screen itself (it saw every byte).
          this.#queued = [];
          this.#queuedBytes = 0;
          this.#resync = true;
        }
      }
    } else this.#deliver(bytes);
    const ok = !this.congested;
    if (!ok) this.#writersWaiting = true;
    return ok;
  }

  /** Text with LF line ends, written as a tty's output processing would (CRLF). */
  print(text: string): void {
    this.emit(text.replaceAll('\n', '\r\n'));
  }

  onOutput(cb: (data: Buffer) => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    void this.#flush();
  }

  resize(cols: number, rows: number): void {
    this.#screen.resize(cols, rows);
  }

  /** The screen as escape sequences, to replay on (re)attach. */
  replay(): string {
    return this.#screen.serialize();
  }

  /** Resolves once the screen copy holds everything written so far. */
  settled(): Promise<void> {
    return this.#screen.settled();
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#listeners.clear();
    this.#screen.dispose();
  }

  #deliver(data: Buffer): void {
    for (const cb of this.#listeners) cb(data);
  }

  #wakeWriters(): void {
    if (!this.#writersWaiting || this.congested) return;
    const wake = this.#hooks.writers();
    if (!wake) return;
    this.#writersWaiting = false;
    wake();
  }

  async #flush(): Promise<void> {
    if (this.#resync) {
      await this.#screen.settled();
      if (this.#paused || this.#disposed) return;
      this.#resync = false;
      this.#deliver(Buffer.from(`\x1bc${this.#screen.serialize()}`));
    }
    const pending = this.#queued;
    this.#queued = [];
    this.#queuedBytes = 0;
    for (const chunk of pending) this.#deliver(chunk);
    this.#wakeWriters();
  }
}
