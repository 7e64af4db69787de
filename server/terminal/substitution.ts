// Runs the commands of a line's `$(…)` substitutions: inner ones first, each through the same runner
// as a typed command (the session's engine context and limits, the workspace's paths), its stdout
// captured instead of shown and its stderr on the terminal, as a shell does. Ctrl-C on the line stops
// the one running. Only the prompt's programs (docker, podman, layerlab) run inside `$(…)`.

import { dispatchWords, type ProgramJob, type RunnerSession, runProgram } from './command-runner.ts';
import type { ContainerSession } from './container-attach.ts';
import { MAX_LINE_CHARS } from './line-editor.ts';
import { type CommandStreams, createCommandStreams, PipeOutput, type TtyHost } from './streams.ts';
import { expandLine, type ParsedLine, type VariableLookup } from './words.ts';

/** The output one `$(…)` may give, and the line it makes may hold: a prompt line's own limit. */
export const MAX_SUBSTITUTED_CHARS = MAX_LINE_CHARS;

/** A substitution that cannot run here; the line is not run. */
export class SubstitutionError extends Error {
  readonly source: string;
  constructor(message: string, source: string) {
    super(message);
    this.name = 'SubstitutionError';
    this.source = source;
  }
}

export interface SubstitutionHost {
  readonly runner: RunnerSession;
  /** The line's signal: Ctrl-C aborts it, and with it the command inside `$(…)` that runs. */
  readonly signal: AbortSignal;
  /** Where an inner command's stderr goes (the terminal), with its size. */
  readonly tty: Pick<TtyHost, 'output' | 'columns' | 'rows'>;
  /** `$NAME`'s value: the terminal's environment. */
  readonly lookup?: VariableLookup;
}

/** The words of `line` with every substitution run, checked against the line limit. */
export async function expandCommandLine(line: ParsedLine, host: SubstitutionHost): Promise<string[]> {
  const words = await expandLine(line, (inner, source) => substitute(inner, source, host), host.lookup);
  const chars = words.reduce((n, w) => n + w.length + 1, 0);
  if (chars > MAX_SUBSTITUTED_CHARS) {
    throw new SubstitutionError(
      `the line is longer than ${MAX_SUBSTITUTED_CHARS / 1024} KiB once $(…) is substituted, more than this prompt takes`,
      '',
    );
  }
  return words;
}

/** Runs one `$(source)` and gives its stdout. */
async function substitute(line: ParsedLine, source: string, host: SubstitutionHost): Promise<string> {
  if (host.signal.aborted) return '';
  const words = await expandLine(
    line,
    (inner, innerSource) => substitute(inner, innerSource, host),
    host.lookup,
  );
  const command = dispatchWords(words);
  switch (command.kind) {
    case 'empty':
      return '';
    case 'invalid':
    case 'refused':
      throw new SubstitutionError(command.message, source);
    case 'builtin':
    case 'unknown':
      throw new SubstitutionError(
        `$(${source}): only docker, podman and layerlab commands run inside $(…) here`,
        source,
      );
    case 'program':
      break;
  }
  const job = new CapturedRun(host.tty, MAX_SUBSTITUTED_CHARS);
  const stop = () => job.controller.abort();
  host.signal.addEventListener('abort', stop, { once: true });
  try {
    await runProgram(job, command.program, command.args, host.runner);
  } finally {
    host.signal.removeEventListener('abort', stop);
  }
  if (job.stdout.overflowed) {
    throw new SubstitutionError(
      `the output of $(${source}) is longer than ${MAX_SUBSTITUTED_CHARS / 1024} KiB, more than a line here holds`,
      source,
    );
  }
  // A shell substitutes whatever the command wrote, whatever its exit status; so does this prompt.
  return job.output();
}

/** A program run whose stdout is captured: no terminal of its own, no input, stderr on the screen. */
class CapturedRun implements ProgramJob {
  readonly controller = new AbortController();
  readonly streams: { stdin: CommandStreams['stdin']; stdout: PipeOutput; stderr: CommandStreams['stderr'] };
  lookup: Promise<string | undefined> | undefined;
  rewrite: ((data: Buffer) => Buffer) | undefined;
  session: ContainerSession | undefined;

  constructor(tty: SubstitutionHost['tty'], limit: number) {
    // Raw mode is refused: a `run -it` inside `$(…)` reads nothing and shows nothing but errors.
    const { stdin, stderr } = createCommandStreams({
      // Host paths of the workspace read back as the names typed, as on the foreground's screen.
      output: (data) => tty.output(this.rewrite ? this.rewrite(data) : data),
      columns: () => tty.columns(),
      rows: () => tty.rows(),
      rawMode: () => {},
    });
    stdin.end();
    this.streams = { stdin, stdout: new PipeOutput(limit, () => this.controller.abort()), stderr };
  }

  get stdout(): PipeOutput {
    return this.streams.stdout;
  }

  /** What the command wrote to stdout, host paths read back as typed. */
  output(): string {
    const bytes = this.streams.stdout.bytes();
    return (this.rewrite ? this.rewrite(bytes) : bytes).toString('utf8');
  }

  observe(): void {}

  closeStreams(): void {
    this.streams.stdout.close();
    this.streams.stderr.close();
    this.streams.stdin.end();
  }
}
