// What a subcommand is handed: the global options, its streams, the caller's environment, an engine
// context created on first use, and the abort signal Ctrl-C fires. Command files import only this and
// the engine; none of them reads `process.env`, so the CLI embedded in the server (where the caller is
// a visitor's shell) can never hand the server's own environment to a container.

// Types only: the context module brings the config schema (zod), which main() loads only for the
// commands that open a root's context (`open` below); `version` answers without it.
import type { EngineContext } from '../context.ts';
import type { EventSink } from '../events.ts';
import type { CommandSpec, ParsedArgs } from './args.ts';

export interface Streams {
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
}

/** The caller's environment variables: a shell's, as `-e NAME` and `--build-arg NAME` read them. */
export type Environment = Readonly<Record<string, string | undefined>>;

export interface Cli extends Streams {
  readonly root: string;
  readonly debug: boolean;
  /**
   * The environment of whoever typed the command: `process.env` for the `layerlab` process on the
   * operator's machine, the session shell's own small one in the browser terminal.
   */
  readonly env: Environment;
  /**
   * The caller must not learn the host's paths (the server's state root, layer and run dirs): `info`,
   * `version` and `inspect` show neutral values instead. True in the browser terminal.
   */
  readonly hideHostPaths: boolean;
  /**
   * Whether commands may read or write the caller's host files by path (`cp`, `--env-file`): the
   * operator's own `layerlab`, yes; the browser terminal, never (the host there is the server's).
   */
  readonly hostFiles: boolean;
  /** Fires on the first Ctrl-C (SIGINT) while a long operation (pull, build, push) runs. */
  readonly signal: AbortSignal;
  /** True when the caller supplied the engine context (a server session's) instead of `root`'s. */
  readonly contextSupplied: boolean;
  /**
   * Takes work a command may leave running after it has reported its status (the last of an `--rm`
   * container's removal, once it is out of every listing): the resident engine, which outlives its
   * commands, passes this and finishes the work before it exits. Absent elsewhere: the command waits
   * for the work itself, as a process that exits right after its command would cut it short.
   */
  readonly afterStatus?: (work: Promise<void>) => void;
  /** The engine context for this invocation; `events` routes engine events to a renderer. */
  context(events?: EventSink): EngineContext;
  out(text: string): void;
  err(text: string): void;
}

/** One subcommand: its spec (flags, usage) and the function that runs it, returning the exit status. */
export interface Command {
  readonly spec: CommandSpec;
  run(cli: Cli, parsed: ParsedArgs): Promise<number>;
}

// Commands import it from here, with the rest of what they are handed.
export { CommandFailure } from './failure.ts';

export function createCli(
  options: {
    root: string;
    debug: boolean;
    signal: AbortSignal;
    env: Environment;
    hideHostPaths: boolean;
    /** Defaults to `!hideHostPaths`. */
    hostFiles?: boolean;
    /** Supplies the engine context instead of one for `root` (the server: a session's context). */
    context?: (events?: EventSink) => EngineContext;
    /** Opens `root`'s context: context.ts's createContext, loaded by main() for commands that use it. */
    open?: (root: string, options: { signal: AbortSignal }) => EngineContext;
    afterStatus?: (work: Promise<void>) => void;
  } & Streams,
): Cli {
  let base: EngineContext | undefined;
  const { context: supplied, open, ...rest } = options;
  const cli: Cli = {
    ...rest,
    hostFiles: options.hostFiles ?? !options.hideHostPaths,
    contextSupplied: supplied !== undefined,
    // `{ ...ctx, signal }` is context.ts's withOperation, spelled out so this module stays zod-free.
    context(events?: EventSink): EngineContext {
      if (supplied) return { ...supplied(events), signal: options.signal };
      if (!open) throw new Error(`no engine context for ${options.root}: this command runs without one`);
      base ??= open(options.root, { signal: options.signal });
      return events ? { ...base, events, signal: options.signal } : base;
    },
    out(text: string) {
      options.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    err(text: string) {
      options.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
    },
  };
  return cli;
}
