// The prompt's line editor, checked by feeding what it writes into a real (headless) xterm and reading
// the screen back: editing keys, history, Ctrl-C/Ctrl-D, wide characters, wrapping and paste.
import xtermHeadless from '@xterm/headless';
import { describe, expect, it } from 'vitest';
import { KeyDecoder } from '../../server/terminal/keys.ts';
import { type EditorResult, History, LineEditor } from '../../server/terminal/line-editor.ts';

const PROMPT = '$ ';

function setup(columns = 40, history?: History) {
  const term = new xtermHeadless.Terminal({ cols: columns, rows: 10, allowProposedApi: true });
  const editor = new LineEditor({ prompt: PROMPT, promptWidth: 2, columns, ...(history ? { history } : {}) });
  const decoder = new KeyDecoder();
  const actions: EditorResult['action'][] = [];
  let written = editor.begin();
  const type = (input: string) => {
    for (const key of decoder.feed(input)) {
      const result = editor.feed(key);
      written += result.output;
      if (result.action) actions.push(result.action);
    }
  };
  const screen = async () => {
    await new Promise<void>((resolve) => term.write(written, resolve));
    written = '';
    const buffer = term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < term.rows; i++) lines.push(buffer.getLine(buffer.baseY + i)!.translateToString(true));
    while (lines.length > 0 && lines.at(-1) === '') lines.pop();
    return { lines, cursor: { x: buffer.cursorX, y: buffer.cursorY } };
  };
  return { editor, type, screen, actions };
}

describe('LineEditor', () => {
  it('echoes typed text after the prompt', async () => {
    const t = setup();
    t.type('docker images');
    expect(t.editor.line).toBe('docker images');
    expect(await t.screen()).toEqual({ lines: ['$ docker images'], cursor: { x: 15, y: 0 } });
  });

  it('moves with arrows, Home and End, and inserts in the middle', async () => {
    const t = setup();
    t.type('docker ps');
    t.type('\x1b[D\x1b[D'); // left ×2, before "ps"
    t.type('image ');
    expect(t.editor.line).toBe('docker image ps');
    t.type('\x01'); // Ctrl-A
    t.type('sudo ');
    t.type('\x05!'); // Ctrl-E, then type at the end
    const screen = await t.screen();
    expect(screen.lines).toEqual(['$ sudo docker image ps!']);
    expect(screen.cursor.x).toBe(23);
    t.type('\x1b[H'); // Home as an escape sequence
    expect(t.editor.cursorIndex).toBe(0);
    t.type('\x1b[F'); // End
    expect(t.editor.cursorIndex).toBe(t.editor.line.length);
  });

  it('deletes with Backspace, Delete, Ctrl-K, Ctrl-U and Ctrl-W', async () => {
    const t = setup();
    t.type('docker run busybox\x7f\x7f');
    expect(t.editor.line).toBe('docker run busyb');
    t.type('\x17'); // Ctrl-W: the word before the cursor
    expect(t.editor.line).toBe('docker run ');
    t.type('alpine\x01\x1b[3~'); // Home, Delete
    expect(t.editor.line).toBe('ocker run alpine');
    t.type('\x1b[C\x1b[C\x1b[C\x1b[C\x1b[C\x0b'); // right ×5, Ctrl-K
    expect(t.editor.line).toBe('ocker');
    t.type('\x1b[D\x1b[D\x15'); // left ×2, Ctrl-U
    expect(t.editor.line).toBe('er');
    expect(await t.screen()).toEqual({ lines: ['$ er'], cursor: { x: 2, y: 0 } });
  });

  it('submits on Enter and recalls history with Up and Down, keeping the draft', async () => {
    const t = setup();
    t.type('docker images\r');
    t.editor.begin();
    t.type('docker ps -a\r');
    expect(t.actions).toEqual([
      { kind: 'submit', line: 'docker images' },
      { kind: 'submit', line: 'docker ps -a' },
    ]);
    t.editor.begin();
    t.type('dock');
    t.type('\x1b[A');
    expect(t.editor.line).toBe('docker ps -a');
    t.type('\x1b[A');
    expect(t.editor.line).toBe('docker images');
    t.type('\x1b[A'); // nothing older: stays
    expect(t.editor.line).toBe('docker images');
    t.type('\x1b[B\x1b[B');
    expect(t.editor.line).toBe('dock');
  });

  it('keeps a bounded history without blanks or repeats', () => {
    const history = new History(3);
    for (const line of ['a', 'b', 'b', ' ', 'c', 'd']) history.add(line);
    expect(history.entries).toEqual(['b', 'c', 'd']);
  });

  it('clears the line on Ctrl-C, printing ^C and a fresh prompt', async () => {
    const t = setup();
    t.type('docker pu\x03');
    expect(t.editor.line).toBe('');
    const screen = await t.screen();
    expect(screen.lines).toEqual(['$ docker pu^C', '$ ']);
    expect(screen.cursor).toEqual({ x: 2, y: 1 });
  });

  it('reports Ctrl-D on an empty line and deletes under the cursor otherwise', () => {
    const t = setup();
    t.type('\x04');
    expect(t.actions).toEqual([{ kind: 'eof' }]);
    t.type('ab\x01\x04');
    expect(t.editor.line).toBe('b');
    expect(t.actions).toHaveLength(1);
  });

  it('handles wide and astral characters as whole code points', async () => {
    const t = setup();
    t.type('echo 日本😀');
    expect(t.editor.line).toBe('echo 日本😀');
    t.type('\x7f'); // one backspace removes the whole emoji
    expect(t.editor.line).toBe('echo 日本');
    t.type('\x1b[D'); // left over a wide character: two cells
    const screen = await t.screen();
    expect(screen.lines).toEqual(['$ echo 日本']);
    expect(screen.cursor.x).toBe(2 + 5 + 2);
  });

  it('redraws a line that wraps, with the cursor in the right place', async () => {
    const t = setup(20);
    t.type('docker run --rm -it busybox sh');
    t.type('\x01'); // Home: two rows up
    t.type('x');
    const screen = await t.screen();
    expect(screen.lines).toEqual(['$ xdocker run --rm -', 'it busybox sh']);
    expect(screen.cursor).toEqual({ x: 3, y: 0 });
    t.type('\x05\x7f'.repeat(1));
    const after = await t.screen();
    expect(after.lines).toEqual(['$ xdocker run --rm -', 'it busybox s']);
    expect(after.cursor).toEqual({ x: 12, y: 1 });
  });

  it('takes a line that ends exactly at the edge and keeps the cursor below it', async () => {
    const t = setup(10);
    t.type('12345678'); // prompt 2 + 8 = 10 cells
    const screen = await t.screen();
    expect(screen.lines).toEqual(['$ 12345678']);
    expect(screen.cursor).toEqual({ x: 0, y: 1 });
    t.type('9');
    expect((await t.screen()).lines).toEqual(['$ 12345678', '9']);
  });

  it('inserts a bracketed paste without running it', () => {
    const t = setup();
    t.type('\x1b[200~docker images\ndocker ps\x1b[201~');
    expect(t.actions).toEqual([]);
    expect(t.editor.line).toBe('docker images docker ps');
  });

  it('asks for completion on Tab, saying when it is the second Tab in a row', () => {
    const t = setup();
    t.type('docker ru\t\t');
    expect(t.actions).toEqual([
      { kind: 'complete', before: 'docker ru', after: '', repeated: false },
      { kind: 'complete', before: 'docker ru', after: '', repeated: true },
    ]);
  });

  it('clears the screen on Ctrl-L and draws the line at the top', async () => {
    const t = setup();
    t.type('docker images\r');
    t.editor.begin();
    t.type('abc\x0c');
    const screen = await t.screen();
    expect(screen.lines[0]).toBe('$ abc');
  });
});

describe('KeyDecoder', () => {
  it('holds an escape sequence split across chunks', () => {
    const d = new KeyDecoder();
    expect(d.feed('a\x1b')).toEqual([{ kind: 'text', text: 'a' }]);
    expect(d.feed('[A')).toEqual([{ kind: 'up' }]);
  });

  it('reads Ctrl-arrows as word moves and CR LF as one Enter', () => {
    const d = new KeyDecoder();
    expect(d.feed('\x1b[1;5C\x1b[1;5D\r\n')).toEqual([
      { kind: 'word-right' },
      { kind: 'word-left' },
      { kind: 'enter' },
    ]);
  });

  it('collects a paste across chunks', () => {
    const d = new KeyDecoder();
    expect(d.feed('\x1b[200~docker ')).toEqual([]);
    expect(d.feed('images\x1b[201~x')).toEqual([
      { kind: 'paste', text: 'docker images' },
      { kind: 'text', text: 'x' },
    ]);
  });
});
