// Fuzzing the WebSocket protocol's validation (server/protocol.ts) without a server: any text frame is
// parsed into a message the schema accepts or refused with bad_json/invalid_message and a short reason,
// and any binary frame decodes to a channel and payload or to nothing; neither ever throws.
// The same frames through a real server socket: test/integration/hardening-edge.test.ts.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  clientMessageSchema,
  decodeTerminalFrame,
  encodeTerminalFrame,
  parseClientMessage,
} from '../../server/protocol.ts';
import { fuzz } from '../fuzz/budget.ts';
import { binaryFrame, textFrame, validClientMessage } from '../fuzz/ws-frames.ts';

describe('fuzz: parseClientMessage', () => {
  it('accepts what the schema accepts and refuses the rest with a short reason, never throwing', async () => {
    await fuzz(
      'protocol/text-frames',
      3000,
      fc.property(textFrame, (text) => {
        const result = parseClientMessage(text);
        if (result.ok) {
          expect(clientMessageSchema.safeParse(result.message).success).toBe(true);
          // Unknown keys are stripped: nothing the page did not declare reaches the dispatcher.
          expect(Object.keys(result.message).every((k) => !['__proto__', 'constructor'].includes(k))).toBe(
            true,
          );
        } else {
          expect(['bad_json', 'invalid_message']).toContain(result.code);
          expect(result.message.length).toBeGreaterThan(0);
          // The reason never echoes an attacker's megabyte back.
          expect(result.message.length).toBeLessThan(400);
        }
      }),
    );
  });

  it('round-trips every valid message', async () => {
    await fuzz(
      'protocol/valid-messages',
      1000,
      fc.property(validClientMessage, (message) => {
        const text = JSON.stringify(message);
        expect(parseClientMessage(text)).toEqual({ ok: true, message: JSON.parse(text) });
      }),
    );
  });
});

describe('fuzz: terminal frames', () => {
  it('decodes any bytes to a channel and payload, or to nothing when empty', async () => {
    await fuzz(
      'protocol/binary-frames',
      2000,
      fc.property(binaryFrame, (bytes) => {
        const frame = decodeTerminalFrame(bytes);
        if (bytes.length === 0) expect(frame).toBeUndefined();
        else {
          expect(frame!.channel).toBe(bytes[0]);
          expect(
            Buffer.compare(encodeTerminalFrame(frame!.channel, frame!.payload), Buffer.from(bytes)),
          ).toBe(0);
        }
      }),
    );
  });
});
