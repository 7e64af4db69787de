// Issue #9, finding 5, the pure parts: however much is typed, the prompt's line, its history, the
// key decoder's held bytes and the input queue stay bounded, and one session's input work is held to
// its time budget. (security-flood.test.ts mounts the whole attack on a real server.)

import { describe, expect, it } from 'vitest';
import { addressKey } from '../../server/http/connections.ts';
import {
  INPUT_HIGH_WATER,
  INPUT_LOW_WATER,
  InputQueue,
  type StepResult,
  WorkBudget,
} from '../../server/terminal/input-queue.ts';
import { KeyDecoder } from '../../server/terminal/keys.ts';
import { History, LINE_TOO_LONG, LineEditor, MAX_LINE_CHARS } from '../../server/terminal/line-editor.ts';

describe('the prompt line', () => {
  it('stops at MAX_LINE_CHARS with the bell and, once per line, a message', () => {
    const editor = new LineEditor({ prompt: '$ ', promptWidth: 2, columns: 80 });
    editor.begin();
    const first = editor.insert('a'.repeat(MAX_LINE_CHARS + 10));
    expect(editor.line).toHaveLength(MAX_LINE_CHARS);
    expect(first).toContain('\x07');
    expect(first).toContain(LINE_TOO_LONG);
    const again = editor.insert('b'.repeat(5 * 1024 * 1024));
    expect(again).toBe('\x07');
    expect(editor.line).toHaveLength(MAX_LINE_CHARS);
    editor.feed({ kind: 'interrupt' });
    expect(editor.insert('c'.repeat(MAX_LINE_CHARS + 1))).toContain(LINE_TOO_LONG);
  });

  it('keeps the history within its character budget', () => {
    const history = new History(500, 200_000);
    for (let i = 0; i < 20; i++) history.add(`${i}`.padEnd(MAX_LINE_CHARS, 'x'));
    const total = history.entries.reduce((n, e) => n + e.length, 0);
    expect(total).toBeLessThanOrEqual(200_000);
    expect(history.entries.at(-1)!.startsWith('19')).toBe(true);
  });
});

describe('the key decoder', () => {
  it('holds at most a few characters of an unfinished sequence and never grows with a paste', () => {
    const decoder = new KeyDecoder();
    expect(decoder.feed(`\x1b[${'1'.repeat(40)}`)).toEqual([{ kind: 'ignored' }]);
    decoder.feed('\x1b[200~');
    let pasted = 0;
    for (let i = 0; i < 100; i++) {
      for (const key of decoder.feed('line\r'.repeat(4000))) {
        expect(key.kind).toBe('paste'); // a long paste's newlines stay text, never Enter
        if (key.kind === 'paste') pasted += key.text.length;
      }
    }
    expect(pasted).toBeGreaterThan(1_900_000);
  });
});

describe('the input queue', () => {
  it('asks the sender to pause above the high-water mark and tells it when to go on', async () => {
    let blocked = true;
    const queue: InputQueue = new InputQueue({
      budget: new WorkBudget(),
      step: (): StepResult => (blocked ? 'blocked' : queue.take() ? 'more' : 'idle'),
    });
    const chunk = Buffer.alloc(32 * 1024);
    let accepted = true;
    let pushes = 0;
    while (accepted) {
      accepted = queue.push(chunk);
      pushes++;
    }
    expect(pushes * chunk.length).toBeGreaterThan(INPUT_HIGH_WATER);
    const drained = new Promise<void>((resolve) => queue.onDrain(resolve));
    blocked = false;
    queue.wake();
    await drained;
    expect(queue.bytes).toBeLessThan(INPUT_LOW_WATER);
    queue.dispose();
  });

  it('holds one session to its time budget', () => {
    let now = 0;
    const budget = new WorkBudget(250, 250, () => now);
    budget.charge(1250);
    expect(budget.waitMs()).toBeGreaterThanOrEqual(4000);
    now += 4100;
    expect(budget.waitMs()).toBe(0);
  });
});

describe('client addresses', () => {
  it('counts an IPv6 client by its /64 and an IPv4-mapped one as IPv4', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe(addressKey('2001:db8:1:2:bbbb::9'));
    expect(addressKey('2001:db8:1:3::1')).not.toBe(addressKey('2001:db8:1:2::1'));
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
  });
});
