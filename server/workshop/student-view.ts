// A teacher's read-only view of a student's terminal: the current screen, then live output, over a
// WebSocket that can never send input. `watchTerminal` is the socket-free core; `createWatchUpgrade`
// is the upgrade handler for `/teacher/watch/<session>/<terminal>/ws` (teacher cookie + same origin).
// `?view=wall` is the raw view coalesced to one frame per terminal every quarter second: the wall of
// terminals watches many students at once, and a frame per output chunk would cost as many sends.
//
// Messages to the watcher (JSON text frames unless noted):
//   { type: 'watch.opened', session, terminal, replay }   the screen so far (escape sequences)
//   binary [0][bytes]                                      live output (view=raw, the default)
//   { type: 'watch.screen', lines: string[], cursor: { x, y } }  the rendered screen (view=text), ≤ 10/s
//   { type: 'watch.replay', replay }                       a fresh screen after output was dropped (slow socket)
//   { type: 'terminal.mode', terminal, mode, container? }
//   { type: 'error', code: 'read_only' | …, message }      the watcher sent something: ignored, never forwarded
//   { type: 'watch.closed', reason }                       then the socket closes (terminal or session gone)

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import xterm from '@xterm/headless';
import { WebSocket, WebSocketServer } from 'ws';
import { CLOSE, encodeTerminalFrame } from '../protocol.ts';
import type { Session, SessionTerminal } from '../sessions/session.ts';
import type { TeacherAuth } from './teacher-auth.ts';
import type { WorkshopRegistry } from './workshop.ts';

export type WatchMessage =
  | { type: 'watch.opened'; session: string; terminal: string; replay: string }
  | { type: 'watch.screen'; lines: string[]; cursor: { x: number; y: number } }
  | { type: 'watch.replay'; replay: string }
  | { type: 'terminal.mode'; terminal: string; mode: 'shell' | 'container'; container?: string }
  | { type: 'error'; code: 'read_only' | 'no_such_terminal'; message: string }
  | { type: 'watch.closed'; reason: string };

export interface WatchOptions {
  /** `raw` (default): output bytes as binary frames; `text`: the screen rendered server-side. */
  view?: 'raw' | 'text';
  /** Asked before each output chunk: true when the socket is too far behind (output is then dropped). */
  congested?: () => boolean;
  /** Raw view only: output is gathered and sent at most once per this many ms (the wall). */
  coalesceMs?: number;
}

/** Output gathered for one coalesced frame at most; past it the frame goes out at once. */
const COALESCE_MAX_BYTES = 64 * 1024;

const SCREEN_COLS = 160;
const SCREEN_ROWS = 48;
const SCREEN_INTERVAL_MS = 100;

/**
 * Subscribes `send` to a terminal's screen and output. Returns the unsubscribe. Nothing here can
 * reach the terminal's input: the watcher only ever receives.
 */
export function watchTerminal(
  session: Pick<Session, 'id' | 'terminals'>,
  terminalName: string,
  send: (message: WatchMessage | Buffer) => void,
  options: WatchOptions = {},
): (() => void) | undefined {
  const terminal: SessionTerminal | undefined = session.terminals.get(terminalName);
  if (!terminal) return undefined;
  const disposers: (() => void)[] = [];
  const replay = terminal.replay();
  send({ type: 'watch.opened', session: session.id, terminal: terminalName, replay });

  if (options.view === 'text') {
    const screen = new xterm.Terminal({ cols: SCREEN_COLS, rows: SCREEN_ROWS, allowProposedApi: true });
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      timer = undefined;
      const buffer = screen.buffer.active;
      const lines: string[] = [];
      for (let y = 0; y < screen.rows; y++)
        lines.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? '');
      while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
      send({ type: 'watch.screen', lines, cursor: { x: buffer.cursorX, y: buffer.cursorY } });
    };
    // Renders at most every 100 ms: a `yes` flood becomes 10 screens a second, not a byte stream.
    const schedule = () => {
      timer ??= setTimeout(flush, SCREEN_INTERVAL_MS);
    };
    screen.write(replay, schedule);
    disposers.push(terminal.onOutput((data) => screen.write(data, schedule)));
    disposers.push(() => {
      if (timer) clearTimeout(timer);
      screen.dispose();
    });
  } else {
    let dropped = false;
    let gathered: Buffer[] = [];
    let gatheredBytes = 0;
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (gathered.length === 0) return;
      const data = Buffer.concat(gathered);
      gathered = [];
      gatheredBytes = 0;
      send(encodeTerminalFrame(0, data));
    };
    disposers.push(
      terminal.onOutput((data) => {
        if (options.congested?.()) {
          dropped = true;
          gathered = [];
          gatheredBytes = 0;
          return;
        }
        if (dropped) {
          // Bytes were skipped while the watcher lagged: resend the whole screen instead.
          dropped = false;
          send({ type: 'watch.replay', replay: terminal.replay() });
          return;
        }
        if (!options.coalesceMs) return send(encodeTerminalFrame(0, data));
        gathered.push(Buffer.from(data));
        gatheredBytes += data.length;
        if (gatheredBytes >= COALESCE_MAX_BYTES) flush();
        else timer ??= setTimeout(flush, options.coalesceMs);
      }),
      () => {
        if (timer) clearTimeout(timer);
      },
    );
  }
  disposers.push(
    terminal.onMode((mode, container) =>
      send({ type: 'terminal.mode', terminal: terminalName, mode, ...(container ? { container } : {}) }),
    ),
  );
  if (terminal.onClose) {
    disposers.push(terminal.onClose(() => send({ type: 'watch.closed', reason: 'the terminal closed' })));
  }
  let done = false;
  return () => {
    if (done) return;
    done = true;
    for (const d of disposers.splice(0)) d();
  };
}

export interface WatchUpgradeDeps {
  workshops: WorkshopRegistry;
  teachers: TeacherAuth;
  getSession(id: string): Session | undefined;
}

const WATCH_PATH = /^\/teacher\/watch\/([0-9a-f]{1,64})\/([A-Za-z0-9_.-]{1,64})\/ws$/;
/** Watchers send nothing useful; a tiny cap keeps a hostile client from sending much. */
const WATCH_MAX_PAYLOAD = 1024;
const WATCH_HIGH_WATER = 1024 * 1024;
/** The wall's tiles get a terminal's output four times a second at most. */
const WALL_COALESCE_MS = 250;
/** Messages a watcher may send (each answered with a read_only error) before it is disconnected. */
const WATCH_MAX_STRAY = 20;

/**
 * The upgrade handler for watch sockets. Returns false when the path is not a watch path (the
 * caller handles the upgrade); otherwise it answers: 101, or 401/403/404 and a destroyed socket.
 */
export function createWatchUpgrade(deps: WatchUpgradeDeps): {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  close(): void;
} {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: WATCH_MAX_PAYLOAD,
    perMessageDeflate: false,
  });
  const refuse = (socket: Duplex, status: number, text: string) => {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    socket.destroy();
  };

  return {
    handleUpgrade(req, socket, head) {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const match = WATCH_PATH.exec(url.pathname);
      if (!match) return false;
      const [, sessionId, terminalName] = match as unknown as [string, string, string];
      if (!sameOrigin(req)) {
        refuse(socket, 403, 'Forbidden');
        return true;
      }
      const workshopId = deps.teachers.workshopOf(req);
      const workshop = workshopId ? deps.workshops.byId(workshopId) : undefined;
      if (!workshop) {
        refuse(socket, 401, 'Unauthorized');
        return true;
      }
      const session = workshop.bySession(sessionId) ? deps.getSession(sessionId) : undefined;
      if (!session?.terminals.has(terminalName)) {
        refuse(socket, 404, 'Not Found');
        return true;
      }
      const asked = url.searchParams.get('view');
      const view = asked === 'text' ? 'text' : 'raw';
      wss.handleUpgrade(req, socket, head, (ws) => {
        const sendTo = (message: WatchMessage | Buffer) => {
          if (ws.readyState !== WebSocket.OPEN) return;
          if (Buffer.isBuffer(message)) ws.send(message, { binary: true });
          else ws.send(JSON.stringify(message));
          if (!Buffer.isBuffer(message) && message.type === 'watch.closed')
            ws.close(CLOSE.normal, 'terminal closed');
        };
        const stop = watchTerminal(session, terminalName, sendTo, {
          view,
          congested: () => ws.bufferedAmount > WATCH_HIGH_WATER,
          ...(asked === 'wall' ? { coalesceMs: WALL_COALESCE_MS } : {}),
        });
        if (!stop) {
          sendTo({ type: 'error', code: 'no_such_terminal', message: `no terminal ${terminalName}` });
          ws.close(CLOSE.normal, 'no such terminal');
          return;
        }
        const unhook = session.onDispose(() => {
          sendTo({ type: 'watch.closed', reason: 'the session ended' });
          ws.close(CLOSE.sessionEnded, 'session ended');
        });
        let stray = 0;
        ws.on('message', () => {
          // Read-only by construction: nothing received is passed anywhere; the watcher is told so.
          stray++;
          sendTo({
            type: 'error',
            code: 'read_only',
            message: "This is a read-only view of the student's terminal.",
          });
          if (stray >= WATCH_MAX_STRAY) ws.close(CLOSE.policy, 'read-only view');
        });
        ws.on('close', () => {
          stop();
          unhook();
        });
        ws.on('error', () => ws.terminate());
      });
      return true;
    },
    close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
    },
  };
}

/** A browser's Origin must name the host it connects to (no cross-site socket with the teacher's cookie). */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (!origin || !host) return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
