// A terminal's output without a server: bytes reach the screen copy and the listeners; while paused
// they wait (or, past the cap, the screen is re-sent on resume); writers are woken once nothing is behind.
import { describe, expect, it } from 'vitest';
import { MAX_QUEUED_BYTES, type OutputHooks, TerminalOutput } from '../../server/terminal/output.ts';

function setup(hooks: Partial<OutputHooks> = {}) {
  const received: Buffer[] = [];
  let written = 0;
  const output = new TerminalOutput(80, 24, {
    written: (bytes) => {
      written += bytes;
    },
    writers: () => undefined,
    idle: () => {},
    ...hooks,
  });
  output.onOutput((data) => received.push(data));
  return { output, received, written: () => written };
}

const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString('utf8');

describe('TerminalOutput', () => {
  it('sends bytes to the listeners and the screen, and reports what was written', async () => {
    const { output, received, written } = setup();
    expect(output.emit('hello')).toBe(true);
    output.print('a\nb\n');
    expect(text(received)).toBe('helloa\r\nb\r\n');
    expect(written()).toBe(11);
    await output.settled();
    expect(output.replay()).toContain('hello');
    output.dispose();
  });

  it('holds output while paused and sends it in order on resume', async () => {
    const { output, received } = setup();
    output.pause();
    expect(output.emit('one ')).toBe(false);
    output.emit('two');
    expect(received).toEqual([]);
    output.resume();
    await new Promise((resolve) => setImmediate(resolve));
    expect(text(received)).toBe('one two');
    output.dispose();
  });

  it('past the cap, drops what it held and re-sends the screen on resume', async () => {
    const { output, received } = setup();
    output.pause();
    const line = `${'x'.repeat(1023)}\n`;
    for (let sent = 0; sent <= MAX_QUEUED_BYTES; sent += line.length) output.emit(line);
    output.emit('LAST');
    output.resume();
    await output.settled();
    await new Promise((resolve) => setImmediate(resolve));
    expect(received).toHaveLength(1);
    const screen = received[0]!.toString('utf8');
    expect(screen.startsWith('\x1bc')).toBe(true);
    expect(screen).toContain('LAST');
    output.dispose();
  });

  it('wakes the writers that were told to wait once the socket resumes', async () => {
    let woken = 0;
    const { output } = setup({
      writers: () => () => {
        woken++;
      },
    });
    output.pause();
    expect(output.congested).toBe(true);
    expect(output.emit('wait')).toBe(false);
    output.resume();
    await new Promise((resolve) => setImmediate(resolve));
    expect(woken).toBe(1);
    output.dispose();
  });

  it('tells its owner when the screen has caught up, and writes nothing once disposed', async () => {
    let idle = 0;
    const { output, received } = setup({
      idle: () => {
        idle++;
      },
    });
    output.emit('x');
    await output.settled();
    expect(idle).toBeGreaterThan(0);
    output.dispose();
    expect(output.emit('after')).toBe(true);
    expect(text(received)).toBe('x');
    expect(output.replay()).toBe('');
  });
});
