// The teacher's read-only view of a student's terminal: shows the screen the server renders as text
// (`?view=text`) and the terminal's mode; sends nothing back.

import type { WatchMessage } from '../../../server/workshop/student-view.ts';
import { byId } from './page.ts';

const screen = byId('screen', HTMLPreElement);
const status = byId('status', HTMLElement);
const { session = '', terminal = '' } = screen.dataset;
// In a cluster, `node` (kept from this page's own address) routes the socket to the student's node.
const node = new URLSearchParams(location.search).get('node');
const path = `/teacher/watch/${encodeURIComponent(session)}/${encodeURIComponent(terminal)}/ws?view=text${node ? `&node=${encodeURIComponent(node)}` : ''}`;
const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss://' : 'ws://'}${location.host}${path}`);

ws.onopen = () => {
  status.textContent = 'Live.';
};
ws.onmessage = (event: MessageEvent) => {
  // Binary frames carry raw output, which the text view does not ask for.
  if (typeof event.data !== 'string') return;
  // The watch socket sends only `WatchMessage`s (server/workshop/watch.ts) from this same server.
  const message: WatchMessage = JSON.parse(event.data);
  if (message.type === 'watch.screen') screen.textContent = message.lines.join('\n');
  else if (message.type === 'terminal.mode')
    status.textContent =
      message.mode === 'container' ? `Live — inside container ${message.container ?? ''}` : 'Live.';
  else if (message.type === 'watch.closed') status.textContent = `Closed: ${message.reason}`;
};
ws.onclose = () => {
  if (!/^Closed/.test(status.textContent ?? '')) status.textContent = 'Disconnected.';
};
