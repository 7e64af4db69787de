// Command dispatch at the prompt: a typed line becomes a builtin, a refusal, or a run of `docker`,
// `podman` or `layerlab` through the engine CLI's main() with the session's engine context.

import type { Environment, Streams } from '../../engine/cli/cli.ts';
import { main } from '../../engine/cli/main.ts';
import { resolveContainer } from '../../engine/container/lifecycle.ts';
import { type EngineContext, withOperation } from '../../engine/context.ts';
import type { EngineEvent, EventSink } from '../../engine/events.ts';
import type { Workspace } from '../sessions/workspace.ts';
import { type BuiltinName, isBuiltin } from './builtins.ts';
import { PROGRAMS } from './complete.ts';
import type { ContainerSession } from './container-attach.ts';
import { type PreparedCommand, preparePathArgs } from './path-args.ts';
import type { PipeOutput, TtyInput, TtyOutput } from './streams.ts';
import { splitWords } from './words.ts';

export type Program = (typeof PROGRAMS)[number];

/** What a submitted line asks for. */
export type Dispatch =
  | { kind: 'empty' }
  | { kind: 'invalid'; message: string }
  | { kind: 'refused'; message: string }
  | { kind: 'program'; program: Program; args: string[] }
  | { kind: 'builtin'; name: BuiltinName; args: string[] }
  | { kind: 'unknown'; name: string };

function isProgram(name: string): name is Program {
  return (PROGRAMS as readonly string[]).includes(name);
}

export function dispatch(line: string): Dispatch {
  const split = splitWords(line);
  if (!split.ok) return { kind: 'invalid', message: split.error };
  return dispatchWords(split.words);
}

/** What a line's words (after any `$(…)` ran) ask for. */
export function dispatchWords(words: readonly string[]): Dispatch {
  const [name, ...args] = words;
  if (name === undefined) return { kind: 'empty' };
  if (isProgram(name)) {
    const refused = refusal(name, args);
    return refused ? { kind: 'refused', message: refused } : { kind: 'program', program: name, args };
  }
  if (isBuiltin(name)) return { kind: 'builtin', name, args };
  return { kind: 'unknown', name };
}

/**
 * Commands refused at this prompt because they would reach the server's own state or processes.
 * Path arguments of build, save and load are not refused: path-args.ts maps them into the workspace.
 */
export function refusal(program: string, words: readonly string[]): string | undefined {
  const globals = words.filter((w) => w === '--root' || w.startsWith('--root='));
  if (globals.length > 0) return `${program}: --root is not available in the browser terminal`;
  const command = words.find((w) => !w.startsWith('-'));
  if (command === 'serve') return `${program}: 'serve' is not available in the browser terminal`;
  return undefined;
}

/** The container an `exec`, `attach` or `start` names, as typed; undefined for any other command. */
export function containerArgument(args: readonly string[]): string | undefined {
  const words = args.filter((w) => !w.startsWith('-'));
  const verb = words[0] === 'container' ? words[1] : words[0];
  if (verb !== 'exec' && verb !== 'attach' && verb !== 'start') return undefined;
  const rest = args.slice(args.indexOf(verb) + 1);
  // The first word that is neither a flag nor a flag's value: exec's value flags are -e, -w, -u.
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i]!;
    if (/^(-[ewu]|--env|--workdir|--user)$/.test(w)) {
      i++;
      continue;
    }
    if (w.startsWith('-')) continue;
    return w;
  }
  return undefined;
}

/** The container `exec`/`attach`/`start` names, resolved to its id, for the mode event and notes. */
export async function targetContainer(
  ctx: EngineContext,
  args: readonly string[],
): Promise<string | undefined> {
  const name = containerArgument(args);
  if (name === undefined) return undefined;
  return resolveContainer(ctx, name).then(
    (record) => record.id,
    () => undefined,
  );
}

/** The engine CLI's entry point; tests give a stand-in. */
export type CliMain = typeof main;

/** What a command run uses of its session and terminal. */
export interface RunnerSession {
  readonly ctx: EngineContext;
  readonly workspace: Workspace;
  /** The terminal's shell environment as it is now: the caller's environment, never the server's. */
  env(): Environment;
  readonly cli?: CliMain;
}

/** The commands that attach to a container's main process, so Ctrl-C goes on to it. */
const SESSION_VERBS = new Set(['run', 'start', 'attach']);

/** The subcommand `args` names (`container run` is `run`). */
function verbOf(args: readonly string[]): string | undefined {
  const words = args.filter((w) => !w.startsWith('-'));
  return words[0] === 'container' ? words[1] : words[0];
}

/** What running a program needs of its job: the foreground command, or a `$(…)`'s captured run. */
export interface ProgramJob {
  readonly streams: { stdin: TtyInput; stdout: TtyOutput | PipeOutput; stderr: TtyOutput };
  readonly controller: AbortController;
  lookup: Promise<string | undefined> | undefined;
  rewrite: ((data: Buffer) => Buffer) | undefined;
  session: ContainerSession | undefined;
  observe(event: EngineEvent): void;
  closeStreams(): void;
}

/** Runs one program line in `job`'s streams to the end (or abandonment); returns its exit status. */
export async function runProgram(
  job: ProgramJob,
  program: Program,
  args: readonly string[],
  session: RunnerSession,
): Promise<number> {
  const { streams, controller } = job;
  job.lookup = targetContainer(session.ctx, args);
  const verb = verbOf(args);
  if (verb !== undefined && SESSION_VERBS.has(verb)) job.session = { program };
  const sink =
    (cliEvents?: EventSink): EventSink =>
    (event: EngineEvent) => {
      job.observe(event);
      session.ctx.events(event);
      cliEvents?.(event);
    };
  const context = (cliEvents?: EventSink) =>
    withOperation(session.ctx, { events: sink(cliEvents), signal: controller.signal });
  const cli = session.cli ?? main;
  let status: number;
  let prepared: PreparedCommand | undefined;
  try {
    prepared = await preparePathArgs(session.workspace, args);
    job.rewrite = prepared.rewriteOutput;
    // The stand-ins implement what the CLI uses of a tty's streams, not all of NodeJS.ReadStream.
    status = await cli(prepared.argv, streams as unknown as Streams, controller.signal, {
      context,
      program,
      env: session.env(),
      hideHostPaths: true,
    });
  } catch (err) {
    // main() reports every error itself; this guard reports a refused path and keeps the prompt coming back.
    streams.stderr.write(`${program}: ${message(err)}\n`);
    status = 1;
  }
  try {
    await prepared?.finish(status);
  } catch (err) {
    streams.stderr.write(`${program}: ${message(err)}\n`);
    status = 1;
  }
  job.closeStreams();
  return status;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
