// Stand-ins for a tty's stdin/stdout/stderr that the engine CLI's `main()` runs against in-process:
// they claim to be terminals (isTTY, size, raw mode, 'resize'), turn LF into CRLF as a tty's output
// processing would, and report back-pressure the way Node streams do (write() → false, then 'drain').

import { EventEmitter } from 'node:events';

/** What the streams of one command report to the terminal that owns them. */
export interface TtyHost {
  /** Writes bytes to the screen; false asks the writer to wait for 'drain'. */
  output(data: Buffer): boolean;
  /** Raw mode switched on (a container session took the keyboard) or off. */
  rawMode(raw: boolean): void;
  columns(): number;
  rows(): number;
}

/** LF → CRLF for every LF not already preceded by CR (a tty's ONLCR, without doubling CRs). */
export function toCrlf(data: Buffer): Buffer {
  let lone = 0;
  for (let lf = data.indexOf(0x0a); lf !== -1; lf = data.indexOf(0x0a, lf + 1)) {
    if (lf === 0 || data[lf - 1] !== 0x0d) lone++;
  }
  if (lone === 0) return data;
  // One allocation and one copy per line: this runs on every chunk a non-tty container writes.
  const out = Buffer.allocUnsafe(data.length + lone);
  let from = 0;
  let to = 0;
  for (let lf = data.indexOf(0x0a); lf !== -1; lf = data.indexOf(0x0a, lf + 1)) {
    if (lf > 0 && data[lf - 1] === 0x0d) continue;
    to += data.copy(out, to, from, lf);
    out[to++] = 0x0d;
    out[to++] = 0x0a;
    from = lf + 1;
  }
  data.copy(out, to, from);
  return out;
}

type WriteCallback = (err?: Error | null) => void;

export class TtyOutput extends EventEmitter {
  readonly isTTY = true;
  readonly writable = true;
  private readonly host: TtyHost;
  private readonly input: TtyInput;
  private closed = false;

  constructor(host: TtyHost, input: TtyInput) {
    super();
    this.host = host;
    this.input = input;
  }

  get columns(): number {
    return this.host.columns();
  }

  get rows(): number {
    return this.host.rows();
  }

  getWindowSize(): [number, number] {
    return [this.columns, this.rows];
  }

  getColorDepth(): number {
    return 8;
  }

  hasColors(count = 16): boolean {
    return count <= 256;
  }

  write(chunk: string | Uint8Array, encoding?: BufferEncoding | WriteCallback, cb?: WriteCallback): boolean {
    const callback = typeof encoding === 'function' ? encoding : cb;
    if (this.closed) {
      callback?.();
      return true;
    }
    const bytes =
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8')
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    // In raw mode the bytes come from the container's PTY, which already did its own output processing.
    const ok = this.host.output(this.input.isRaw ? bytes : toCrlf(bytes));
    if (callback) queueMicrotask(() => callback());
    return ok;
  }

  end(chunk?: string | Uint8Array, cb?: () => void): this {
    if (chunk !== undefined) this.write(chunk);
    cb?.();
    return this;
  }

  /** The command is over (or abandoned): later writes are dropped. */
  close(): void {
    this.closed = true;
    this.emit('drain');
  }

  cursorTo(x: number, y?: number | (() => void), cb?: () => void): boolean {
    const done = typeof y === 'function' ? y : cb;
    const ok = this.write(typeof y === 'number' ? `\x1b[${y + 1};${x + 1}H` : `\x1b[${x + 1}G`);
    done?.();
    return ok;
  }

  moveCursor(dx: number, dy: number, cb?: () => void): boolean {
    let seq = '';
    if (dx) seq += dx > 0 ? `\x1b[${dx}C` : `\x1b[${-dx}D`;
    if (dy) seq += dy > 0 ? `\x1b[${dy}B` : `\x1b[${-dy}A`;
    const ok = this.write(seq);
    cb?.();
    return ok;
  }

  clearLine(dir: -1 | 0 | 1, cb?: () => void): boolean {
    const ok = this.write(dir < 0 ? '\x1b[1K' : dir > 0 ? '\x1b[0K' : '\x1b[2K');
    cb?.();
    return ok;
  }

  clearScreenDown(cb?: () => void): boolean {
    const ok = this.write('\x1b[0J');
    cb?.();
    return ok;
  }
}

export class TtyInput extends EventEmitter {
  readonly isTTY = true;
  readonly readable = true;
  isRaw = false;
  private readonly host: TtyHost;
  private ended = false;

  constructor(host: TtyHost) {
    super();
    this.host = host;
  }

  setRawMode(raw: boolean): this {
    if (raw !== this.isRaw) {
      this.isRaw = raw;
      this.host.rawMode(raw);
    }
    return this;
  }

  /** Whether a command is reading this input (a container session with `-i`). */
  get reading(): boolean {
    return this.listenerCount('data') > 0;
  }

  /** Keystrokes for the command. */
  push(data: Buffer): void {
    if (!this.ended) this.emit('data', data);
  }

  /** End of input (Ctrl-D on an empty line, or the terminal going away). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.emit('end');
  }

  // The flow-control and handle calls a process stdin answers; input here is pushed, never pulled.
  resume(): this {
    return this;
  }
  pause(): this {
    return this;
  }
  setEncoding(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

export interface CommandStreams {
  stdin: TtyInput;
  stdout: TtyOutput;
  stderr: TtyOutput;
}

export function createCommandStreams(host: TtyHost): CommandStreams {
  const stdin = new TtyInput(host);
  return { stdin, stdout: new TtyOutput(host, stdin), stderr: new TtyOutput(host, stdin) };
}

/**
 * A command's stdout when it is not a terminal: what `$(…)` reads. It keeps at most `limit` bytes;
 * past that it calls `overflow` once (the command is stopped) and drops the rest.
 */
export class PipeOutput extends EventEmitter {
  readonly isTTY = false;
  readonly writable = true;
  readonly #chunks: Buffer[] = [];
  #bytes = 0;
  #closed = false;
  #overflowed = false;
  readonly #limit: number;
  readonly #overflow: () => void;

  constructor(limit: number, overflow: () => void) {
    super();
    this.#limit = limit;
    this.#overflow = overflow;
  }

  /** What was written. */
  bytes(): Buffer {
    return Buffer.concat(this.#chunks);
  }

  get overflowed(): boolean {
    return this.#overflowed;
  }

  write(chunk: string | Uint8Array, encoding?: BufferEncoding | WriteCallback, cb?: WriteCallback): boolean {
    const callback = typeof encoding === 'function' ? encoding : cb;
    if (!this.#closed && !this.#overflowed) {
      const bytes =
        typeof chunk === 'string'
          ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8')
          : Buffer.from(chunk);
      if (this.#bytes + bytes.length > this.#limit) {
        this.#overflowed = true;
        this.#overflow();
      } else {
        this.#chunks.push(bytes);
        this.#bytes += bytes.length;
      }
    }
    if (callback) queueMicrotask(() => callback());
    return true;
  }

  end(chunk?: string | Uint8Array, cb?: () => void): this {
    if (chunk !== undefined) this.write(chunk);
    cb?.();
    return this;
  }

  close(): void {
    this.#closed = true;
    this.emit('drain');
  }
}
