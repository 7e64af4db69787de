// Runs the engine's CLI in-process, as `layerlab …` would, and captures what it prints.

import { PassThrough } from 'node:stream';
import { main } from '../../engine/cli/main.ts';
import type { EngineContext } from '../../engine/context.ts';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** `context` replaces the root the CLI would open (a session's, a test's fresh one). */
export async function runCli(argv: string[], context?: EngineContext): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const status = await main(
    argv,
    {
      stdin: new PassThrough() as unknown as NodeJS.ReadStream,
      stdout: stdout as unknown as NodeJS.WriteStream,
      stderr: stderr as unknown as NodeJS.WriteStream,
    },
    new AbortController().signal,
    context ? { context: () => context } : {},
  );
  return { status, stdout: out, stderr: err };
}
