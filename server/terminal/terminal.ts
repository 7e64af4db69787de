// One browser terminal, wired from its parts: output, line editor, builtins, command dispatch and the
// foreground command; it keeps the public Terminal object and the click-to-run queue.

import { resolveContainer } from '../../engine/container/lifecycle.ts';
import type { Session, SessionTerminal } from '../sessions/session.ts';
import { sessionWorkspace, type Workspace } from '../sessions/workspace.ts';
import { type BuiltinContext, builtins, commandNotFound } from './builtins.ts';
import {
  type Dispatch,
  dispatchWords,
  type Program,
  type RunnerSession,
  runProgram,
} from './command-runner.ts';
import { engineSources } from './complete.ts';
import { type CompletionTarget, completeLine } from './complete-line.ts';
import { ForegroundCommand, type ForegroundHost, ModeSwitch, type TerminalMode } from './container-attach.ts';
import { budgetOf, InputQueue, KeyBacklog, type StepResult } from './input-queue.ts';
import { type Key, KeyDecoder } from './keys.ts';
import { History, LineEditor } from './line-editor.ts';
import { TerminalOutput } from './output.ts';
import { ShellEnv } from './shell-env.ts';
import { expandCommandLine, SubstitutionError } from './substitution.ts';
import { TypeAhead } from './type-ahead.ts';
import { literalWords, parseLine } from './words.ts';

export type { TerminalMode } from './container-attach.ts';

/** What `run()` did with a command: typed and started, queued behind the running one, or refused. */
export type RunResult = { status: 'started' | 'queued' | 'busy'; queued: number };

export interface Terminal extends SessionTerminal {
  run(command: string): RunResult;
  pause(): void;
  resume(): void;
  /** Resolves once the server-side screen holds everything written so far (tests, replay). */
  settled(): Promise<void>;
  /** Resolves when no command runs and the prompt is shown (after the queue is empty). */
  idle(): Promise<void>;
  readonly mode: TerminalMode;
}

export interface TerminalOptions {
  cols: number;
  rows: number;
  /** The terminal's name in the session (for `terminal.command` events); `main` when not given. */
  name?: string;
  /** Lines of history kept. */
  historySize?: number;
  /** The files `build`, `save -o`, `load -i` and `ls` see; the session's workspace when not given. */
  workspace?: Workspace;
}

/** The part of a session a terminal uses. */
export type TerminalSession = Pick<Session, 'ctx' | 'events'>;

const PROMPT = '\x1b[1;32mreader@layerlab\x1b[0m:\x1b[1;34m~\x1b[0m$ ';
const PROMPT_WIDTH = 'reader@layerlab:~$ '.length;
const MAX_RUN_QUEUE = 16;
const EOF_NOTE =
  "\nThis terminal stays open with the page (Ctrl-D does not close it); type 'help' for what works here.\n";

export function createTerminal(session: TerminalSession, options: TerminalOptions): Terminal {
  let cols = options.cols;
  let rows = options.rows;
  const history = new History(options.historySize ?? 500);
  const editor = new LineEditor({ prompt: PROMPT, promptWidth: PROMPT_WIDTH, columns: cols, history });
  const decoder = new KeyDecoder();
  const workspace = options.workspace ?? sessionWorkspace(session.ctx);
  /** This terminal's shell environment: the caller's environment for every command it runs. */
  // `$REGISTRY` names the registry this session may push to, as a lesson spells `$REGISTRY/hello`.
  const ownRegistry = session.ctx.registry?.policy?.own?.host;
  const shellEnv = new ShellEnv(ownRegistry ? { REGISTRY: ownRegistry } : {});
  const mode = new ModeSwitch();
  const idleWaiters: (() => void)[] = [];
  /** Click-to-run lines waiting for the prompt. */
  const runQueue: string[] = [];

  let disposed = false;
  /** The command in progress, if any. */
  let running: ForegroundCommand | undefined;
  let completing = false;
  /** An `ls` or `rm` builtin is reading the disk. */
  let fileBusy = false;
  /** Keys decoded and not yet handled: waiting for a completion or `ls`, or for the next time slice. */
  const typeahead = new KeyBacklog<Key>();
  /** Input the prompt has not read: a paste's lines after the first, keys typed while a command ran. */
  const unread = new TypeAhead();

  const output = new TerminalOutput(cols, rows, {
    written: (bytes) => inbox.chargeOutput(bytes),
    writers: () => {
      const job = running;
      return job && (() => job.wakeWriters());
    },
    idle: () => inbox.wake(), // typed keys wait while the screen is behind
  });
  /** Typed bytes not yet decoded; bounded, worked off in slices charged to the session's budget. */
  const inbox = new InputQueue({ budget: budgetOf(session), step: inputStep });

  const foreground: ForegroundHost = {
    write: (data) => output.emit(data),
    columns: () => cols,
    rows: () => rows,
    mode,
    abandoned: () => {
      running = undefined;
      mode.set('shell');
      showPrompt();
    },
    inputWanted: () => inbox.wake(),
    containerRunning: (id) =>
      resolveContainer(session.ctx, id).then(
        (record) => record.state.status === 'running',
        () => false,
      ),
  };
  const builtinContext: BuiltinContext = {
    print: (text) => output.print(text),
    history,
    workspace,
    env: shellEnv,
  };
  const completion: CompletionTarget = {
    editor,
    sources: engineSources(session.ctx),
    columns: () => cols,
    write: (data) => output.emit(data),
    live: () => !disposed,
  };
  const runner: RunnerSession = { ctx: session.ctx, workspace, env: () => shellEnv.snapshot() };

  function showPrompt(): void {
    output.emit(editor.begin());
    unread.newLine();
    const next = runQueue.shift();
    if (next !== undefined) {
      typeAndSubmit(next);
      return;
    }
    // Lines typed ahead are read now, as a shell reads them after the command.
    if (!inputPending()) for (const resolve of idleWaiters.splice(0)) resolve();
    inbox.wake();
  }

  function inputPending(): boolean {
    return inbox.bytes > 0 || typeahead.length > 0 || unread.size > 0;
  }

  function typeAndSubmit(command: string): void {
    output.emit(editor.replace(command));
    handleKeys([{ kind: 'enter' }]);
  }

  /**
   * One step of typed input, run by the input queue in time slices: the next key for the editor,
   * or the next chunk decoded (at the prompt) or handed to the running command.
   */
  function inputStep(): StepResult {
    if (disposed) return 'idle';
    const job = running;
    if (job) {
      if (job.takesInput) {
        // A command that reads (a container's shell, `run -i`) gets what was typed ahead first.
        const ahead = unread.takeAll();
        const data = ahead === undefined ? inbox.take() : Buffer.from(ahead);
        if (data === undefined) return 'idle';
        job.input(data);
        return 'more';
      }
      // Typed while a command runs that does not read: echoed and kept for the prompt, as a tty
      // keeps it; Ctrl-C still reaches the command (and flushes what was kept).
      const data = inbox.take();
      if (data === undefined) return 'idle';
      const typed = unread.typed(data.toString('utf8'));
      if (typed.echo !== '') output.emit(typed.echo);
      if (typed.interrupt) job.interrupt();
      return 'more';
    }
    // Keys typed while a completion looks up names (or `ls` reads) wait for it, in order; and none
    // are drawn while the screen copy is behind, so a flood of redraws cannot pile up.
    if (completing || fileBusy || output.behind) return 'blocked';
    const key = typeahead.shift();
    if (key !== undefined) {
      handleKeys([key]);
      return 'more';
    }
    // One line at a time: what follows its Enter stays unread, for the command it starts (if that
    // reads) or the next prompt, so a pasted block runs line after line.
    const head = unread.head();
    if (head !== undefined) {
      const { keys, next } = decoder.feedLine(head.text, head.at);
      unread.advance(next);
      typeahead.push(keys);
      return 'more';
    }
    const data = inbox.take();
    if (data === undefined) {
      // Everything typed is handled and nothing runs: whoever waits for the prompt may go on.
      if (!fileBusy && runQueue.length === 0) for (const resolve of idleWaiters.splice(0)) resolve();
      return 'idle';
    }
    unread.append(data.toString('utf8'));
    return 'more';
  }

  function handleKeys(keys: Key[]): void {
    while (keys.length > 0) {
      if (running) return; // typed ahead of a command that took over: dropped, as raw input has no line
      if (completing || fileBusy) {
        // Keys typed while a completion looks up names (or `ls` reads) wait for it, in order.
        typeahead.push(keys);
        return;
      }
      const result = editor.feed(keys.shift()!);
      output.emit(result.output);
      const action = result.action;
      if (!action) continue;
      if (action.kind === 'submit') void execute(action.line);
      else if (action.kind === 'eof') {
        output.print(EOF_NOTE);
        output.emit(editor.begin());
      } else if (action.kind === 'complete') void tab(action.before, action.repeated);
    }
  }

  async function tab(before: string, repeated: boolean): Promise<void> {
    completing = true;
    try {
      await completeLine(completion, before, repeated);
    } finally {
      completing = false;
      inbox.wake();
    }
  }

  async function execute(line: string): Promise<void> {
    const parsed = parseLine(line);
    if (!parsed.ok) {
      output.print(`${parsed.error}\n`);
      showPrompt();
      return;
    }
    if (parsed.substitutions === 0 && !parsed.variables)
      return perform(dispatchWords(literalWords(parsed)), line);
    // The `$(…)` commands run first, as the foreground: keys wait, and Ctrl-C stops the whole line.
    const job = new ForegroundCommand(foreground);
    running = job;
    let words: string[] | undefined;
    try {
      words = await expandCommandLine(parsed, {
        runner,
        signal: job.controller.signal,
        lookup: (name) => shellEnv.get(name),
        tty: {
          output: (data) => (job.attached ? output.emit(data) : true),
          columns: () => cols,
          rows: () => rows,
        },
      });
    } catch (err) {
      if (!(err instanceof SubstitutionError)) throw err;
      if (job.attached) output.print(`${err.message}\n`);
    }
    if (running !== job) return; // abandoned with a second Ctrl-C: the prompt is back already
    if (words === undefined || job.controller.signal.aborted) {
      running = undefined;
      job.detach();
      recordCommand(line, job.controller.signal.aborted ? 130 : 1);
      if (!disposed) showPrompt();
      return;
    }
    const command = dispatchWords(words);
    if (command.kind === 'program') return runCli(command.program, command.args, line, job);
    running = undefined;
    job.detach();
    return perform(command, line);
  }

  async function perform(command: Dispatch, line: string): Promise<void> {
    switch (command.kind) {
      case 'empty':
        break;
      case 'invalid':
        output.print(`${command.message}\n`);
        break;
      case 'refused':
        output.print(`${command.message}\n`);
        recordCommand(line, 1);
        break;
      case 'program':
        return runCli(command.program, command.args, line);
      case 'unknown':
        recordCommand(line, commandNotFound(builtinContext, command.name));
        break;
      case 'builtin': {
        const builtin = builtins[command.name];
        if (!builtin.disk) {
          const status = builtin.run(builtinContext, command.args);
          if (builtin.recorded) recordCommand(line, status);
          break;
        }
        // These touch the disk: until they finish, keys wait and click-to-run queues, as for a command.
        fileBusy = true;
        const status = await builtin.run(builtinContext, command.args).finally(() => {
          fileBusy = false;
        });
        recordCommand(line, status);
        showPrompt();
        inbox.wake();
        return;
      }
    }
    showPrompt();
  }

  function recordCommand(command: string, exitCode: number): void {
    session.events.emit({ type: 'terminal.command', terminal: options.name ?? 'main', command, exitCode });
  }

  async function runCli(
    program: Program,
    args: string[],
    line: string,
    job = new ForegroundCommand(foreground),
  ): Promise<void> {
    running = job;
    const status = await runProgram(job, program, args, runner);
    if (running !== job) return; // abandoned with a second Ctrl-C: the prompt is back already
    running = undefined;
    job.detach();
    mode.set('shell');
    recordCommand(line, status);
    if (!disposed) showPrompt();
  }

  const terminal: Terminal = {
    get mode() {
      return mode.mode;
    },
    input(data: Buffer) {
      if (disposed) return true;
      return inbox.push(data);
    },
    onInputDrain(cb) {
      return inbox.onDrain(cb);
    },
    resize(newCols: number, newRows: number) {
      if (disposed || (newCols === cols && newRows === rows)) return;
      cols = newCols;
      rows = newRows;
      output.resize(cols, rows);
      editor.setColumns(cols);
      running?.resized();
    },
    run(command: string): RunResult {
      const lines = commandLines(command);
      if (disposed) return { status: 'busy', queued: runQueue.length };
      if (runQueue.length + lines.length > MAX_RUN_QUEUE) return { status: 'busy', queued: runQueue.length };
      const busy = running !== undefined || completing || fileBusy;
      runQueue.push(...lines);
      if (busy) return { status: 'queued', queued: runQueue.length };
      const next = runQueue.shift();
      if (next !== undefined) typeAndSubmit(next);
      return { status: 'started', queued: runQueue.length };
    },
    onOutput(cb) {
      return output.onOutput(cb);
    },
    onMode(cb) {
      return mode.onChange(cb);
    },
    replay() {
      return output.replay();
    },
    settled() {
      return output.settled();
    },
    idle() {
      if (!running && !fileBusy && runQueue.length === 0 && !inputPending()) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    pause() {
      output.pause();
    },
    resume() {
      output.resume();
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      output.dispose();
      const job = running;
      running = undefined;
      if (job) {
        job.detach();
        job.controller.abort();
        job.closeStreams();
      }
      runQueue.length = 0;
      inbox.dispose();
      typeahead.clear();
      unread.clear();
      mode.clear();
      for (const resolve of idleWaiters.splice(0)) resolve();
    },
  };

  output.emit(editor.begin());
  return terminal;
}

/** A click-to-run block as command lines: continuation backslashes joined, blanks and comments dropped. */
export function commandLines(text: string): string[] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  return joined
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}
