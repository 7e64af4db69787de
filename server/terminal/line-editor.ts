// The prompt's line editor: a pure state machine from key events to the escape sequences that redraw
// the line, with bash's Emacs keys and a bounded history. It does no I/O, so it is tested by itself.

import type { Key } from './keys.ts';
import { cellWidth } from './width.ts';

/** Previous command lines, oldest first, without blanks or a repeat of the line before. */
export class History {
  private readonly items: string[] = [];
  readonly limit: number;

  constructor(limit = 500) {
    this.limit = limit;
  }

  add(line: string): void {
    if (line.trim() === '' || this.items.at(-1) === line) return;
    this.items.push(line);
    if (this.items.length > this.limit) this.items.splice(0, this.items.length - this.limit);
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
  }

  /** Starts a fresh, empty line: the prompt, with the cursor after it. */
  begin(): string {
    this.chars = [];
    this.cursor = 0;
    this.drawnRow = 0;
    this.historyIndex = this.history.entries.length;
    this.draft = [];
    this.lastWasTab = false;
    return this.render(true);
  }

  /** Draws prompt and line again on the current (empty) row, after a listing of completions. */
  redraw(): string {
    this.drawnRow = 0;
    return this.render(true);
  }

  /** Inserts text at the cursor (typing, a paste, a completion). */
  insert(text: string): string {
    const added = [...text.replace(/\r\n|[\r\n\t]/g, ' ')].filter((c) => c >= ' ' && c !== '\x7f');
    if (added.length === 0) return '';
    const atEnd = this.cursor === this.chars.length;
    const before = this.layout();
    this.chars.splice(this.cursor, 0, ...added);
    this.cursor += added.length;
    // Typing at the end of a line that does not wrap is only an echo (the common case, kept cheap).
    const after = this.layout();
    if (atEnd && after.end.row === before.end.row && after.end.col > 0) {
      this.drawnRow = after.end.row;
      return added.join('');
    }
    return this.render(false);
  }

  /** Replaces the whole line (history recall, click-to-run typing the command). */
  replace(text: string): string {
    this.chars = [...text];
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
        this.chars.splice(this.cursor - 1, 1);
        this.cursor--;
        return { output: this.render(false) };
      case 'delete':
        if (this.cursor === this.chars.length) return { output: '' };
        this.chars.splice(this.cursor, 1);
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
        return { output: this.render(false) };
      case 'kill-start':
        this.chars.splice(0, this.cursor);
        this.cursor = 0;
        return { output: this.render(false) };
      case 'kill-word': {
        const start = this.wordStart();
        this.chars.splice(start, this.cursor - start);
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
    this.cursor = this.chars.length;
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

  /** Screen cells of each character's start and of the line's end, wide characters wrapping whole. */
  private layout(): { starts: Cell[]; end: Cell } {
    const cols = this.columns;
    let row = Math.floor(this.promptWidth / cols);
    let col = this.promptWidth % cols;
    const starts: Cell[] = [];
    for (const char of this.chars) {
      const w = cellWidth(char);
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
    return { starts, end: { row, col } };
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
