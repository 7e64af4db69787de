// Ctrl-P Ctrl-Q detaches; everything else, including a lone Ctrl-P, reaches the container unchanged.
import { describe, expect, it } from 'vitest';
import { DetachKeys } from '../../engine/cli/terminal.ts';

const b = (...bytes: number[]) => Buffer.from(bytes);

describe('DetachKeys', () => {
  it('passes ordinary input through', () => {
    expect(new DetachKeys().feed(Buffer.from('ls -la\r'))).toEqual({
      forward: Buffer.from('ls -la\r'),
      detach: false,
    });
  });

  it('detaches on Ctrl-P Ctrl-Q, forwarding what came before', () => {
    expect(new DetachKeys().feed(b(0x61, 0x10, 0x11, 0x62))).toEqual({ forward: b(0x61), detach: true });
  });

  it('holds a Ctrl-P until the next chunk shows what it was', () => {
    const keys = new DetachKeys();
    expect(keys.feed(b(0x61, 0x10))).toEqual({ forward: b(0x61), detach: false });
    expect(keys.feed(b(0x11))).toEqual({ forward: b(), detach: true });
  });

  it('forwards a Ctrl-P that is not followed by Ctrl-Q', () => {
    const keys = new DetachKeys();
    expect(keys.feed(b(0x10))).toEqual({ forward: b(), detach: false });
    expect(keys.feed(b(0x62))).toEqual({ forward: b(0x10, 0x62), detach: false });
    expect(keys.feed(b(0x10, 0x10, 0x11))).toEqual({ forward: b(0x10), detach: true });
  });
});
