// The terminal's line discipline without a server: a paste read one line at a time (the decoder stops
// after each Enter), and keys typed while a command runs echoed and kept as a cooked tty keeps them,
// with erase, Ctrl-C's flush and a bounded queue.
import { describe, expect, it } from 'vitest';
import { KeyDecoder } from '../../server/terminal/keys.ts';
import { MAX_TYPE_AHEAD, TypeAhead } from '../../server/terminal/type-ahead.ts';

/** Reads `unread` as the prompt does: one line per call, as keys. */
function readLines(unread: TypeAhead, decoder = new KeyDecoder()) {
  const lines: string[][] = [];
  for (let head = unread.head(); head !== undefined; head = unread.head()) {
    const { keys, next } = decoder.feedLine(head.text, head.at);
    unread.advance(next);
    lines.push(keys.map((k) => (k.kind === 'text' || k.kind === 'paste' ? k.text : `<${k.kind}>`)));
  }
  return lines;
}

describe('paste splitting (KeyDecoder.feedLine)', () => {
  it('stops after the first Enter and says where the rest begins', () => {
    const decoder = new KeyDecoder();
    const paste = 'docker images\rdocker ps -a\r';
    const first = decoder.feedLine(paste);
    expect(first.keys).toEqual([{ kind: 'text', text: 'docker images' }, { kind: 'enter' }]);
    expect(paste.slice(first.next)).toBe('docker ps -a\r');
    const second = decoder.feedLine(paste, first.next);
    expect(second.keys).toEqual([{ kind: 'text', text: 'docker ps -a' }, { kind: 'enter' }]);
    expect(second.next).toBe(paste.length);
  });

  it('takes CR LF as one Enter and a last line without Enter whole', () => {
    const unread = new TypeAhead();
    unread.append('one\r\ntwo\nthree');
    expect(readLines(unread)).toEqual([['one', '<enter>'], ['two', '<enter>'], ['three']]);
    expect(unread.size).toBe(0);
  });

  it('keeps an escape sequence split across chunks, and reads on after it', () => {
    const decoder = new KeyDecoder();
    expect(decoder.feedLine('ab\x1b[').keys).toEqual([{ kind: 'text', text: 'ab' }]);
    const rest = 'Acd\ref\r';
    const line = decoder.feedLine(rest);
    expect(line.keys).toEqual([{ kind: 'up' }, { kind: 'text', text: 'cd' }, { kind: 'enter' }]);
    expect(rest.slice(line.next)).toBe('ef\r');
  });

  it('reads a long paste of many lines in one pass each (no quadratic re-slicing)', () => {
    const unread = new TypeAhead();
    unread.append('docker ps\r'.repeat(5000));
    const started = performance.now();
    const lines = readLines(unread);
    expect(lines).toHaveLength(5000);
    expect(lines.every((l) => l.join('') === 'docker ps<enter>')).toBe(true);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('TypeAhead (keys typed while a command runs)', () => {
  it('echoes as a cooked tty and keeps the keys for the prompt', () => {
    const unread = new TypeAhead();
    const typed = unread.typed('docker ps\r');
    expect(typed).toEqual({ echo: 'docker ps\r\n', interrupt: false });
    expect(readLines(unread)).toEqual([['docker ps', '<enter>']]);
  });

  it('takes an erased character back off the screen, but not past the line it is in', () => {
    const unread = new TypeAhead();
    expect(unread.typed('ab\x7f').echo).toBe('ab\b \b');
    expect(unread.typed('\r\x7f').echo).toBe('\r\n');
    expect(unread.typed('\x1b[A\x7f').echo).toBe('^[[A\b \b');
    // Ctrl-U takes the whole line back: y, x, `[` and the two cells of `^[` (the `A` went already).
    expect(unread.typed('xy\x15').echo).toBe(`xy${'\b \b'.repeat(5)}`);
    // The kept bytes are the raw keys: the prompt's editor applies the erase when it reads them.
    const lines = readLines(unread);
    expect(lines[0]).toEqual(['ab', '<backspace>']);
    expect(lines[1]).toEqual(['<enter>']);
  });

  it('flushes what was kept at Ctrl-C and drops the rest of the chunk', () => {
    const unread = new TypeAhead();
    unread.typed('docker images\r');
    expect(unread.size).toBeGreaterThan(0);
    expect(unread.typed('abc\x03def\r')).toEqual({ echo: 'abc', interrupt: true });
    expect(unread.size).toBe(0);
    expect(unread.head()).toBeUndefined();
  });

  it('is bounded: past MAX_TYPE_AHEAD a key rings the bell and is dropped', () => {
    const unread = new TypeAhead();
    unread.typed('x'.repeat(MAX_TYPE_AHEAD - 2));
    const typed = unread.typed('abcdef');
    expect(typed.echo).toBe('ab\x07');
    expect(unread.size).toBe(MAX_TYPE_AHEAD);
    expect(unread.typed('\x03').interrupt).toBe(true);
    expect(unread.size).toBe(0);
  });

  it('hands everything unread to a command that reads it', () => {
    const unread = new TypeAhead();
    unread.append('echo one\recho two\r');
    const decoder = new KeyDecoder();
    const head = unread.head()!;
    unread.advance(decoder.feedLine(head.text, head.at).next);
    unread.typed('exit\r');
    expect(unread.takeAll()).toBe('echo two\rexit\r');
    expect(unread.takeAll()).toBeUndefined();
  });
});
