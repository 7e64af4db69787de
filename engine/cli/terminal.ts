// The local side of `run -it`, `exec -it` and `attach`: raw mode on the user's terminal, stdin forwarded
// to the container, window size changes forwarded as resize, Ctrl-P Ctrl-Q to detach, all restored on exit.

/** Ctrl-P, Ctrl-Q: Docker's default detach sequence. */
export const DETACH_SEQUENCE = Buffer.from([0x10, 0x11]);

/**
 * Watches input for the detach sequence. Bytes that might start it are held back until the next
 * chunk shows whether they do; anything else is passed through untouched.
 */
export class DetachKeys {
  private held: Buffer = Buffer.alloc(0);
  private readonly sequence: Buffer;

  constructor(sequence: Buffer = DETACH_SEQUENCE) {
    this.sequence = sequence;
  }

  feed(chunk: Buffer): { forward: Buffer; detach: boolean } {
    const data = Buffer.concat([this.held, chunk]);
    this.held = Buffer.alloc(0);
    const out: number[] = [];
    let matched = 0;
    for (const byte of data) {
      if (byte === this.sequence[matched]) {
        matched++;
        if (matched === this.sequence.length) return { forward: Buffer.from(out), detach: true };
        continue;
      }
      // A partial match that broke off: its bytes were ordinary input after all.
      for (let k = 0; k < matched; k++) out.push(this.sequence[k]!);
      matched = 0;
      if (byte === this.sequence[0]) matched = 1;
      else out.push(byte);
    }
    this.held = this.sequence.subarray(0, matched);
    return { forward: Buffer.from(out), detach: false };
  }
}

/** The container side a session talks to (D's attach/exec connection, or the shim's). */
export interface RemoteTerminal {
  write(data: Buffer): void;
  resize?(rows: number, cols: number): void;
  /** Signals end of input (the user's stdin closed) without detaching. */
  closeStdin?(): void;
}

export interface LocalSession {
  /** Resolves when the user pressed the detach keys. */
  readonly detached: Promise<void>;
  /** Restores the terminal and stops forwarding; safe to call twice. */
  dispose(): void;
}

/**
 * Connects the process's stdin (and, for a tty, window size) to `remote`. With `tty`, the local
 * terminal goes raw so keys such as Ctrl-C reach the container instead of killing the CLI.
 */
export function connectLocalTerminal(
  io: { stdin: NodeJS.ReadStream; stdout: NodeJS.WriteStream },
  remote: RemoteTerminal,
  options: { tty: boolean; interactive: boolean },
): LocalSession {
  const { stdin, stdout } = io;
  const raw = options.tty && options.interactive && stdin.isTTY === true;
  const keys = new DetachKeys();
  let onDetach: () => void = () => {};
  const detached = new Promise<void>((resolve) => {
    onDetach = resolve;
  });
  const cleanups: (() => void)[] = [];

  if (raw) {
    stdin.setRawMode(true);
    cleanups.push(() => stdin.setRawMode(false));
  }
  if (options.interactive) {
    const onData = (chunk: Buffer) => {
      const { forward, detach } = raw ? keys.feed(chunk) : { forward: chunk, detach: false };
      if (forward.length > 0) remote.write(forward);
      if (detach) onDetach();
    };
    const onEnd = () => remote.closeStdin?.();
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.resume();
    cleanups.push(() => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.pause();
    });
  }
  if (options.tty && stdout.isTTY && remote.resize) {
    // A tty.WriteStream emits 'resize' on SIGWINCH; the server's browser terminals emit it too.
    const resize = () => remote.resize?.(stdout.rows, stdout.columns);
    resize();
    stdout.on('resize', resize);
    cleanups.push(() => stdout.off('resize', resize));
  }

  let disposed = false;
  return {
    detached,
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const cleanup of cleanups.reverse()) cleanup();
    },
  };
}
