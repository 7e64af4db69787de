// What a Run button did, said beside it, and the terminal brought to where the reader is. A block is
// busy from its click until the server reports its terminal idle again, so a double-click runs once;
// a click while the terminal is inside a container's shell is refused with a note, never queued to
// run unseen after `exit`; a terminal scrolled out of view docks to the bottom of the window.

import { connection } from './connection.ts';
import { stateStore } from './state.ts';

/** The `layerlab:run` event's detail, as the Run button's script (plugins/run-button.mjs) sends it. */
export interface RunRequest {
  terminal: string;
  command: string;
  handled: boolean;
  button?: HTMLButtonElement;
}

/** The terminal element a Run block drives (client/terminal.ts). */
export interface RunTarget extends HTMLElement {
  readonly terminalName: string;
  /** The container whose shell the terminal shows (`run -it`, `exec -it`), if it is inside one. */
  readonly inContainer: string | undefined;
  run(command: string, id?: string): void;
}

// The Run button is English-only (plugins/run-button.mjs), and so are its notes.
const NOTES = {
  running: 'Running in the terminal…',
  runningDocked: 'Running in the terminal, docked at the bottom of the window…',
  queued: 'Waiting for the command in progress in the terminal to finish…',
  done: 'Done: the output is in the terminal.',
  failed: (command: string, code: number) => `\`${command}\` exited with status ${code}: see the terminal.`,
  container: (id: string) =>
    `Not sent: the terminal is inside the shell of container ${id.slice(0, 12)}, where this line would run in the container. Type \`exit\` there (or press Ctrl-P then Ctrl-Q to leave it running), then press Run again.`,
  busy: 'Not sent: the terminal already has many commands waiting. Press Run again when they are done.',
  closed: 'Not sent: the terminal is not connected yet. Press Run again in a moment.',
  paused: 'Not sent: your teacher has paused the class. Press Run again once it resumes.',
  dropped:
    'The connection dropped before the command finished: look at the terminal, then press Run again if needed.',
  replay: 'Replaying the recorded run in the terminal.',
} as const;

interface Pending {
  button: HTMLButtonElement;
  terminal: string;
  /** Commands of this run that exited non-zero, from `terminal.command` events. */
  failed: { command: string; exitCode: number } | undefined;
}

const pending = new Map<string, Pending>();
let sequence = 0;
let listening = false;

function noteOf(button: HTMLButtonElement): HTMLElement | null {
  return button.parentElement?.querySelector<HTMLElement>('.ll-run-note') ?? null;
}

function say(button: HTMLButtonElement | undefined, text: string, state?: string): void {
  if (!button) return;
  const note = noteOf(button);
  // Backticked words are commands: shown as code, written as text (never as HTML).
  if (note) {
    note.replaceChildren(
      ...text.split('`').map((part, i) => {
        if (i % 2 === 0) return document.createTextNode(part);
        const code = document.createElement('code');
        code.textContent = part;
        return code;
      }),
    );
  }
  if (state) button.dataset.state = state;
}

function setBusy(button: HTMLButtonElement, busy: boolean): void {
  // aria-disabled, not disabled: a disabled button drops the keyboard focus the reader had on it.
  if (busy) button.setAttribute('aria-disabled', 'true');
  else button.removeAttribute('aria-disabled');
}

function finish(id: string, text: string, state: string): void {
  const run = pending.get(id);
  if (!run) return;
  pending.delete(id);
  setBusy(run.button, false);
  // Its block need not be kept above the dock any more: the reader may scroll on.
  if (dock?.block?.contains(run.button)) dock.block = undefined;
  say(run.button, text, state);
}

function listen(): void {
  if (listening) return;
  listening = true;
  const conn = connection();
  conn.on('terminal.ran', (m) => {
    const run = pending.get(m.id);
    if (!run) return;
    if (m.status === 'started') say(run.button, NOTES.running, 'running');
    else if (m.status === 'queued') say(run.button, NOTES.queued, 'queued');
    else if (m.status === 'done')
      finish(m.id, run.failed ? NOTES.failed(run.failed.command, run.failed.exitCode) : NOTES.done, 'done');
    else if (m.reason === 'container') finish(m.id, NOTES.container(containerOf(m.terminal)), 'refused');
    else if (m.reason === 'paused') finish(m.id, NOTES.paused, 'refused');
    else finish(m.id, m.reason === 'busy' ? NOTES.busy : NOTES.closed, 'refused');
  });
  stateStore().onEvent((event) => {
    if (event.type !== 'terminal.command' || event.exitCode === 0) return;
    // A terminal runs its lines in order: the oldest run still pending on it is the one running.
    const run = [...pending.values()].find((r) => r.terminal === event.terminal);
    if (run) run.failed ??= { command: event.command, exitCode: event.exitCode };
  });
  conn.onStatus((status) => {
    if (status === 'live' || status === 'connecting') return;
    // No engine after all: the terminal replays what it has recorded for the runs asked meanwhile.
    if (status === 'replay') for (const id of [...pending.keys()]) finish(id, NOTES.replay, 'done');
    else for (const id of [...pending.keys()]) finish(id, NOTES.dropped, 'refused');
  });
}

function containerOf(terminal: string): string {
  const el = document.querySelector<RunTarget>(`layerlab-terminal[name="${CSS.escape(terminal)}"]`);
  return el?.inContainer ?? '';
}

/** Runs a Run block's command in `term`, keeps its button busy until it is done, and shows the terminal. */
export function runFromBlock(term: RunTarget, request: RunRequest): void {
  const button = request.button;
  if (connection().status === 'replay') {
    term.run(request.command);
    say(button, NOTES.replay);
    bringToReader(term, button);
    return;
  }
  // Inside a container's shell the server refuses the line (`terminal.ran` says so): the page's idea
  // of the mode may be stale after a reconnect, the server's is not.
  if (!button) {
    term.run(request.command);
    return;
  }
  listen();
  const id = `run-${++sequence}`;
  pending.set(id, { button, terminal: term.terminalName, failed: undefined });
  setBusy(button, true);
  const docked = bringToReader(term, button);
  say(button, docked ? NOTES.runningDocked : NOTES.running, 'running');
  term.run(request.command, id);
}

// ---- the dock ---------------------------------------------------------------------------------

/** The terminal currently docked, with the placeholder holding its place in the page. */
let dock: { term: HTMLElement; home: HTMLElement; block?: Element; undo: () => void } | undefined;

/** Less than this share of the terminal's screen in the window counts as out of view. */
const VISIBLE_SHARE = 0.6;

function visibleShare(el: Element): number {
  const r = el.getBoundingClientRect();
  if (r.height === 0) return 0;
  const top = Math.max(r.top, 0);
  const bottom = Math.min(r.bottom, innerHeight);
  return Math.max(0, bottom - top) / r.height;
}

/**
 * Makes sure the reader sees `term` and the block that ran: a terminal mostly out of view is docked
 * to the bottom of the window (until the reader scrolls back to its place or puts it back), and a
 * block the dock would cover is scrolled above it. Returns whether the terminal is docked.
 */
export function bringToReader(term: HTMLElement, button: HTMLElement | undefined): boolean {
  if (dock && dock.term !== term) undock();
  const screen = term.querySelector('[data-screen]') ?? term;
  if (!dock && visibleShare(screen) < VISIBLE_SHARE) dockTerminal(term);
  if (dock && button) {
    dock.block = button.closest('.expressive-code') ?? button;
    keepAboveDock();
  }
  return dock !== undefined;
}

/** Scrolls the block that ran last above the docked terminal (again when the terminal grows). */
function keepAboveDock(): void {
  const block = dock?.block;
  if (!dock || !block?.isConnected) return;
  const limit = innerHeight - dock.term.getBoundingClientRect().height;
  const r = block.getBoundingClientRect();
  const margin = 8;
  if (r.bottom <= limit - margin && r.top >= 0) return;
  // A block taller than the room above the dock shows its end, where the Run button and note are.
  scrollBy({ top: r.bottom - (limit - margin), behavior: 'instant' });
}

function dockTerminal(term: HTMLElement): void {
  const home = document.createElement('div');
  // `ll-terminal` too: the placeholder takes the width and margins the page gives a terminal (wider
  // than the text column on a desktop), so the docked terminal, placed over it, keeps its columns.
  home.className = 'll-terminal ll-terminal-home';
  home.style.height = `${term.getBoundingClientRect().height}px`;
  const back = document.createElement('button');
  back.type = 'button';
  back.className = 'll-terminal-home__show';
  back.textContent = 'The terminal is docked at the bottom of the window';
  back.addEventListener('click', () => term.querySelector<HTMLElement>('.xterm-helper-textarea')?.focus());
  home.append(back);
  term.before(home);

  const bar = term.querySelector('.ll-terminal__bar');
  const put = document.createElement('button');
  put.type = 'button';
  put.className = 'll-terminal__undock';
  put.textContent = 'Put back';
  put.setAttribute('aria-label', 'Put the terminal back in its place in the page');
  put.addEventListener('click', () => {
    undock();
    home.scrollIntoView?.({ block: 'nearest' });
  });
  bar?.append(put);

  // Same left edge and width as its place in the page: the terminal keeps its columns when it docks.
  const place = () => {
    const r = home.getBoundingClientRect();
    term.style.setProperty('--ll-dock-left', `${r.left}px`);
    term.style.setProperty('--ll-dock-width', `${r.width}px`);
  };
  place();
  term.classList.add('is-docked');
  const root = document.documentElement;
  const pad = () => root.style.setProperty('--ll-dock-height', `${term.getBoundingClientRect().height}px`);
  pad();
  root.classList.add('ll-has-dock');
  const resized = new ResizeObserver(() => {
    place();
    pad();
    keepAboveDock();
  });
  resized.observe(home);
  resized.observe(term);
  // Back in its place once the reader scrolls to where it lives.
  let armed = false;
  const seen = new IntersectionObserver(
    (entries) => {
      const e = entries[entries.length - 1];
      if (!e) return;
      if (!e.isIntersecting || e.intersectionRatio < 0.9) armed = true;
      else if (armed) undock();
    },
    { threshold: [0, 0.9] },
  );
  seen.observe(home);
  dock = {
    term,
    home,
    undo: () => {
      resized.disconnect();
      seen.disconnect();
      put.remove();
      term.classList.remove('is-docked');
      term.style.removeProperty('--ll-dock-left');
      term.style.removeProperty('--ll-dock-width');
      root.classList.remove('ll-has-dock');
      root.style.removeProperty('--ll-dock-height');
      home.remove();
    },
  };
}

/** Puts a docked terminal back in its place in the page. */
export function undock(): void {
  const d = dock;
  dock = undefined;
  d?.undo();
}
