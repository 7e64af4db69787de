// Raw HTTP for edge tests: requests and WebSocket upgrades with any Host, Origin or forwarding
// header, from a chosen local address (127.0.0.2 is another client on loopback) — what fetch and
// the ws client will not let a test set.

import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RawOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** The client's source address, e.g. `127.0.0.2`. */
  localAddress?: string;
}

/** Reads a whole response into a `RawResponse`. */
function readResponse(
  res: IncomingMessage,
  resolve: (r: RawResponse) => void,
  reject: (e: Error) => void,
): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () =>
    resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
  );
  res.on('error', reject);
}

/** One request to `url` (`http://127.0.0.1:PORT/path`); the connection is closed afterwards. */
export function rawRequest(url: string, options: RawOptions = {}): Promise<RawResponse> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: options.method ?? 'GET',
        headers: { connection: 'close', ...options.headers },
        agent: false,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      },
      (res) => readResponse(res, resolve, reject),
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * A WebSocket upgrade request to `url` (`http://…/ws?token=…`): resolves with 101 when the server
 * switched protocols (the socket is then closed), else with the refusal's status and text.
 */
export function rawUpgrade(url: string, headers: Record<string, string>): Promise<RawResponse> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: target.hostname,
      port: target.port,
      path: `${target.pathname}${target.search}`,
      agent: false,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
    });
    req.on('response', (res) => readResponse(res, resolve, reject));
    req.on('error', reject);
    req.end();
  });
}
