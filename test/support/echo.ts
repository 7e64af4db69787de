// Keystroke echo latency as a reader feels it: one key at a time sent as a terminal frame, timed to
// the next output frame on that channel (browser → server → shell or container → back).

import type WebSocket from 'ws';
import { decodeTerminalFrame } from '../../server/protocol.ts';
import type { TestClient } from './server.ts';

export interface Latency {
  p50: number;
  p95: number;
  max: number;
}

/** The next terminal output frame on `channel`, as a promise that resolves when it arrives. */
export function nextOutput(ws: WebSocket, channel: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.off('message', onMessage);
      reject(new Error(`no echo within ${timeoutMs} ms`));
    }, timeoutMs);
    function onMessage(data: WebSocket.RawData, isBinary: boolean) {
      if (!isBinary) return;
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (decodeTerminalFrame(buf)?.channel !== channel) return;
      clearTimeout(timer);
      ws.off('message', onMessage);
      resolve();
    }
    ws.on('message', onMessage);
  });
}

/** Types `keystrokes` keys (a letter, then a backspace, …) 30 ms apart and times each one's echo. */
export async function echoLatency(client: TestClient, channel: number, keystrokes = 30): Promise<Latency> {
  const times: number[] = [];
  for (let i = 0; i < keystrokes; i++) {
    const echoed = nextOutput(client.ws, channel, 10_000);
    const start = performance.now();
    client.sendInput(channel, i % 2 === 0 ? 'x' : '\x7f');
    await echoed;
    times.push(performance.now() - start);
    await new Promise((r) => setTimeout(r, 30));
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)]!;
  return { p50: at(0.5), p95: at(0.95), max: times.at(-1)! };
}
