// The wall of terminals: one live, read-only mini terminal per student present (their `main`
// terminal, else their first), each an xterm.js with its own scrollback fed by a watch socket in the
// wall's view (`?view=wall`: the server coalesces output to four frames a second per terminal). The
// class list comes from the dashboard's state, polled every 5 s; nothing typed here is sent.

import '@xterm/xterm/css/xterm.css';
import { Terminal } from '@xterm/xterm';
import type { WatchMessage } from '../../../server/workshop/student-view.ts';
import type { StudentState, WorkshopState } from '../../../server/workshop/workshop.ts';
import { byId } from './page.ts';

const POLL_MS = 5000;
const wall = byId('wall', HTMLElement);
const status = byId('status', HTMLElement);

interface Tile {
  element: HTMLElement;
  state: HTMLElement;
  term: Terminal;
  socket: WebSocket | undefined;
  /** `session/terminal`: a student who rejoins with a new session gets a new tile. */
  key: string;
}

const tiles = new Map<string, Tile>();

/** The terminal a student's tile shows: `main` when they have it open, else their first. */
function shownTerminal(s: StudentState): string | undefined {
  const open = s.terminals ?? [];
  return open.includes('main') ? 'main' : open[0];
}

function open(tile: Tile, session: string, terminal: string, node: string | undefined): void {
  // In a cluster, `node` sends the socket to the node holding the student's session.
  const path = `/teacher/watch/${encodeURIComponent(session)}/${encodeURIComponent(terminal)}/ws?view=wall${node ? `&node=${encodeURIComponent(node)}` : ''}`;
  const socket = new WebSocket(
    `${location.protocol === 'https:' ? 'wss://' : 'ws://'}${location.host}${path}`,
  );
  socket.binaryType = 'arraybuffer';
  tile.socket = socket;
  socket.onopen = () => {
    tile.state.textContent = 'live';
  };
  socket.onmessage = (event: MessageEvent) => {
    if (event.data instanceof ArrayBuffer) {
      // `[channel][bytes]`: one channel on a watch socket.
      tile.term.write(new Uint8Array(event.data).subarray(1));
      return;
    }
    // The watch socket sends only `WatchMessage`s (server/workshop/student-view.ts) from this server.
    const message: WatchMessage = JSON.parse(String(event.data));
    if (message.type === 'watch.opened' || message.type === 'watch.replay') {
      tile.term.reset();
      tile.term.write(message.replay);
    } else if (message.type === 'terminal.mode') {
      tile.state.textContent =
        message.mode === 'container' ? `in ${message.container ?? 'a container'}` : 'live';
    } else if (message.type === 'watch.closed') tile.state.textContent = 'closed';
  };
  socket.onclose = () => {
    if (tile.socket === socket) tile.socket = undefined;
    if (tile.state.textContent !== 'closed') tile.state.textContent = 'disconnected';
  };
}

function addTile(s: StudentState, terminal: string): Tile {
  const element = document.createElement('section');
  element.className = 'tile';
  element.dataset.student = s.id;
  const heading = document.createElement('h2');
  const name = document.createElement('span');
  name.textContent = `${s.name} · ${terminal}`;
  const state = document.createElement('span');
  state.className = 'muted';
  state.textContent = 'connecting…';
  heading.append(name, state);
  const screen = document.createElement('div');
  screen.className = 'term';
  screen.setAttribute('role', 'log');
  screen.setAttribute('aria-label', `${s.name}'s terminal ${terminal}, read-only`);
  element.append(heading, screen);
  wall.append(element);
  const term = new Terminal({
    rows: 14,
    cols: 80,
    fontSize: 11,
    scrollback: 1000,
    disableStdin: true,
    cursorBlink: false,
    theme: { background: '#0d1117' },
  });
  term.open(screen);
  const tile: Tile = { element, state, term, socket: undefined, key: `${s.session}/${terminal}` };
  open(tile, s.session, terminal, s.node);
  return tile;
}

function removeTile(id: string): void {
  const tile = tiles.get(id);
  if (!tile) return;
  tiles.delete(id);
  tile.socket?.close();
  tile.term.dispose();
  tile.element.remove();
}

async function poll(): Promise<void> {
  let state: WorkshopState;
  try {
    const res = await fetch('/api/workshop/state', { cache: 'no-store' });
    if (res.status === 401) return location.assign('/teacher');
    if (!res.ok) throw new Error(String(res.status));
    state = await res.json();
  } catch {
    status.textContent = 'The server could not be reached; retrying…';
    return;
  }
  const shown = new Set<string>();
  for (const s of state.students) {
    const terminal = shownTerminal(s);
    if (s.left || !terminal) continue;
    shown.add(s.id);
    const tile = tiles.get(s.id);
    if (tile && tile.key !== `${s.session}/${terminal}`) removeTile(s.id);
    const kept = tiles.get(s.id);
    if (!kept) tiles.set(s.id, addTile(s, terminal));
    else if (!kept.socket) open(kept, s.session, terminal, s.node);
  }
  for (const id of [...tiles.keys()]) if (!shown.has(id)) removeTile(id);
  status.textContent =
    tiles.size === 0
      ? 'No student has a terminal open yet.'
      : `${tiles.size} ${tiles.size === 1 ? 'terminal' : 'terminals'}, live.`;
}

void poll();
setInterval(poll, POLL_MS);
