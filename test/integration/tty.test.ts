// `layerlab run -it` in a real terminal: tmux plays the learner's terminal emulator, so full-screen
// programs (vi, top), Ctrl-C, window resizes and the exit status go through the CLI's raw mode and PTY.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listContainers } from '../../engine/container/index.ts';
import { pull } from '../../engine/pull.ts';
import { disposeContainers } from '../support/containers.ts';
import { freshContext, type TestContext, testRegistryHost } from '../support/context.ts';

const execFileAsync = promisify(execFile);
const MAIN = join(import.meta.dirname, '..', '..', 'engine', 'cli', 'main.ts');

let t: TestContext;
let socketDir: string;
let socket: string;

/** One tmux command on this file's private server. */
async function tmux(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('tmux', ['-S', socket, ...args], { timeout: 10_000 });
  return stdout;
}

/** The visible screen of the session's pane, trailing blank lines dropped. */
async function screen(): Promise<string> {
  return (await tmux('capture-pane', '-p', '-t', 'tty')).replace(/\n+$/, '');
}

/** Polls the screen until `test` holds (the program needs a moment to draw); fails with the screen. */
async function waitForScreen(test: (text: string) => boolean, what: string, seconds = 30): Promise<string> {
  let last = '';
  for (let i = 0; i < seconds * 10; i++) {
    last = await screen();
    if (test(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; the screen shows:\n${last}`);
}

const lastLine = (text: string) => text.split('\n').at(-1) ?? '';
/** The shell waits at its prompt (with, at most, the stray echo `typeLine` describes). */
const atPrompt = (text: string) => /^\/ #( \^\[\[\d+;\d+R)?$/.test(lastLine(text).trimEnd());

/**
 * Types `command` at the prompt, waits for its echo (busybox's line editor asks the terminal for the
 * cursor position after some output, and keys typed ahead of that answer can be taken for it, in any
 * terminal), presses Enter and waits for `expected` right under it and the prompt after.
 */
async function shell(command: string, expected: string): Promise<string> {
  await typeLine(command);
  return waitForScreen(
    (s) => s.includes(`${command}\n${expected}\n`) && atPrompt(s),
    `"${command}" to print ${expected}`,
  );
}

/**
 * Types `line` at the prompt, and presses Enter once the line editor has echoed it. Busybox asks the
 * terminal for the cursor position at each prompt before it turns echo off; on a loaded machine the
 * answer can arrive first and be echoed as text (`/ # ^[[6;5R`), as in any terminal: only the screen
 * shows it, and `atPrompt` allows for it.
 */
async function typeLine(line: string): Promise<void> {
  await waitForScreen(atPrompt, 'the prompt');
  await tmux('send-keys', '-t', 'tty', '-l', line);
  await waitForScreen((s) => lastLine(s).endsWith(line), `the echo of "${line}"`);
  await tmux('send-keys', '-t', 'tty', 'Enter');
}

beforeAll(async () => {
  if (!testRegistryHost())
    throw new Error('LAYERLAB_TEST_REGISTRY is not set: run through the integration project');
  t = freshContext();
  await pull(t.ctx, 'busybox');
  socketDir = mkdtempSync(join(tmpdir(), 'layerlab-tmux-'));
  socket = join(socketDir, 'sock');
  // The pane runs the CLI with the Node that runs the tests, under a shell that then prints its exit
  // status (tmux's own pane_dead_status can miss the exit of a threaded process) and whether the
  // terminal is back in canonical mode, as the CLI must leave it.
  const script = join(socketDir, 'pane.sh');
  writeFileSync(
    script,
    [
      `${process.execPath} ${MAIN} --root ${t.root} run -it --name tty busybox sh`,
      'echo "layerlab exited with $?"',
      'stty -a | grep -q -- " -icanon" && echo "terminal left raw" || echo "terminal restored"',
      'sleep 600',
      '',
    ].join('\n'),
  );
  await tmux('new-session', '-d', '-s', 'tty', '-x', '80', '-y', '24', `sh ${script}`);
});

afterAll(async () => {
  if (socket !== undefined) await tmux('kill-server').catch(() => '');
  if (socketDir !== undefined) rmSync(socketDir, { recursive: true, force: true });
  await disposeContainers(t);
});

describe('run -it in a terminal', () => {
  it('gives a shell whose size follows the window', async () => {
    // Node's start and the container's on a busy two-core machine: a generous first bound.
    await waitForScreen(atPrompt, 'the busybox prompt', 120);
    expect(lastLine(await shell('stty size', '24 80'))).toMatch(/^\/ #/);
    await tmux('resize-window', '-t', 'tty', '-x', '120', '-y', '40');
    await shell('stty size', '40 120');
  });

  it('runs vi full-screen: edits and writes a file, and quits without saving with :q!', async () => {
    await typeLine('vi /tmp/note');
    await waitForScreen((s) => /^~/m.test(s) && s.includes('/tmp/note'), 'vi to draw');
    await tmux('send-keys', '-t', 'tty', '-l', 'ihello from vi');
    // Escape on its own, then wait: an Escape followed at once by `:` reads as Alt-: to vi, as in
    // any terminal.
    await tmux('send-keys', '-t', 'tty', 'Escape');
    await waitForScreen((s) => /^- \/tmp\/note/m.test(s), 'vi to leave insert mode');
    await tmux('send-keys', '-t', 'tty', '-l', ':wq');
    await tmux('send-keys', '-t', 'tty', 'Enter');
    await waitForScreen(atPrompt, 'vi to quit');
    await shell('cat /tmp/note', 'hello from vi');

    await typeLine('vi /tmp/note');
    await waitForScreen((s) => /^~/m.test(s) && s.includes('hello from vi'), 'vi to show the file');
    await tmux('send-keys', '-t', 'tty', '-l', 'ddithrown away');
    await tmux('send-keys', '-t', 'tty', 'Escape');
    await waitForScreen((s) => /^- \/tmp\/note/m.test(s), 'vi to leave insert mode');
    await tmux('send-keys', '-t', 'tty', '-l', ':q!');
    await tmux('send-keys', '-t', 'tty', 'Enter');
    await waitForScreen(atPrompt, 'vi to quit');
    await shell('cat /tmp/note', 'hello from vi');
  });

  it('draws top and quits it with q', async () => {
    await typeLine('top');
    const drawn = await waitForScreen((s) => s.includes('Load average') && /PID\s+PPID/.test(s), 'top');
    expect(drawn).toMatch(/\btop\b/);
    await tmux('send-keys', '-t', 'tty', 'q');
    await waitForScreen(atPrompt, 'top to quit');
    await shell('echo top-done', 'top-done');
  });

  it('interrupts a foreground command with Ctrl-C and keeps the shell', async () => {
    // Ctrl-C must come after the shell has left its line editor: sent with the Enter, it would wait in
    // the editor's read-ahead while sleep runs. `started` on the screen says the line is running.
    await typeLine('echo started; sleep 100');
    await waitForScreen((s) => /\nstarted$/.test(s), 'sleep to start');
    await tmux('send-keys', '-t', 'tty', 'C-c');
    await waitForScreen((s) => s.includes('^C') && atPrompt(s), 'Ctrl-C to reach sleep');
    await shell('echo code=$?', 'code=130');
  });

  it('exits with the shell’s status, restores the terminal and leaves the container exited', async () => {
    await typeLine('exit 3');
    const after = await waitForScreen(
      (text) => /^terminal (restored|left raw)$/m.test(text),
      'the CLI to exit',
    );
    expect(after).toContain('layerlab exited with 3\nterminal restored');
    const [row] = await listContainers(t.ctx, { all: true });
    expect(row).toMatchObject({ name: 'tty', status: 'exited', exitCode: 3 });
  });
});
