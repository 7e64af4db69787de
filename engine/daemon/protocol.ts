// The resident engine's wire format with the `layerlab` client (native/client.c): frames of one type
// byte, a 4-byte big-endian length and the payload, both ways. The client speaks first, with a hello.

/** Frame types. Client → engine: H I E S. Engine → client: O R W X F. */
export const FRAME = {
  /** Hello: NUL-terminated fields (see parseHello). */
  hello: 0x48, // 'H'
  /** Bytes of the caller's stdin (sent only after `wantStdin`). */
  stdin: 0x49, // 'I'
  /** The caller's stdin ended. */
  stdinEnd: 0x45, // 'E'
  /** A signal the client received: one byte, its number (SIGINT 2, SIGTERM 15). */
  signal: 0x53, // 'S'
  stdout: 0x4f, // 'O'
  stderr: 0x52, // 'R'
  /** The command reads stdin: the client starts sending it. */
  wantStdin: 0x57, // 'W'
  /** The exit status, i32 big-endian; the last frame. */
  exit: 0x58, // 'X'
  /** "Run it yourself": the client execs the in-process CLI. Only ever the first frame. */
  fallback: 0x46, // 'F'
} as const;

export const PROTOCOL = 'layerlab-1';
/** The largest frame either side accepts (the client's hello carries its whole environment). */
export const MAX_FRAME = 1 << 20;

export class ProtocolError extends Error {
  readonly input: string;
  constructor(message: string, input: string) {
    super(message);
    this.name = 'ProtocolError';
    this.input = input;
  }
}

export function frame(type: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const head = Buffer.allocUnsafe(5);
  head[0] = type;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

export function exitFrame(status: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeInt32BE(status, 0);
  return frame(FRAME.exit, payload);
}

/** Splits a byte stream into frames; throws ProtocolError on a frame larger than MAX_FRAME. */
export class FrameReader {
  #pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): { type: number; payload: Buffer }[] {
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    const frames: { type: number; payload: Buffer }[] = [];
    while (this.#pending.length >= 5) {
      const length = this.#pending.readUInt32BE(1);
      if (length > MAX_FRAME) throw new ProtocolError(`frame of ${length} bytes`, String(length));
      if (this.#pending.length < 5 + length) break;
      frames.push({ type: this.#pending[0]!, payload: this.#pending.subarray(5, 5 + length) });
      this.#pending = this.#pending.subarray(5 + length);
    }
    return frames;
  }
}

/** What the client says about its command and its caller. */
export interface Hello {
  readonly cwd: string;
  readonly umask: number;
  /** Whether the caller's stdin, stdout and stderr are terminals. */
  readonly ttys: readonly [boolean, boolean, boolean];
  readonly rows: number;
  readonly columns: number;
  readonly argv: readonly string[];
  /** The caller's environment: the command's `cli.env`. */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * The hello's fields, each NUL-terminated: the protocol name, the cwd, the umask (octal), three
 * `0`/`1` for fds 0-2 being terminals, rows, columns, argc, argv…, then `NAME=value` entries.
 */
export function parseHello(payload: Buffer): Hello {
  const text = payload.toString('utf8');
  if (!text.endsWith('\0')) throw new ProtocolError('hello: unterminated', text.slice(0, 64));
  const fields = text.slice(0, -1).split('\0');
  const [protocol, cwd, umask, ttys, rows, columns, argc] = fields;
  if (protocol !== PROTOCOL) throw new ProtocolError(`hello: protocol ${protocol}`, String(protocol));
  const count = Number(argc);
  if (
    !cwd?.startsWith('/') ||
    !/^[0-7]{1,4}$/.test(umask ?? '') ||
    !/^[01]{3}$/.test(ttys ?? '') ||
    !Number.isSafeInteger(count) ||
    count < 0 ||
    fields.length < 7 + count
  ) {
    throw new ProtocolError('hello: malformed', text.slice(0, 64));
  }
  // No prototype: a caller may name a variable `__proto__` or `constructor`.
  const env: Record<string, string> = Object.create(null);
  for (const entry of fields.slice(7 + count)) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return {
    cwd,
    umask: Number.parseInt(umask!, 8),
    ttys: [ttys![0] === '1', ttys![1] === '1', ttys![2] === '1'],
    rows: Number(rows) || 0,
    columns: Number(columns) || 0,
    argv: fields.slice(7, 7 + count),
    env,
  };
}
