// Turns the bytes a browser terminal sends (xterm.js onData) into key events for the line editor:
// printable text, control keys, cursor-key escape sequences and bracketed paste.

export type Key = { kind: 'text'; text: string } | { kind: 'paste'; text: string } | { kind: SimpleKey };

export type SimpleKey =
  | 'enter'
  | 'backspace'
  | 'delete'
  | 'left'
  | 'right'
  | 'up'
  | 'down'
  | 'home'
  | 'end'
  | 'word-left'
  | 'word-right'
  | 'kill-end' // Ctrl-K
  | 'kill-start' // Ctrl-U
  | 'kill-word' // Ctrl-W
  | 'clear-screen' // Ctrl-L
  | 'interrupt' // Ctrl-C
  | 'eof' // Ctrl-D
  | 'tab'
  | 'ignored';

const PASTE_END = '\x1b[201~';
/**
 * A paste is held until its end marker, but never more than this: past it, what came so far is
 * handed on as a paste key and the paste goes on, so the decoder holds a bounded amount whatever
 * a page sends (and a long paste's newlines stay pasted text, never Enter).
 */
const MAX_PASTE = 64 * 1024;

const CONTROL: Record<string, SimpleKey> = {
  '\r': 'enter',
  '\n': 'enter',
  '\x7f': 'backspace',
  '\b': 'backspace',
  '\t': 'tab',
  '\x01': 'home',
  '\x05': 'end',
  '\x02': 'left',
  '\x06': 'right',
  '\x10': 'up',
  '\x0e': 'down',
  '\x0b': 'kill-end',
  '\x15': 'kill-start',
  '\x17': 'kill-word',
  '\x0c': 'clear-screen',
  '\x03': 'interrupt',
  '\x04': 'eof',
};

/** Final bytes of CSI/SS3 sequences without parameters (`ESC [ A`, `ESC O A`). */
const CURSOR: Record<string, SimpleKey> = { A: 'up', B: 'down', C: 'right', D: 'left', H: 'home', F: 'end' };
/** `ESC [ n ~` sequences. */
const TILDE: Record<string, SimpleKey> = {
  '1': 'home',
  '7': 'home',
  '4': 'end',
  '8': 'end',
  '3': 'delete',
};

/**
 * A stateful decoder: an escape sequence or paste split across two chunks is held until the rest
 * arrives (xterm.js sends whole sequences, but a socket may still split them).
 */
export class KeyDecoder {
  private held = '';
  private paste: string | undefined;

  feed(chunk: string): Key[] {
    return this.#decode(chunk, 0, false).keys;
  }

  /**
   * Decodes `chunk` from `from` up to and including the first Enter, as a tty's reader takes one line:
   * what follows stays typed-ahead (for the command that line starts, or the next prompt). `next` is
   * where in `chunk` decoding stopped (`chunk.length` when all of it was taken).
   */
  feedLine(chunk: string, from = 0): { keys: Key[]; next: number } {
    return this.#decode(chunk, from, true);
  }

  #decode(chunk: string, from: number, stopAtEnter: boolean): { keys: Key[]; next: number } {
    const heldBefore = this.held.length;
    const data = heldBefore === 0 && from === 0 ? chunk : this.held + chunk.slice(from);
    // Offsets in `data` map back to `chunk` by this shift (the held prefix came from an earlier chunk).
    const shift = from - heldBefore;
    this.held = '';
    const keys: Key[] = [];
    // Walks the chunk by index and cuts text runs out with one slice each: a 64 KiB chunk of typing
    // costs one pass and one string, not a string per character.
    let i = 0;
    let textStart = 0;
    const flushText = (to: number) => {
      if (to > textStart) keys.push({ kind: 'text', text: data.slice(textStart, to) });
    };
    while (i < data.length) {
      if (this.paste !== undefined) {
        const end = data.indexOf(PASTE_END, i);
        if (end === -1) {
          this.paste += data.slice(i);
          i = data.length;
          textStart = i;
          if (this.paste.length > MAX_PASTE) {
            // The tail may be the start of a split end marker: it stays for the next chunk.
            const keep = PASTE_END.length - 1;
            keys.push({ kind: 'paste', text: this.paste.slice(0, -keep) });
            this.paste = this.paste.slice(-keep);
          }
          break;
        }
        keys.push({ kind: 'paste', text: this.paste + data.slice(i, end) });
        this.paste = undefined;
        i = end + PASTE_END.length;
        textStart = i;
        continue;
      }
      const ch = data[i]!;
      if (ch === '\x1b') {
        flushText(i);
        const parsed = parseEscape(data, i);
        if (parsed === 'incomplete') {
          this.held = data.slice(i);
          return { keys, next: chunk.length };
        }
        if (parsed.key === 'paste-start') this.paste = '';
        else keys.push({ kind: parsed.key });
        i += parsed.length;
        textStart = i;
        continue;
      }
      const control = CONTROL[ch];
      if (control) {
        flushText(i);
        keys.push({ kind: control });
        // CR LF (typed text from some clients) is one Enter, not two.
        i += ch === '\r' && data[i + 1] === '\n' ? 2 : 1;
        textStart = i;
        if (stopAtEnter && control === 'enter') return { keys, next: Math.max(from, i + shift) };
        continue;
      }
      if (ch < ' ') {
        // Other control characters have no meaning at this prompt.
        flushText(i);
        i++;
        textStart = i;
        continue;
      }
      i++;
    }
    flushText(i);
    return { keys, next: chunk.length };
  }
}

type Parsed = { key: SimpleKey | 'paste-start'; length: number } | 'incomplete';

function parseEscape(data: string, at: number): Parsed {
  const left = data.length - at;
  if (left === 1) return 'incomplete';
  const second = data[at + 1]!;
  if (second === '[' || second === 'O') {
    // CSI: parameters (0x30–0x3f), intermediates (0x20–0x2f), one final byte (0x40–0x7e).
    let i = at + 2;
    while (i < data.length && data.charCodeAt(i) >= 0x20 && data.charCodeAt(i) <= 0x3f) i++;
    // An unfinished sequence is held for the next chunk, but never more than 32 characters of it.
    if (i >= data.length) return left > 32 ? { key: 'ignored', length: left } : 'incomplete';
    const final = data[i]!;
    const params = data.slice(at + 2, i);
    const length = i + 1 - at;
    if (second === '[' && final === '~') {
      if (params === '200') return { key: 'paste-start', length };
      return { key: TILDE[params] ?? 'ignored', length };
    }
    const cursor = CURSOR[final];
    if (!cursor) return { key: 'ignored', length };
    // `ESC [ 1 ; 5 C` is Ctrl-Right (and `;3` Alt-Right): a word move, as in bash.
    if ((params.endsWith(';5') || params.endsWith(';3')) && (final === 'C' || final === 'D')) {
      return { key: final === 'C' ? 'word-right' : 'word-left', length };
    }
    return { key: cursor, length };
  }
  // Alt+key arrives as ESC followed by the key.
  if (second === 'b') return { key: 'word-left', length: 2 };
  if (second === 'f') return { key: 'word-right', length: 2 };
  if (second === '\x7f') return { key: 'kill-word', length: 2 };
  return { key: 'ignored', length: 1 };
}
