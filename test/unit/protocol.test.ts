// The WebSocket protocol's schemas and framing: what the server accepts, and the words it uses to refuse.
import { describe, expect, it } from 'vitest';
import {
  clientMessageSchema,
  decodeTerminalFrame,
  encodeTerminalFrame,
  parseClientMessage,
  serverMessageSchema,
} from '../../server/protocol.ts';

describe('parseClientMessage', () => {
  it('accepts every client message type', () => {
    const messages = [
      { type: 'terminal.open', terminal: 'main', cols: 80, rows: 24 },
      { type: 'terminal.resize', terminal: 'main', cols: 120, rows: 40 },
      { type: 'terminal.run', terminal: 'main', command: 'docker pull busybox' },
      { type: 'terminal.close', terminal: 'main' },
      { type: 'check', id: 'c1', lesson: '03-layers', check: 'compared-layers' },
      { type: 'reset', id: 'r1', to: 'busybox' },
      { type: 'reset', id: 'r2' },
      { type: 'state.get', id: 's1' },
      { type: 'ping' },
    ];
    for (const m of messages) {
      const parsed = parseClientMessage(JSON.stringify(m));
      expect(parsed).toEqual({ ok: true, message: m });
    }
  });

  it('names what is wrong', () => {
    expect(parseClientMessage('nope')).toEqual({
      ok: false,
      code: 'bad_json',
      message: 'message is not valid JSON',
    });
    expect(parseClientMessage('null')).toMatchObject({ message: 'message must be a JSON object' });
    expect(parseClientMessage('{}')).toMatchObject({
      code: 'invalid_message',
      message: 'message has no "type"',
    });
    expect(parseClientMessage('{"type":"rm -rf"}').ok).toBe(false);
    expect(parseClientMessage('{"type":"rm -rf"}')).toMatchObject({
      message: expect.stringMatching(/^unknown message type "rm -rf" \(expected one of: terminal.open, /),
    });
    expect(
      parseClientMessage(JSON.stringify({ type: 'terminal.open', terminal: 'main', cols: 0, rows: 24 })),
    ).toMatchObject({ message: expect.stringMatching(/^terminal.open: cols: /) });
    expect(parseClientMessage(JSON.stringify({ type: 'terminal.close', terminal: 'a/b' }))).toMatchObject({
      message: expect.stringMatching(/^terminal.close: terminal: terminal name may hold only/),
    });
    expect(parseClientMessage(JSON.stringify({ type: 'state.get' }))).toMatchObject({
      message: expect.stringMatching(/^state.get: id: /),
    });
  });

  it('refuses extra-long fields rather than passing them on', () => {
    const long = { type: 'terminal.run', terminal: 'main', command: 'x'.repeat(9000) };
    expect(clientMessageSchema.safeParse(long).success).toBe(false);
  });
});

describe('server messages', () => {
  it('validates what the server sends', () => {
    for (const m of [
      { type: 'welcome', session: 'abc', workshop: { name: 'Class', code: 'ABC123' } },
      { type: 'terminal.opened', terminal: 'main', channel: 3, replay: '$ ' },
      { type: 'terminal.mode', terminal: 'main', mode: 'container', container: 'f00' },
      { type: 'terminal.closed', terminal: 'main' },
      { type: 'event', event: { type: 'container.started', id: 'f00' } },
      { type: 'result', id: 'c1', ok: false, error: { code: 'failed', message: 'no' } },
      { type: 'error', code: 'rate_limited', message: 'slow down' },
      { type: 'pong' },
    ]) {
      expect(serverMessageSchema.safeParse(m).success, JSON.stringify(m)).toBe(true);
    }
    expect(
      serverMessageSchema.safeParse({ type: 'terminal.opened', terminal: 'm', channel: 256, replay: '' })
        .success,
    ).toBe(false);
  });
});

describe('terminal frames', () => {
  it('round-trips channel and bytes', () => {
    const frame = encodeTerminalFrame(7, Buffer.from('ls\r'));
    expect([...frame]).toEqual([7, 0x6c, 0x73, 0x0d]);
    const decoded = decodeTerminalFrame(frame)!;
    expect(decoded.channel).toBe(7);
    expect(decoded.payload.toString()).toBe('ls\r');
    expect(decodeTerminalFrame(new Uint8Array())).toBeUndefined();
    expect(decodeTerminalFrame(new Uint8Array([2]))!.payload.length).toBe(0);
  });
});
