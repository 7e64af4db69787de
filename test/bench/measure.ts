// Timing primitives for `npm run bench`: run a step N times, keep the median, and run peers side by
// side in the same process run so ratios compare like with like on this machine at this moment.

import { execFile, execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface Sample {
  median: number;
  runs: number[];
}

export async function measure(runs: number, step: (i: number) => Promise<void>): Promise<Sample> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await step(i);
    times.push(performance.now() - start);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, runs: times };
}

/** Time a step that needs its own preparation each round (prepare is not timed). */
export async function measurePrepared<T>(
  runs: number,
  prepare: (i: number) => Promise<T>,
  step: (prepared: T) => Promise<void>,
): Promise<Sample> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const prepared = await prepare(i);
    const start = performance.now();
    await step(prepared);
    times.push(performance.now() - start);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return { median: sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2, runs: times };
}

export async function run(cmd: string, args: string[], options: { input?: string } = {}): Promise<string> {
  const { stdout } = await execFileAsync(cmd, args, { maxBuffer: 64 * 1024 * 1024, ...options });
  return stdout;
}

/** Whether a peer engine answers here (docker needs a running dockerd; podman needs nothing). */
export function peerAvailable(cmd: 'docker' | 'podman'): { ok: boolean; why?: string } {
  try {
    execFileSync(
      cmd,
      ['info', '--format', cmd === 'docker' ? '{{.ServerVersion}}' : '{{.Version.Version}}'],
      {
        stdio: 'pipe',
        timeout: 10_000,
      },
    );
    return { ok: true };
  } catch (err) {
    const text = String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim();
    return { ok: false, why: text.split('\n')[0] ?? 'not available' };
  }
}

export function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`;
}
