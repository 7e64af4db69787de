// The prompt's line editor: a pure state machine from key events to the escape sequences that redraw
// the line, with bash's Emacs keys and a bounded history. It does no I/O, so it is tested by itself.
// A line holds at most MAX_LINE_CHARS characters and the history at most HISTORY_MAX_CHARS in all,
// so however much a page types, one terminal's editor stays a few hundred KiB.

import type { Key } from './keys.ts';
import { cellWidth } from './width.ts';

/** The longest line the prompt takes (a shell-like limit; Linux's own tty line holds 4 KiB). */
export const MAX_LINE_CHARS = 64 * 1024;
/** Characters kept in the history in all; the oldest lines go first. */
export const HISTORY_MAX_CHARS = 1024 * 1024;
/** Said once per line when typing goes past MAX_LINE_CHARS (later overflow only rings the bell). */
export const LINE_TOO_LONG = 'layerlab: line too long (limit 64 KiB); the rest was dropped';

/** Previous command lines, oldest first, without blanks or a repeat of the line before. */
export class History {
  private readonly items: string[] = [];
  private chars = 0;
  readonly limit: number;
  readonly maxChars: number;

  constructor(limit = 500, maxChars = HISTORY_MAX_CHARS) {
    this.limit = limit;
    this.maxChars = maxChars;
  }

  add(line: string): void {
    if (line.trim() === '' || this.items.at(-1) === line) return;
    this.items.push(line);
    this.chars += line.length;
    while (this.items.length > this.limit || (this.chars > this.maxChars && this.items.length > 1)) {
      this.chars -= this.items.shift()!.length;
    }
  }

  get entries(): readonly string[] {
    return this.items;
  }
}

export type EditorAction =
  | { kind: 'submit'; line: string }
  | { kind: 'complete'; before: string; after: string; repeated: boolean }
  | { kind: 'eof' };

export interface EditorResult {
  /** Bytes to write to the terminal. */
  output: string;
  action?: EditorAction;
}

interface Cell {
  row: number;
  col: number;
}

export interface EditorOptions {
  /** The prompt as written (may hold colour sequences). */
  prompt: string;
  /** The cells the prompt takes on screen. */
  promptWidth: number;
  columns: number;
  history?: History;
}

export class LineEditor {
  readonly history: History;
  private prompt: string;
  private promptWidth: number;
  private columns: number;
  /** The line as code points, so a wide or astral character moves and deletes as one. */
  private chars: string[] = [];
  private cursor = 0;
  /** The screen row of the cursor, counted from the prompt's row, as last drawn. */
  private drawnRow = 0;
  /** Where up/down is in the history; `entries.length` is the line being typed (the draft). */
  private historyIndex = 0;
  private draft: string[] = [];
  private lastWasTab = false;
  /** The line went past MAX_LINE_CHARS since it began (the message is said once). */
  private overflowed = false;
  /** Where each character starts on screen, valid for the first `starts.length` characters. */
  private starts: Cell[] = [];

  constructor(options: EditorOptions) {
    this.prompt = options.prompt;
    this.promptWidth = options.promptWidth;
    this.columns = Math.max(2, options.columns);
    this.history = options.history ?? new History();
    this.historyIndex = this.history.entries.length;
  }

  get line(): string {
    return this.chars.join('');
  }

  get cursorIndex(): number {
    return this.cursor;
  }

  setColumns(columns: number): void {
    this.columns = Math.max(2, columns);
    this.changedFrom(0);
  }

  /** Characters from `index` on moved or changed: their screen cells are worked out again when needed. */
  private changedFrom(index: number): void {
    if (this.starts.length > index) this.starts.length = index;
  }

  /** Starts a fresh, empty line: the prompt, with the cursor after it. */
  begin(): string {
    this.chars = [];
    this.cursor = 0;
    this.drawnRow = 0;
    this.historyIndex = this.history.entries.length;
    this.draft = [];
    this.lastWasTab = false;
    this.overflowed = false;
    this.changedFrom(0);
    return this.render(true);
  }

  /** Draws prompt and line again on the current (empty) row, after a listing of completions. */
  redraw(): string {
    this.drawnRow = 0;
    return this.render(true);
  }

  /**
   * Inserts text at the cursor (typing, a paste, a completion). What would take the line past
   * MAX_LINE_CHARS is dropped, with the bell and, the first time in this line, a message.
   */
  insert(text: string): string {
    const room = MAX_LINE_CHARS - this.chars.length;
    // Only as much of a huge chunk as could fit is even looked at.
    const sample = text.length > 2 * (room + 1) ? text.slice(0, 2 * (room + 1)) : text;
    const typed = [...sample.replace(/\r\n|[\r\n\t]/g, ' ')].filter((c) => c >= ' ' && c !== '\x7f');
    const added = typed.length > room || sample !== text ? typed.slice(0, room) : typed;
    const overflow = added.length < typed.length || sample !== text;
    if (added.length === 0) return overflow ? this.tooLong() : '';
    const atEnd = this.cursor === this.chars.length;
    const before = this.layout();
    this.chars.splice(this.cursor, 0, ...added);
    this.changedFrom(this.cursor);
    this.cursor += added.length;
    // Typing at the end of a line that does not wrap is only an echo (the common case, kept cheap).
    const after = this.layout();
    let output: string;
    if (atEnd && after.end.row === before.end.row && after.end.col > 0) {
      this.drawnRow = after.end.row;
      output = added.join('');
    } else output = this.render(false);
    return overflow ? output + this.tooLong() : output;
  }

  /** The bell, and the first time in this line a message below it, with the line drawn again. */
  private tooLong(): string {
    if (this.overflowed) return '\x07';
    this.overflowed = true;
    const end = this.moveTo(this.chars.length);
    this.drawnRow = 0;
    return `${end}\x07\r\n${LINE_TOO_LONG}\r\n${this.render(true)}`;
  }

  /** Replaces the whole line (history recall, click-to-run typing the command), cut to MAX_LINE_CHARS. */
  replace(text: string): string {
    this.chars = [...text.slice(0, 2 * MAX_LINE_CHARS)].slice(0, MAX_LINE_CHARS);
    this.changedFrom(0);
    this.cursor = this.chars.length;
    return this.render(false);
  }

  feed(key: Key): EditorResult {
    const wasTab = this.lastWasTab;
    this.lastWasTab = key.kind === 'tab';
    switch (key.kind) {
      case 'text':
      case 'paste':
        return { output: this.insert(key.text) };
      case 'enter': {
        const line = this.line;
        const output = this.moveTo(this.chars.length);
        this.history.add(line);
        this.historyIndex = this.history.entries.length;
        return { output: `${output}\r\n`, action: { kind: 'submit', line } };
      }
      case 'backspace':
        if (this.cursor === 0) return { output: '' };
        return { output: this.backspace() };
      case 'delete':
        if (this.cursor === this.chars.length) return { output: '' };
        this.chars.splice(this.cursor, 1);
        this.changedFrom(this.cursor);
        return { output: this.render(false) };
      case 'left':
        return { output: this.moveTo(this.cursor - 1) };
      case 'right':
        return { output: this.moveTo(this.cursor + 1) };
      case 'home':
        return { output: this.moveTo(0) };
      case 'end':
        return { output: this.moveTo(this.chars.length) };
      case 'word-left':
        return { output: this.moveTo(this.wordStart()) };
      case 'word-right':
        return { output: this.moveTo(this.wordEnd()) };
      case 'kill-end':
        this.chars.splice(this.cursor);
        this.changedFrom(this.cursor);
        return { output: this.render(false) };
      case 'kill-start':
        this.chars.splice(0, this.cursor);
        this.changedFrom(0);
        this.cursor = 0;
        return { output: this.render(false) };
      case 'kill-word': {
        const start = this.wordStart();
        this.chars.splice(start, this.cursor - start);
        this.changedFrom(start);
        this.cursor = start;
        return { output: this.render(false) };
      }
      case 'clear-screen':
        this.drawnRow = 0;
        return { output: `\x1b[H\x1b[2J${this.render(true)}` };
      case 'interrupt': {
        const output = this.moveTo(this.chars.length);
        return { output: `${output}^C\r\n${this.begin()}` };
      }
      case 'eof':
        if (this.chars.length === 0) return { output: '', action: { kind: 'eof' } };
        if (this.cursor === this.chars.length) return { output: '' };
        this.chars.splice(this.cursor, 1);
        this.changedFrom(this.cursor);
        return { output: this.render(false) };
      case 'up':
        return { output: this.recall(-1) };
      case 'down':
        return { output: this.recall(1) };
      case 'tab':
        return {
          output: '',
          action: {
            kind: 'complete',
            before: this.chars.slice(0, this.cursor).join(''),
            after: this.chars.slice(this.cursor).join(''),
            repeated: wasTab,
          },
        };
      case 'ignored':
        return { output: '' };
    }
  }

  private recall(step: -1 | 1): string {
    const entries = this.history.entries;
    const next = this.historyIndex + step;
    if (next < 0 || next > entries.length) return '';
    if (this.historyIndex === entries.length) this.draft = [...this.chars];
    this.historyIndex = next;
    this.chars = next === entries.length ? [...this.draft] : [...entries[next]!];
    this.changedFrom(0);
    this.cursor = this.chars.length;
    return this.render(false);
  }

  /**
   * Deletes the character before the cursor. An ASCII character at the end of the line, on the
   * cursor's row, is only erased where it stood (every terminal agrees on its width): holding
   * Backspace on a long line stays cheap. Anything else redraws the line.
   */
  private backspace(): string {
    const atEnd = this.cursor === this.chars.length;
    const layout = this.layout();
    const gone = layout.starts[this.cursor - 1]!;
    const { end } = layout;
    const ascii = /^[ -~]$/.test(this.chars[this.cursor - 1]!);
    this.chars.splice(this.cursor - 1, 1);
    this.changedFrom(this.cursor - 1);
    this.cursor--;
    if (atEnd && ascii && gone.row === end.row && end.col === gone.col + 1) {
      this.drawnRow = gone.row;
      return '\b\x1b[K';
    }
    return this.render(false);
  }

  /** Start of the word before the cursor (bash's Ctrl-W: whitespace-delimited). */
  private wordStart(): number {
    let i = this.cursor;
    while (i > 0 && this.chars[i - 1] === ' ') i--;
    while (i > 0 && this.chars[i - 1] !== ' ') i--;
    return i;
  }

  private wordEnd(): number {
    let i = this.cursor;
    while (i < this.chars.length && this.chars[i] === ' ') i++;
    while (i < this.chars.length && this.chars[i] !== ' ') i++;
    return i;
  }

  /**
   * Screen cells of each character's start and of the line's end, wide characters wrapping whole.
   * Kept between calls and worked out again only from the first changed character, so moving the
   * cursor or typing at the end of a long line does not walk the whole line each time.
   */
  private layout(): { starts: Cell[]; end: Cell } {
    const cols = this.columns;
    const starts = this.starts;
    let row: number;
    let col: number;
    if (starts.length === 0) {
      row = Math.floor(this.promptWidth / cols);
      col = this.promptWidth % cols;
    } else {
      ({ row, col } = this.after(starts.length - 1));
    }
    for (let i = starts.length; i < this.chars.length; i++) {
      const w = cellWidth(this.chars[i]!);
      if (w > 0 && col + w > cols) {
        row++;
        col = 0;
      }
      starts.push({ row, col });
      col += w;
      if (col >= cols) {
        row++;
        col = 0;
      }
    }
    const end = starts.length === 0 ? { row, col } : this.after(starts.length - 1);
    return { starts, end };
  }

  /** The cell after character `index`, whose start is known. */
  private after(index: number): Cell {
    const start = this.starts[index]!;
    let row = start.row;
    let col = start.col + cellWidth(this.chars[index]!);
    if (col >= this.columns) {
      row++;
      col = 0;
    }
    return { row, col };
  }

  private cellOf(index: number, layout: { starts: Cell[]; end: Cell }): Cell {
    return index < this.chars.length ? layout.starts[index]! : layout.end;
  }

  private moveTo(index: number): string {
    if (index < 0 || index > this.chars.length) return '';
    const layout = this.layout();
    const from = this.cellOf(this.cursor, layout);
    const to = this.cellOf(index, layout);
    this.cursor = index;
    this.drawnRow = to.row;
    if (from.row === to.row) {
      if (to.col === from.col) return '';
      return to.col > from.col ? `\x1b[${to.col - from.col}C` : `\x1b[${from.col - to.col}D`;
    }
    const vertical = to.row > from.row ? `\x1b[${to.row - from.row}B` : `\x1b[${from.row - to.row}A`;
    return `${vertical}\r${to.col > 0 ? `\x1b[${to.col}C` : ''}`;
  }

  /**
   * Redraws prompt and line from the prompt's row, clears what was below, and puts the cursor back.
   * `fresh`: the cursor is already at the start of the prompt's row.
   */
  private render(fresh: boolean): string {
    let out = '';
    if (!fresh && this.drawnRow > 0) out += `\x1b[${this.drawnRow}A`;
    out += `\r${this.prompt}${this.line}\x1b[J`;
    const layout = this.layout();
    const { end } = layout;
    // After the last column the terminal waits to wrap; a space and CR make the wrap happen now, so
    // the cursor is where the layout says.
    if (end.col === 0 && end.row > 0) out += ' \r\x1b[K';
    const target = this.cellOf(this.cursor, layout);
    if (target.row < end.row) out += `\x1b[${end.row - target.row}A`;
    if (target.row !== end.row || target.col !== end.col)
      out += `\r${target.col > 0 ? `\x1b[${target.col}C` : ''}`;
    this.drawnRow = target.row;
    return out;
  }
}
