// Keystroke timing shared by the server and cluster benches: one key sent as a binary terminal frame,
// timed to its echo (the first output frame on the same channel), and the percentiles of the samples.

import { performance } from 'node:perf_hooks';
import type WebSocket from 'ws';
import { encodeTerminalFrame } from '../../server/protocol.ts';

/** A terminal on a live socket; the bench's message handler hands output to `onOutput` when set. */
export interface EchoTarget {
  ws: WebSocket;
  channel: number;
  /** Resolves the pending keystroke's echo. */
  onOutput: ((data: Buffer) => void) | undefined;
}

/** Sends `bytes` and resolves with the time until the first output frame (its echo), in ms; undefined after `timeoutMs`. */
export function keystroke(target: EchoTarget, bytes: string, timeoutMs: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      target.onOutput = undefined;
      resolve(undefined);
    }, timeoutMs);
    const start = performance.now();
    target.onOutput = () => {
      const elapsed = performance.now() - start;
      clearTimeout(timer);
      target.onOutput = undefined;
      resolve(elapsed);
    };
    target.ws.send(encodeTerminalFrame(target.channel, Buffer.from(bytes)));
  });
}

/** The p-th percentile (nearest rank) of ascending samples; NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export interface Distribution {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** p50/p95/p99/max of samples in any order. */
export function distribution(samples: readonly number[]): Distribution {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
