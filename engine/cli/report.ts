// Turns a failure into what Docker would print and the exit status it would use: usage mistakes 125
// with a hint to --help, engine errors "Error response from daemon: …" and 1, never a stack unless --debug.

import { CancelledError, InvalidReferenceError, LayerlabError, redact } from '../errors.ts';
import type { CommandSpec } from './args.ts';
import { formatHelp, UsageError } from './args.ts';
import { CommandFailure } from './failure.ts';
import { TemplateError } from './template.ts';

export interface Report {
  readonly text: string;
  readonly status: number;
}

/** The message and exit status for `err` thrown by command `spec` (undefined before one was chosen). */
export function reportError(err: unknown, spec: CommandSpec | undefined, debug: boolean): Report {
  const stack = debug && err instanceof Error && err.stack ? `\n${redact(err.stack)}` : '';
  if (err instanceof UsageError) {
    const hint = `See 'layerlab ${err.command === '' ? '' : `${err.command} `}--help'.`;
    if (err.showUsage && spec) {
      const usage = formatHelp(spec).split('\n').slice(0, 3).join('\n');
      return { text: `${err.message}\n${hint}\n\n${usage}`, status: 1 };
    }
    return { text: `${err.message}\n${hint}`, status: 125 };
  }
  // Docker's formatter words every template failure this way, parse or execution, exit status 1.
  if (err instanceof TemplateError)
    return { text: `template parsing error: ${err.message}${stack}`, status: 1 };
  if (err instanceof CommandFailure) return { text: err.message + stack, status: err.status };
  if (err instanceof InvalidReferenceError) return { text: redact(err.message) + stack, status: 1 };
  // Ctrl-C: the status a shell gives a process ended by SIGINT.
  if (err instanceof CancelledError) return { text: redact(err.message) + stack, status: 130 };
  if (err instanceof LayerlabError) {
    return { text: `Error response from daemon: ${redact(err.message)}${stack}`, status: 1 };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { text: `Error: ${redact(message)}${stack}`, status: 1 };
}

/**
 * Exit status for a failed `run`/`start` as Docker chooses it: 127 when the command was not found,
 * 126 when it could not be invoked, 125 for every other failure before the container ran.
 */
export function runFailureStatus(err: unknown): number {
  const message = err instanceof Error ? err.message : String(err);
  if (/executable file\b.*\bnot found|no such file or directory/i.test(message)) return 127;
  if (/permission denied|exec format error/i.test(message)) return 126;
  return 125;
}
