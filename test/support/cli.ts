// Runs the engine's CLI in-process, as `layerlab …` would, and captures what it prints.

import { PassThrough } from 'node:stream';
import { main } from '../../engine/cli/main.ts';
import { type EngineContext, withOperation } from '../../engine/context.ts';
import type { EventSink } from '../../engine/events.ts';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** The caller's environment (`DOCKER_BUILDKIT`, `SOURCE_DATE_EPOCH`, …); empty by default. */
  env?: Record<string, string>;
  /**
   * Hand the command's own event sink to `context` too, as a real root would, so it prints the
   * progress it renders from events (build transcripts, pull lines). Off by default.
   */
  progress?: boolean;
  /** As the browser terminal calls main(): the name typed, host paths hidden, no host files. */
  program?: string;
  hideHostPaths?: boolean;
  hostFiles?: boolean;
  /** Written to the CLI's stdin, then its end (a confirmation's answer). */
  input?: string;
}

/** `context` replaces the root the CLI would open (a session's, a test's fresh one). */
export async function runCli(
  argv: string[],
  context?: EngineContext,
  options: CliOptions = {},
): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const status = await main(
    argv,
    {
      stdin: stdinWith(options.input) as unknown as NodeJS.ReadStream,
      stdout: stdout as unknown as NodeJS.WriteStream,
      stderr: stderr as unknown as NodeJS.WriteStream,
    },
    new AbortController().signal,
    {
      ...(context ? { context: (events) => withEvents(context, options.progress ? events : undefined) } : {}),
      ...(options.env ? { env: options.env } : {}),
      ...(options.program !== undefined ? { program: options.program } : {}),
      ...(options.hideHostPaths !== undefined ? { hideHostPaths: options.hideHostPaths } : {}),
      ...(options.hostFiles !== undefined ? { hostFiles: options.hostFiles } : {}),
    },
  );
  return { status, stdout: out, stderr: err };
}

/** `ctx` with `extra` receiving its events too. */
function withEvents(ctx: EngineContext, extra: EventSink | undefined): EngineContext {
  if (extra === undefined) return ctx;
  return withOperation(ctx, {
    events: (event) => {
      ctx.events(event);
      extra(event);
    },
  });
}

/** A stdin that holds `input` and then ends (none: open and empty). */
function stdinWith(input: string | undefined): PassThrough {
  const stdin = new PassThrough();
  if (input !== undefined) stdin.end(input);
  return stdin;
}
