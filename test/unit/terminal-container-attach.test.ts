// The foreground command without a server: cooked input (echo, erase, Enter, Ctrl-D), raw input to
// a PTY reader, Ctrl-C once to cancel and twice to abandon, and the mode switch raw mode drives.
import { describe, expect, it } from 'vitest';
import { parseDigest } from '../../engine/oci/digest.ts';
import {
  ForegroundCommand,
  type ForegroundHost,
  ModeSwitch,
  type TerminalMode,
} from '../../server/terminal/container-attach.ts';
import { LINE_TOO_LONG, MAX_LINE_CHARS } from '../../server/terminal/line-editor.ts';

function setup() {
  const mode = new ModeSwitch();
  const modes: [TerminalMode, string | undefined][] = [];
  mode.onChange((m, c) => modes.push([m, c]));
  let screen = '';
  let abandoned = 0;
  const host: ForegroundHost = {
    write: (data) => {
      screen += data.toString();
      return true;
    },
    columns: () => 80,
    rows: () => 24,
    mode,
    abandoned: () => {
      abandoned++;
    },
  };
  const job = new ForegroundCommand(host);
  const stdin: Buffer[] = [];
  let ended = false;
  job.streams.stdin.on('data', (data: Buffer) => stdin.push(data));
  job.streams.stdin.on('end', () => {
    ended = true;
  });
  return {
    job,
    mode,
    modes,
    screen: () => screen,
    stdin: () => Buffer.concat(stdin).toString('utf8'),
    ended: () => ended,
    abandoned: () => abandoned,
  };
}

describe('ModeSwitch', () => {
  it('says each switch to a container, and the return to the shell once', () => {
    const mode = new ModeSwitch();
    const seen: string[] = [];
    mode.onChange((m, c) => seen.push(`${m}:${c ?? ''}`));
    mode.set('shell');
    mode.set('container', 'abc');
    mode.set('container', 'abc');
    mode.set('shell');
    mode.set('shell');
    expect(seen).toEqual(['container:abc', 'container:abc', 'shell:']);
    expect(mode.mode).toBe('shell');
  });
});

describe('ForegroundCommand', () => {
  it('cooks typed input: echo, erase a code point, a line on Enter, end on Ctrl-D', () => {
    const t = setup();
    t.job.input(Buffer.from('ab😀\x7f\x7fc\r'));
    expect(t.screen()).toBe('ab😀\b \b\b \bc\r\n');
    expect(t.stdin()).toBe('ac\n');
    t.job.input(Buffer.from('part\x04'));
    expect(t.stdin()).toBe('ac\npart');
    t.job.input(Buffer.from('\x04'));
    expect(t.ended()).toBe(true);
  });

  it('drops characters past a full line, with the bell and the reason said once', () => {
    const t = setup();
    t.job.input(Buffer.from('x'.repeat(MAX_LINE_CHARS + 2)));
    expect(t.screen().endsWith(`\x07\r\n${LINE_TOO_LONG}\r\n\x07`)).toBe(true);
    t.job.input(Buffer.from('\r'));
    expect(t.stdin()).toHaveLength(MAX_LINE_CHARS + 1);
  });

  it('hands bytes to a raw-mode reader as they are, and reports the container mode', async () => {
    const t = setup();
    t.job.lookup = Promise.resolve(undefined);
    t.job.observe({
      type: 'container.created',
      id: 'c1',
      name: 'n',
      imageId: parseDigest(`sha256:${'0'.repeat(64)}`),
    });
    t.job.streams.stdin.setRawMode(true);
    t.job.input(Buffer.from('\x03ls\r'));
    expect(t.stdin()).toBe('\x03ls\r');
    expect(t.screen()).toBe('');
    expect(t.modes).toEqual([['container', 'c1']]);
    t.job.streams.stdin.setRawMode(false);
    expect(t.modes).toEqual([
      ['container', 'c1'],
      ['shell', undefined],
    ]);
  });

  it('names the exec target once its lookup resolves', async () => {
    const t = setup();
    t.job.lookup = Promise.resolve('target');
    t.job.streams.stdin.setRawMode(true);
    expect(t.modes).toEqual([]);
    await t.job.lookup;
    await Promise.resolve();
    expect(t.modes).toEqual([['container', 'target']]);
  });

  it('cancels on the first Ctrl-C and abandons on the second', () => {
    const t = setup();
    t.job.input(Buffer.from('\x03'));
    expect(t.job.controller.signal.aborted).toBe(true);
    expect(t.abandoned()).toBe(0);
    t.job.input(Buffer.from('\x03'));
    expect(t.screen()).toBe('^C\r\n^C\r\n');
    expect(t.abandoned()).toBe(1);
    expect(t.job.attached).toBe(false);
    expect(t.ended()).toBe(true);
  });

  it('once detached, drops its output and mode changes', () => {
    const t = setup();
    t.job.streams.stdout.write('before\n');
    t.job.detach();
    t.job.streams.stdout.write('after\n');
    t.job.streams.stdin.setRawMode(true);
    expect(t.screen()).toBe('before\r\n');
    expect(t.modes).toEqual([]);
  });

  it('applies the output rewrite and wakes its writers', () => {
    const t = setup();
    t.job.rewrite = (data) => Buffer.from(data.toString().replace('/host/ws', '~'));
    t.job.streams.stdout.write('saved /host/ws/a.tar');
    expect(t.screen()).toBe('saved ~/a.tar');
    let drains = 0;
    t.job.streams.stdout.on('drain', () => drains++);
    t.job.streams.stderr.on('drain', () => drains++);
    t.job.wakeWriters();
    expect(drains).toBe(2);
  });
});
