// The terminal's line discipline for input the prompt has not read yet: the rest of a paste after its
// first line, and keys typed while a command runs that does not read them. As on a cooked tty, keys
// typed during a command are echoed at once and kept; the prompt reads them, line by line, when the
// command ends; Ctrl-C among them interrupts the command and flushes what was kept.

import { cellWidth } from './width.ts';

/** Characters typed during one command that are kept for the prompt; past it a key rings the bell. */
export const MAX_TYPE_AHEAD = 64 * 1024;

/** What typing during a command did: the echo to write, and whether Ctrl-C was pressed. */
export interface Typed {
  echo: string;
  interrupt: boolean;
}

export class TypeAhead {
  /** Unread text, oldest first; the head is read from `#at` on. */
  #chunks: string[] = [];
  #at = 0;
  #size = 0;
  /** The echoed characters of the line being typed, so an erase can take one back off the screen. */
  #line: string[] = [];

  /** Characters not yet read. */
  get size(): number {
    return this.#size;
  }

  /** Text for the prompt to read (input that arrived at the prompt: it echoes as the editor draws it). */
  append(text: string): void {
    if (text === '') return;
    this.#chunks.push(text);
    this.#size += text.length;
  }

  /** The oldest unread text and where reading it resumes; `advance` says how far a read got. */
  head(): { text: string; at: number } | undefined {
    const text = this.#chunks[0];
    return text === undefined ? undefined : { text, at: this.#at };
  }

  advance(next: number): void {
    const text = this.#chunks[0];
    if (text === undefined) return;
    const taken = Math.min(next, text.length) - this.#at;
    this.#size -= taken;
    if (next >= text.length) {
      this.#chunks.shift();
      this.#at = 0;
    } else this.#at = next;
  }

  /** Everything unread, for a command that reads its input (a container's shell, `run -i`). */
  takeAll(): string | undefined {
    if (this.#size === 0) {
      this.clear();
      return undefined;
    }
    const head = this.#chunks[0]!.slice(this.#at);
    const all = head + this.#chunks.slice(1).join('');
    this.clear();
    return all;
  }

  /** Drops what is unread (Ctrl-C flushes a tty's input; the terminal went away). */
  clear(): void {
    this.#chunks = [];
    this.#at = 0;
    this.#size = 0;
  }

  /** A new prompt: the echo's line starts again. */
  newLine(): void {
    this.#line = [];
  }

  /**
   * Keys typed while a command runs that does not read them: kept for the prompt and echoed as a
   * cooked tty echoes (control keys as `^X`, an erase takes a character back within the line). At
   * Ctrl-C everything kept is flushed and the rest of the chunk dropped; the caller interrupts.
   */
  typed(text: string): Typed {
    let echo = '';
    let kept = '';
    let full = false;
    for (const char of text) {
      if (char === '\x03') {
        this.clear();
        this.#line = [];
        return { echo, interrupt: true };
      }
      if (this.#size + kept.length + char.length > MAX_TYPE_AHEAD) {
        // A full tty input queue drops the key and rings the bell (once per chunk is enough).
        if (!full) echo += '\x07';
        full = true;
        continue;
      }
      kept += char;
      echo += this.#echoOf(char);
    }
    this.append(kept);
    return { echo, interrupt: false };
  }

  #echoOf(char: string): string {
    if (char === '\r' || char === '\n') {
      this.#line = [];
      return '\r\n';
    }
    if (char === '\x7f' || char === '\b') {
      const gone = this.#line.pop();
      if (gone === undefined) return '';
      const width = gone.startsWith('^') ? 2 : cellWidth(gone);
      return '\b \b'.repeat(width);
    }
    if (char === '\x15') {
      // Ctrl-U: the line typed so far goes.
      let out = '';
      while (this.#line.length > 0) {
        const gone = this.#line.pop()!;
        out += '\b \b'.repeat(gone.startsWith('^') ? 2 : cellWidth(gone));
      }
      return out;
    }
    if (char === '\t') {
      this.#line.push(' ');
      return ' ';
    }
    if (char < ' ') {
      // ECHOCTL: an arrow key shows as ^[[A, as it does under a running command on a real tty.
      const shown = `^${String.fromCharCode(char.charCodeAt(0) + 64)}`;
      this.#line.push(shown);
      return shown;
    }
    this.#line.push(char);
    return char;
  }
}
