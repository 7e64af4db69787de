// The resident engine's wire format (engine/daemon/protocol.ts): frames split however the bytes
// arrive, the client's hello parsed or refused, and which commands the engine hands back to the
// caller's own process (engine/daemon/daemon.ts).

import { describe, expect, it } from 'vitest';
import { inProcessOnly } from '../../engine/daemon/daemon.ts';
import {
  FRAME,
  FrameReader,
  frame,
  type Hello,
  MAX_FRAME,
  parseHello,
} from '../../engine/daemon/protocol.ts';

const helloBytes = (fields: string[]) => Buffer.from(`${fields.join('\0')}\0`);

describe('frames', () => {
  it('come out whole whatever the chunking', () => {
    const bytes = Buffer.concat([
      frame(FRAME.stdout, Buffer.from('out')),
      frame(FRAME.stdinEnd),
      frame(FRAME.stderr, Buffer.from('e')),
    ]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const reader = new FrameReader();
      const frames = [...reader.push(bytes.subarray(0, cut)), ...reader.push(bytes.subarray(cut))];
      expect(frames.map((f) => [f.type, f.payload.toString()])).toEqual([
        [FRAME.stdout, 'out'],
        [FRAME.stdinEnd, ''],
        [FRAME.stderr, 'e'],
      ]);
    }
  });

  it('refuses a frame larger than the limit', () => {
    const head = Buffer.from([FRAME.hello, 0, 0, 0, 0]);
    head.writeUInt32BE(MAX_FRAME + 1, 1);
    expect(() => new FrameReader().push(head)).toThrow(/frame of/);
  });
});

describe('the hello', () => {
  it('carries cwd, umask, terminals, size, argv and env', () => {
    const hello = parseHello(
      helloBytes([
        'layerlab-1',
        '/home/x',
        '22',
        '101',
        '40',
        '120',
        '2',
        'run',
        '-e=a b',
        'A=1',
        'B=x=y',
        '__proto__=p',
      ]).subarray(0),
    );
    expect(hello.cwd).toBe('/home/x');
    expect(hello.umask).toBe(0o22);
    expect(hello.ttys).toEqual([true, false, true]);
    expect([hello.rows, hello.columns]).toEqual([40, 120]);
    expect(hello.argv).toEqual(['run', '-e=a b']);
    expect(Object.entries(hello.env)).toEqual([
      ['A', '1'],
      ['B', 'x=y'],
      ['__proto__', 'p'],
    ]);
  });

  it.each([
    [['layerlab-2', '/', '22', '000', '0', '0', '0']],
    [['layerlab-1', 'relative', '22', '000', '0', '0', '0']],
    [['layerlab-1', '/', '99', '000', '0', '0', '0']],
    [['layerlab-1', '/', '22', '0', '0', '0', '0']],
    [['layerlab-1', '/', '22', '000', '0', '0', '3', 'only-one']],
  ])('refuses a malformed hello: %j', (fields) => {
    expect(() => parseHello(helloBytes(fields))).toThrow(/hello/);
  });
});

describe('what the engine hands back to the caller’s process', () => {
  const hello = (argv: string[], ttys: [boolean, boolean, boolean]): Hello => ({
    cwd: '/',
    umask: 0o22,
    ttys,
    rows: 0,
    columns: 0,
    argv,
    env: {},
  });
  const tty: [boolean, boolean, boolean] = [true, true, true];
  const pipes: [boolean, boolean, boolean] = [false, false, false];

  it('serve, always', () => {
    expect(inProcessOnly(hello(['serve'], pipes))).toBe('serve');
    expect(inProcessOnly(hello(['--root', '/r', 'serve', '-p', '0'], pipes))).toBe('serve');
  });

  it('a command taking over a terminal the caller has', () => {
    expect(inProcessOnly(hello(['run', '-it', 'busybox', 'sh'], tty))).toBe('terminal');
    expect(inProcessOnly(hello(['container', 'exec', '--interactive', 'c', 'sh'], tty))).toBe('terminal');
    expect(inProcessOnly(hello(['start', '-a', 'c'], tty))).toBe('terminal');
    expect(inProcessOnly(hello(['attach', 'c'], tty))).toBe('terminal');
  });

  it('nothing else', () => {
    expect(inProcessOnly(hello(['run', '-it', 'busybox', 'sh'], pipes))).toBeUndefined();
    expect(inProcessOnly(hello(['run', '--rm', 'busybox', 'true'], tty))).toBeUndefined();
    expect(inProcessOnly(hello(['images'], tty))).toBeUndefined();
    expect(inProcessOnly(hello(['--bogus'], tty))).toBeUndefined();
  });
});
