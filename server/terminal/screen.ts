// The server's copy of a terminal's screen: every byte sent to the browser is also fed to an
// @xterm/headless terminal, so a reconnecting page gets the screen and recent scrollback back.

import addonSerialize from '@xterm/addon-serialize';
import xtermHeadless from '@xterm/headless';

export const SCROLLBACK_LINES = 1000;
/**
 * Past this many unparsed bytes new output is not fed to the screen (xterm throws past 50 MB). The
 * terminal's flow control keeps the backlog far below it; this only guards against a writer that
 * ignores back-pressure. The page still gets those bytes; only a later replay would miss them.
 */
const MAX_BACKLOG = 8 * 1024 * 1024;

export class Screen {
  private readonly term: InstanceType<typeof xtermHeadless.Terminal>;
  private readonly serializer: InstanceType<typeof addonSerialize.SerializeAddon>;
  private pending = 0;
  /** Chunks written but not parsed yet, oldest first; the parser finishes them in order. */
  private unparsed: Uint8Array[] = [];
  private waiters: (() => void)[] = [];
  private disposed = false;
  /** Called whenever the parser has caught up with everything written. */
  onIdle: () => void = () => {};

  constructor(cols: number, rows: number, scrollback = SCROLLBACK_LINES) {
    this.term = new xtermHeadless.Terminal({ cols, rows, scrollback, allowProposedApi: true });
    this.serializer = new addonSerialize.SerializeAddon();
    this.term.loadAddon(this.serializer);
  }

  /** Bytes written but not parsed yet (xterm parses in time slices off the write call). */
  get backlog(): number {
    return this.pending;
  }

  write(data: Uint8Array): void {
    if (this.disposed || this.pending > MAX_BACKLOG) return;
    const length = data.length;
    this.pending += length;
    this.unparsed.push(data);
    this.term.write(data, () => {
      this.pending -= length;
      this.unparsed.shift();
      if (this.pending === 0) {
        const waiters = this.waiters;
        this.waiters = [];
        for (const resolve of waiters) resolve();
        this.onIdle();
      }
    });
  }

  resize(cols: number, rows: number): void {
    if (!this.disposed) this.term.resize(cols, rows);
  }

  /** Resolves once everything written so far is on the screen. */
  settled(): Promise<void> {
    if (this.pending === 0 || this.disposed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * The screen and scrollback as escape sequences that rebuild them on an empty terminal, followed by
   * the bytes the parser has not reached yet, so the result is current even right after a write.
   */
  serialize(): string {
    if (this.disposed) return '';
    const parsed = this.serializer.serialize({ scrollback: SCROLLBACK_LINES });
    return this.unparsed.length === 0 ? parsed : parsed + Buffer.concat(this.unparsed).toString('utf8');
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const resolve of this.waiters) resolve();
    this.waiters = [];
    this.term.dispose();
  }
}
