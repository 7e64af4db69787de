// One browser terminal: an in-process shell prompt (no host shell) that runs `docker`, `podman` and
// `layerlab` through the engine CLI's main() with the session's engine context, hands the keyboard
// to a container's PTY during `run -it`/`exec -it`/`attach`, and streams output with back-pressure.

import type { Streams } from '../../engine/cli/cli.ts';
import { main } from '../../engine/cli/main.ts';
import { resolveContainer } from '../../engine/container/lifecycle.ts';
import { withOperation } from '../../engine/context.ts';
import type { EngineEvent, EventSink } from '../../engine/events.ts';
import type { Session, SessionTerminal } from '../sessions/session.ts';
import {
  listPath,
  removeFile,
  sessionWorkspace,
  type Workspace,
  WorkspaceError,
} from '../sessions/workspace.ts';
import {
  type BUILTINS,
  type CompletionSources,
  commonPrefix,
  complete,
  engineSources,
  formatColumns,
  PROGRAMS,
} from './complete.ts';
import { budgetOf, InputQueue, KeyBacklog, type StepResult } from './input-queue.ts';
import { type Key, KeyDecoder } from './keys.ts';
import { History, LINE_TOO_LONG, LineEditor, MAX_LINE_CHARS } from './line-editor.ts';
import { type PreparedCommand, preparePathArgs } from './path-args.ts';
import { Screen } from './screen.ts';
import { ShellEnv } from './shell-env.ts';
import { type CommandStreams, createCommandStreams, type TtyHost } from './streams.ts';
import { splitWords } from './words.ts';

export type TerminalMode = 'shell' | 'container';
type Program = (typeof PROGRAMS)[number];

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
/** CLI output kept while the socket is slow; past it the page is re-sent the screen instead. */
const MAX_QUEUED_BYTES = 256 * 1024;
/** Unparsed bytes the screen may hold before writers are asked to wait. */
const SCREEN_HIGH_WATER = 512 * 1024;
const MAX_RUN_QUEUE = 16;

const HELP = `This terminal speaks Docker's command line:

  docker pull busybox            docker images
  docker run -it busybox sh      docker ps -a
  docker diff CONTAINER          docker commit CONTAINER my-image

'podman' and 'layerlab' work as well. Press Tab to complete commands, image
and container names; Up and Down recall earlier commands; Ctrl-C cancels a
pull or a build. Pipes, redirection and other programs need a real shell:
start one inside a container with 'docker run -it busybox sh'.

Files: 'docker save -o image.tar busybox' writes into your workspace (~) and
'docker load -i image.tar' reads from it; 'docker build -t NAME /lessons/NAME'
builds a lesson's context. 'ls' lists your workspace, 'ls /lessons' the
contexts, 'rm FILE' removes a file from the workspace.

Variables: 'export NAME=value' sets one for later commands ('docker run -e
NAME' and 'docker build --build-arg NAME' read it), 'unset NAME' removes it
and 'env' lists them. '$NAME' is not expanded at this prompt.

Builtins: help, clear, history, ls, rm, export, unset, env, exit.
`;

/**
 * Commands refused at this prompt because they would reach the server's own state or processes.
 * Path arguments of build, save and load are not refused: path-args.ts maps them into the workspace.
 */
function refusal(program: string, words: readonly string[]): string | undefined {
  const globals = words.filter((w) => w === '--root' || w.startsWith('--root='));
  if (globals.length > 0) return `${program}: --root is not available in the browser terminal`;
  const command = words.find((w) => !w.startsWith('-'));
  if (command === 'serve') return `${program}: 'serve' is not available in the browser terminal`;
  return undefined;
}

export function createTerminal(session: TerminalSession, options: TerminalOptions): Terminal {
  let cols = options.cols;
  let rows = options.rows;
  const screen = new Screen(cols, rows);
  const history = new History(options.historySize ?? 500);
  const editor = new LineEditor({ prompt: PROMPT, promptWidth: PROMPT_WIDTH, columns: cols, history });
  const decoder = new KeyDecoder();
  const sources: CompletionSources = engineSources(session.ctx);
  const workspace = options.workspace ?? sessionWorkspace(session.ctx);
  /** This terminal's shell environment: the caller's environment for every command it runs. */
  const shellEnv = new ShellEnv();
  const outputListeners = new Set<(data: Buffer) => void>();
  const modeListeners = new Set<(mode: TerminalMode, container?: string) => void>();
  const idleWaiters: (() => void)[] = [];
  const runQueue: string[] = [];

  let mode: TerminalMode = 'shell';
  let disposed = false;
  /** The command in progress, if any. */
  let running:
    | {
        streams: CommandStreams;
        controller: AbortController;
        interrupts: number;
        /** The container this command created or targets, for the mode event. */
        container?: string;
        lookup?: Promise<string | undefined>;
        /** Typed text waiting for Enter when a non-raw command reads input (a tty's cooked mode). */
        cooked: string;
        /** The cooked line went past MAX_LINE_CHARS (the message is said once per line). */
        overflowed?: boolean;
        /** Turns host paths in the output back into the names the reader typed. */
        rewrite?: (data: Buffer) => Buffer;
      }
    | undefined;
  let completing = false;
  /** An `ls` or `rm` builtin is reading the disk. */
  let fileBusy = false;
  /** Keys decoded and not yet handled: waiting for a completion or `ls`, or for the next time slice. */
  const typeahead = new KeyBacklog<Key>();
  /** Typed bytes not yet decoded; bounded, worked off in slices charged to the session's budget. */
  const inbox = new InputQueue({ budget: budgetOf(session), step: inputStep });

  // Flow control: paused by the socket layer, and/or a screen parser that is behind.
  let paused = false;
  let queued: Buffer[] = [];
  let queuedBytes = 0;
  let resync = false;
  let writersWaiting = false;

  const congested = () => paused || screen.backlog > SCREEN_HIGH_WATER;

  function deliver(data: Buffer): void {
    for (const cb of outputListeners) cb(data);
  }

  /** Every byte for the page goes through here: the screen always, the listeners when not paused. */
  function emit(data: Buffer | string): boolean {
    if (disposed) return true;
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (bytes.length === 0) return !congested();
    inbox.chargeOutput(bytes.length);
    screen.write(bytes);
    if (paused || resync) {
      if (!resync) {
        queued.push(bytes);
        queuedBytes += bytes.length;
        if (queuedBytes > MAX_QUEUED_BYTES) {
          // Too much to hold: drop it and, on resume, send the screen itself (it saw every byte).
          queued = [];
          queuedBytes = 0;
          resync = true;
        }
      }
    } else deliver(bytes);
    const ok = !congested();
    if (!ok) writersWaiting = true;
    return ok;
  }

  function wakeWriters(): void {
    if (!writersWaiting || congested() || !running) return;
    writersWaiting = false;
    running.streams.stdout.emit('drain');
    running.streams.stderr.emit('drain');
  }
  screen.onIdle = () => {
    wakeWriters();
    inbox.wake(); // typed keys wait while the screen is behind
  };

  async function flush(): Promise<void> {
    if (resync) {
      await screen.settled();
      if (paused || disposed) return;
      resync = false;
      deliver(Buffer.from(`\x1bc${screen.serialize()}`));
    }
    const pending = queued;
    queued = [];
    queuedBytes = 0;
    for (const chunk of pending) deliver(chunk);
    wakeWriters();
  }

  function setMode(next: TerminalMode, container?: string): void {
    if (next === mode && next === 'shell') return;
    mode = next;
    for (const cb of modeListeners) cb(next, container);
  }

  function showPrompt(): void {
    emit(editor.begin());
    const next = runQueue.shift();
    if (next !== undefined) {
      typeAndSubmit(next);
      return;
    }
    const waiters = idleWaiters.splice(0);
    for (const resolve of waiters) resolve();
  }

  function typeAndSubmit(command: string): void {
    emit(editor.replace(command));
    handleKeys([{ kind: 'enter' }]);
  }

  function print(text: string): void {
    emit(text.replaceAll('\n', '\r\n'));
  }

  /**
   * One step of typed input, run by the input queue in time slices: the next key for the editor,
   * or the next chunk decoded (at the prompt) or handed to the running command.
   */
  function inputStep(): StepResult {
    if (disposed) return 'idle';
    if (running) {
      typeahead.clear(); // typed ahead of a command that took over: dropped, as raw input has no line
      const data = inbox.take();
      if (data === undefined) return 'idle';
      if (running.streams.stdin.isRaw) running.streams.stdin.push(data);
      else cookedInput(data);
      return 'more';
    }
    // Keys typed while a completion looks up names (or `ls` reads) wait for it, in order; and none
    // are drawn while the screen copy is behind, so a flood of redraws cannot pile up.
    if (completing || fileBusy || screen.backlog > SCREEN_HIGH_WATER) return 'blocked';
    const key = typeahead.shift();
    if (key !== undefined) {
      handleKeys([key]);
      return 'more';
    }
    const data = inbox.take();
    if (data === undefined) {
      // Everything typed is handled and nothing runs: whoever waits for the prompt may go on.
      if (!fileBusy && runQueue.length === 0) for (const resolve of idleWaiters.splice(0)) resolve();
      return 'idle';
    }
    typeahead.push(decoder.feed(data.toString('utf8')));
    return 'more';
  }

  /** Typed input not yet handled (queued bytes, or decoded keys waiting). */
  function inputPending(): boolean {
    return inbox.bytes > 0 || typeahead.length > 0;
  }

  function handleKeys(keys: Key[]): void {
    while (keys.length > 0) {
      if (running) return; // typed ahead of a command that took over: dropped, as raw input has no line
      if (completing || fileBusy) {
        // Keys typed while a completion looks up names (or `ls` reads) wait for it, in order.
        typeahead.push(keys);
        return;
      }
      const key = keys.shift()!;
      const result = editor.feed(key);
      emit(result.output);
      const action = result.action;
      if (!action) continue;
      if (action.kind === 'submit') void execute(action.line);
      else if (action.kind === 'eof') {
        print(
          "\nThis terminal stays open with the page (Ctrl-D does not close it); type 'help' for what works here.\n",
        );
        emit(editor.begin());
      } else if (action.kind === 'complete') void completeLine(action.before, action.repeated);
    }
  }

  async function completeLine(before: string, repeated: boolean): Promise<void> {
    completing = true;
    try {
      const result = await complete(before, sources).catch(() => undefined);
      if (!result || disposed) return;
      const { candidates, current, openQuote } = result;
      if (candidates.length === 0) {
        emit('\x07');
        return;
      }
      if (candidates.length === 1) {
        const word = candidates[0]!;
        const rest = word.slice(current.length);
        emit(editor.insert(openQuote ? `${rest}${openQuote} ` : `${rest} `));
        return;
      }
      const prefix = commonPrefix(candidates);
      if (prefix.length > current.length) {
        emit(editor.insert(prefix.slice(current.length)));
        return;
      }
      if (!repeated) {
        emit('\x07');
        return;
      }
      // A second Tab lists the choices below the line, as bash does, then draws the line again.
      emit(`${editor.feed({ kind: 'end' }).output}\r\n${formatColumns(candidates, cols)}`);
      emit(editor.redraw());
    } finally {
      completing = false;
      inbox.wake();
    }
  }

  async function execute(line: string): Promise<void> {
    const split = splitWords(line);
    if (!split.ok) {
      print(`${split.error}\n`);
      return showPrompt();
    }
    const [name, ...args] = split.words;
    if (name === undefined) return showPrompt();
    if ((PROGRAMS as readonly string[]).includes(name)) {
      const refused = refusal(name, args);
      if (refused) {
        print(`${refused}\n`);
        recordCommand(line, 1);
        return showPrompt();
      }
      await runCli(name as Program, args, line);
      return;
    }
    switch (name as (typeof BUILTINS)[number]) {
      case 'help':
        print(HELP);
        break;
      case 'clear':
        emit('\x1b[H\x1b[2J\x1b[3J');
        break;
      case 'history': {
        const entries = history.entries;
        const width = String(entries.length).length;
        print(entries.map((e, i) => `  ${String(i + 1).padStart(width)}  ${e}\n`).join(''));
        break;
      }
      case 'ls':
      case 'rm': {
        // These touch the disk: until they finish, keys wait and click-to-run queues, as for a command.
        fileBusy = true;
        const status = await fileBuiltin(name, args).finally(() => {
          fileBusy = false;
        });
        recordCommand(line, status);
        showPrompt();
        inbox.wake();
        return;
      }
      case 'export':
      case 'unset':
      case 'env': {
        const result =
          name === 'export'
            ? shellEnv.export(args)
            : name === 'unset'
              ? shellEnv.unset(args)
              : shellEnv.env(args);
        print(result.output);
        recordCommand(line, result.status);
        break;
      }
      case 'exit':
        print(
          "This terminal belongs to the page and cannot be closed from here. Inside a container, 'exit' leaves its shell.\n",
        );
        break;
      default:
        print(
          `${name}: command not found\nThis prompt runs docker, podman and layerlab commands.\nFor a real shell: docker run -it busybox sh\n`,
        );
        recordCommand(line, 127);
    }
    showPrompt();
  }

  /** `ls [PATH…]` and `rm FILE…` over the workspace and the lesson contexts; returns the exit status. */
  async function fileBuiltin(name: string, args: readonly string[]): Promise<number> {
    let status = 0;
    const fail = (err: unknown) => {
      // Only the workspace's own messages reach the page; anything else is reported without detail.
      print(`${err instanceof WorkspaceError ? err.message : `${name}: ${(err as Error).message}`}\n`);
      status = 1;
    };
    if (name === 'rm') {
      if (args.length === 0) {
        print('rm: missing operand\n');
        return 1;
      }
      for (const arg of args) await removeFile(workspace, arg).catch(fail);
      return status;
    }
    const paths = args.length === 0 ? ['.'] : args;
    for (const path of paths) {
      try {
        const entries = await listPath(workspace, path);
        if (paths.length > 1) print(`${path}:\n`);
        const width = Math.max(0, ...entries.map((e) => String(e.size).length));
        print(
          entries
            .map(
              (e) =>
                `${e.dir ? '-'.padStart(width) : String(e.size).padStart(width)}  ${e.name}${e.dir ? '/' : ''}\n`,
            )
            .join(''),
        );
      } catch (err) {
        fail(err);
      }
    }
    return status;
  }

  function recordCommand(command: string, exitCode: number): void {
    session.events.emit({ type: 'terminal.command', terminal: options.name ?? 'main', command, exitCode });
  }

  async function runCli(program: Program, args: string[], line: string): Promise<void> {
    const controller = new AbortController();
    const host: TtyHost = {
      output: (data) => (current === running ? emit(current.rewrite ? current.rewrite(data) : data) : true),
      rawMode: (raw) => {
        if (current !== running || !current) return;
        if (!raw) return setMode('shell');
        const show = (id?: string) => {
          if (current === running && current?.streams.stdin.isRaw) setMode('container', id);
        };
        if (current.container || !current.lookup) show(current.container);
        else void current.lookup.then(show);
      },
      columns: () => cols,
      rows: () => rows,
    };
    const streams = createCommandStreams(host);
    const current: NonNullable<typeof running> = { streams, controller, interrupts: 0, cooked: '' };
    running = current;
    current.lookup = targetContainer(args);
    const sink =
      (cliEvents?: EventSink): EventSink =>
      (event: EngineEvent) => {
        if (event.type === 'container.created' && current.container === undefined)
          current.container = event.id;
        session.ctx.events(event);
        cliEvents?.(event);
      };
    const context = (cliEvents?: EventSink) =>
      withOperation(session.ctx, { events: sink(cliEvents), signal: controller.signal });
    let status: number;
    let prepared: PreparedCommand | undefined;
    try {
      prepared = await preparePathArgs(workspace, args);
      current.rewrite = prepared.rewriteOutput;
      // The stand-ins implement what the CLI uses of a tty's streams, not all of NodeJS.ReadStream.
      status = await main(prepared.argv, streams as unknown as Streams, controller.signal, {
        context,
        program,
        // The caller is this terminal's shell: its environment, never the server process's.
        env: shellEnv.snapshot(),
        hideHostPaths: true,
      });
    } catch (err) {
      // main() reports every error itself; this guard reports a refused path and keeps the prompt coming back.
      streams.stderr.write(`${program}: ${(err as Error).message}\n`);
      status = 1;
    }
    try {
      await prepared?.finish(status);
    } catch (err) {
      streams.stderr.write(`${program}: ${(err as Error).message}\n`);
      status = 1;
    }
    streams.stdout.close();
    streams.stderr.close();
    streams.stdin.end();
    if (running !== current) return; // abandoned with a second Ctrl-C: the prompt is back already
    running = undefined;
    setMode('shell');
    recordCommand(line, status);
    if (!disposed) showPrompt();
  }

  /** The container `exec`/`attach` name, resolved to its id, for the mode event. */
  async function targetContainer(args: readonly string[]): Promise<string | undefined> {
    const words = args.filter((w) => !w.startsWith('-'));
    const verb = words[0] === 'container' ? words[1] : words[0];
    if (verb !== 'exec' && verb !== 'attach') return undefined;
    const start = args.indexOf(verb) + 1;
    const rest = args.slice(start);
    // The first word that is neither a flag nor a flag's value: exec's value flags are -e, -w, -u.
    for (let i = 0; i < rest.length; i++) {
      const w = rest[i]!;
      if (/^(-[ewu]|--env|--workdir|--user)$/.test(w)) {
        i++;
        continue;
      }
      if (w.startsWith('-')) continue;
      return resolveContainer(session.ctx, w).then(
        (record) => record.id,
        () => undefined,
      );
    }
    return undefined;
  }

  /** Ctrl-C while a command runs and has not taken the keyboard: cancel it; a second press abandons it. */
  function interrupt(): void {
    const current = running!;
    current.interrupts++;
    emit('^C\r\n');
    if (current.interrupts === 1) {
      current.controller.abort();
      return;
    }
    // It did not stop: leave it to finish in the background, as Docker's CLI does after a forced exit.
    current.streams.stdout.close();
    current.streams.stderr.close();
    current.streams.stdin.end();
    running = undefined;
    setMode('shell');
    showPrompt();
  }

  /**
   * Keys for a command that reads input without raw mode (`docker run -i`): a tty's cooked mode. A
   * line holds at most MAX_LINE_CHARS, like the prompt's; the echo of a chunk is written at once.
   */
  function cookedInput(data: Buffer): void {
    const current = running!;
    let echo = '';
    const flushEcho = () => {
      if (echo !== '') emit(echo);
      echo = '';
    };
    for (const char of data.toString('utf8')) {
      if (char === '\x03') {
        flushEcho();
        interrupt();
        return;
      }
      if (!current.streams.stdin.reading) continue;
      if (char === '\r' || char === '\n') {
        echo += '\r\n';
        current.streams.stdin.push(Buffer.from(`${current.cooked}\n`));
        current.cooked = '';
        current.overflowed = false;
      } else if (char === '\x04') {
        if (current.cooked === '') current.streams.stdin.end();
        else current.streams.stdin.push(Buffer.from(current.cooked));
        current.cooked = '';
      } else if (char === '\x7f' || char === '\b') {
        if (current.cooked !== '') {
          // One code point: a surrogate pair is two UTF-16 units.
          const cut = /[\udc00-\udfff]$/.test(current.cooked) ? 2 : 1;
          current.cooked = current.cooked.slice(0, -cut);
          echo += '\b \b';
        }
      } else if (char >= ' ') {
        if (current.cooked.length >= MAX_LINE_CHARS) {
          // As a tty does with a full line: the character is dropped, with the bell (and once, why).
          echo += current.overflowed ? '\x07' : `\x07\r\n${LINE_TOO_LONG}\r\n`;
          current.overflowed = true;
          continue;
        }
        current.cooked += char;
        echo += char;
      }
    }
    flushEcho();
  }

  const terminal: Terminal = {
    get mode() {
      return mode;
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
      screen.resize(cols, rows);
      editor.setColumns(cols);
      running?.streams.stdout.emit('resize');
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
      outputListeners.add(cb);
      return () => outputListeners.delete(cb);
    },
    onMode(cb) {
      modeListeners.add(cb);
      return () => modeListeners.delete(cb);
    },
    replay() {
      return screen.serialize();
    },
    settled() {
      return screen.settled();
    },
    idle() {
      if (!running && !fileBusy && runQueue.length === 0 && !inputPending()) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    pause() {
      paused = true;
    },
    resume() {
      if (!paused) return;
      paused = false;
      void flush();
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      const current = running;
      running = undefined;
      if (current) {
        current.controller.abort();
        current.streams.stdout.close();
        current.streams.stderr.close();
        current.streams.stdin.end();
      }
      runQueue.length = 0;
      inbox.dispose();
      typeahead.clear();
      outputListeners.clear();
      modeListeners.clear();
      screen.dispose();
      for (const resolve of idleWaiters.splice(0)) resolve();
    },
  };

  emit(editor.begin());
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
