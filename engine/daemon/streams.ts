// The stdin, stdout and stderr a command run by the resident engine is handed: Node streams over
// the client's socket, claiming to be terminals exactly when the caller's are (so progress, `stats`
// and the `save`/`load` terminal checks behave as in-process), with the caller's window size.

import type { Socket } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { FRAME, frame, MAX_FRAME } from './protocol.ts';

/** stdout or stderr: each write becomes frames, and completes once the socket has taken it. */
export class ClientOutput extends Writable {
  readonly isTTY: boolean;
  readonly columns: number | undefined;
  readonly rows: number | undefined;
  readonly #socket: Socket;
  readonly #type: number;

  constructor(socket: Socket, type: number, tty: boolean, size: { rows: number; columns: number }) {
    super();
    this.#socket = socket;
    this.#type = type;
    this.isTTY = tty;
    this.columns = tty && size.columns > 0 ? size.columns : undefined;
    this.rows = tty && size.rows > 0 ? size.rows : undefined;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    // A client that went away: drop the output, as a closed pipe's reader would never see it.
    if (this.#socket.destroyed || !this.#socket.writable) {
      callback();
      return;
    }
    for (let at = 0; at < chunk.length; at += MAX_FRAME) {
      const last = at + MAX_FRAME >= chunk.length;
      const ok = this.#socket.write(frame(this.#type, chunk.subarray(at, at + MAX_FRAME)));
      if (last) {
        if (ok) callback();
        else this.#socket.once('drain', () => callback());
      }
    }
    if (chunk.length === 0) callback();
  }
}

/** stdin: nothing is asked of the client until the command first reads. */
export class ClientInput extends Readable {
  readonly isTTY: boolean;
  readonly #socket: Socket;
  #asked = false;

  constructor(socket: Socket, tty: boolean) {
    super();
    this.#socket = socket;
    this.isTTY = tty;
  }

  override _read(): void {
    if (this.#asked) return;
    this.#asked = true;
    if (!this.#socket.destroyed) this.#socket.write(frame(FRAME.wantStdin));
  }

  /** Whether the command asked for stdin (then the client sends it until its end). */
  get asked(): boolean {
    return this.#asked;
  }
}
