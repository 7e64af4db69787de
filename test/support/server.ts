// A real Layerlab server for integration tests (port 0, fresh state root, the test registry as the
// docker.io mirror, its credential where setup keeps it) and a WebSocket client that collects JSON
// frames and terminal output per channel.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { engineConfigSchema } from '../../engine/config.ts';
import { createServer, type LayerlabServer, type ServerOptions } from '../../server/app.ts';
import type { LimitsOverride } from '../../server/limits.ts';
import {
  type ClientMessage,
  decodeTerminalFrame,
  encodeTerminalFrame,
  type ServerMessage,
  type ServerMessageOf,
} from '../../server/protocol.ts';
import { testRegistryHost, writeServerRegistryCredentials } from './context.ts';

export interface TestServer {
  server: LayerlabServer;
  /** `http://127.0.0.1:PORT` */
  url: string;
  root: string;
  /** What the server logged (errors, teardown leftovers). */
  logs: string[];
  /** Creates a session through `GET /api/session`. */
  newSession(): Promise<{ session: string; token: string; cookie: string }>;
  /** Opens `/ws` with the token (as `?token=` unless `cookie` is set) and waits for `welcome`. */
  connect(token: string, options?: { cookie?: boolean; origin?: string }): Promise<TestClient>;
  close(): Promise<void>;
}

export interface TestClient {
  ws: WebSocket;
  /** Every JSON frame received, in order. */
  messages: ServerMessage[];
  send(message: ClientMessage | string): void;
  sendInput(channel: number, data: string | Buffer): void;
  /** The next (or an already received, not yet taken) message of `type` matching `where`. */
  next<T extends ServerMessage['type']>(
    type: T,
    where?: (m: ServerMessageOf<T>) => boolean,
    timeoutMs?: number,
  ): Promise<ServerMessageOf<T>>;
  /** Output received on a channel so far, as text. */
  output(channel: number): string;
  /** Waits until the channel's output matches `pattern`; returns the output. */
  waitForOutput(channel: number, pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

export async function startTestServer(
  options: { limits?: LimitsOverride } & Partial<ServerOptions> = {},
): Promise<TestServer> {
  /** A given root (e.g. one a "crashed" run left) is used as is; otherwise a fresh temp dir. */
  const root = options.root ?? mkdtempSync(join(tmpdir(), 'layerlab-srv-'));
  const host = testRegistryHost();
  const config = engineConfigSchema.parse({ mirrors: host ? { 'docker.io': [`http://${host}`] } : {} });
  writeServerRegistryCredentials(root);
  const logs: string[] = [];
  const server = createServer({
    config,
    log: (m) => logs.push(m),
    ...options,
    root,
    limits: withTestDefaults(options.limits),
  });
  await server.listen(0, '127.0.0.1');
  const url = server.url;
  return {
    server,
    url,
    root,
    logs,
    async newSession() {
      const res = await fetch(`${url}/api/session`);
      if (res.status !== 200) throw new Error(`GET /api/session: ${res.status} ${await res.text()}`);
      const body = (await res.json()) as { session: string; token: string };
      const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
      return { ...body, cookie };
    },
    async connect(token, opts = {}) {
      const client = openClient(url, token, opts);
      await client.next('welcome');
      return client;
    },
    async close() {
      await server.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * Tests make many sessions from 127.0.0.1 and drive some without a socket for minutes, so the
 * per-address session caps and the never-connected grace are opened wide unless a test sets them
 * (the security tests that check them do).
 */
function withTestDefaults(limits: LimitsOverride = {}): LimitsOverride {
  return {
    connectGraceMs: 60 * 60 * 1000,
    ...limits,
    sessionsPerAddress: { max: 100_000, burst: 100_000, perMinute: 100_000, ...limits.sessionsPerAddress },
  };
}

/** Opens a client without waiting for anything (for tests of rejected upgrades). */
export function openClient(
  url: string,
  token: string | undefined,
  opts: { cookie?: boolean; origin?: string } = {},
) {
  const wsUrl = `${url.replace(/^http/, 'ws')}/ws${token && !opts.cookie ? `?token=${encodeURIComponent(token)}` : ''}`;
  const headers: Record<string, string> = {};
  if (token && opts.cookie) headers.cookie = `layerlab_session=${encodeURIComponent(token)}`;
  const ws = new WebSocket(wsUrl, { headers, origin: opts.origin ?? url, perMessageDeflate: false });
  return wrapClient(ws);
}

export function wrapClient(ws: WebSocket): TestClient {
  const messages: ServerMessage[] = [];
  const taken = new Set<ServerMessage>();
  const outputs = new Map<number, Buffer[]>();
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  ws.on('message', (data, isBinary) => {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (isBinary) {
      const frame = decodeTerminalFrame(buf);
      if (frame) {
        const list = outputs.get(frame.channel) ?? [];
        list.push(Buffer.from(frame.payload));
        outputs.set(frame.channel, list);
      }
    } else {
      messages.push(JSON.parse(buf.toString('utf8')) as ServerMessage);
    }
    wake();
  });
  let closedInfo: { code: number; reason: string } | undefined;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      closedInfo = { code, reason: reason.toString() };
      resolve(closedInfo);
      wake();
    });
    ws.on('error', () => {}); // a rejected upgrade surfaces as 'unexpected-response' or close
  });
  const output = (channel: number) => Buffer.concat(outputs.get(channel) ?? []).toString('utf8');

  function waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = probe();
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (closedInfo) {
          done();
          reject(
            new Error(`socket closed (${closedInfo.code} ${closedInfo.reason}) while waiting for ${what}`),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  }

  return {
    ws,
    messages,
    closed,
    send(message) {
      ws.send(typeof message === 'string' ? message : JSON.stringify(message));
    },
    sendInput(channel, data) {
      ws.send(encodeTerminalFrame(channel, typeof data === 'string' ? Buffer.from(data) : data));
    },
    next(type, where, timeoutMs = 10_000) {
      return waitFor(
        () => {
          const m = messages.find(
            (m) => m.type === type && !taken.has(m) && (!where || where(m as ServerMessageOf<typeof type>)),
          );
          if (m) taken.add(m);
          return m as ServerMessageOf<typeof type> | undefined;
        },
        timeoutMs,
        `a ${type} message`,
      );
    },
    output,
    waitForOutput(channel, pattern, timeoutMs = 10_000) {
      return waitFor(
        () => {
          const text = output(channel);
          const hit = typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text);
          return hit ? text : undefined;
        },
        timeoutMs,
        `output matching ${String(pattern)} on channel ${channel}`,
      );
    },
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return;
      ws.close();
      await closed;
    },
  };
}

/** Opens a terminal (the session's shell) and returns its output channel. */
export async function openShell(client: TestClient, terminal = 'main'): Promise<number> {
  client.send({ type: 'terminal.open', terminal, cols: 100, rows: 30 });
  const opened = await client.next('terminal.opened', (m) => m.terminal === terminal);
  return opened.channel;
}

/** Runs `command` in the `main` terminal and waits until its output matches `until`. */
export async function runInShell(
  client: TestClient,
  channel: number,
  command: string,
  until: RegExp | string,
  timeoutMs = 60_000,
): Promise<string> {
  client.send({ type: 'terminal.run', terminal: 'main', command });
  return client.waitForOutput(channel, until, timeoutMs);
}
