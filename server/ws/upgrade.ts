// The WebSocket edge: authenticates in the HTTP `upgrade` handler (origin, then session token) and
// applies the connection caps (per session, per client address, server-wide) before any socket exists,
// then hands the socket to a Connection. Heartbeats end silent sockets. The Host was checked before
// (http/edge-guard.ts); the client address is the one request-info.ts works out.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { originAllowed } from '../http/origin.ts';
import { requestInfo } from '../http/request-info.ts';
import { requestToken } from '../http/router.ts';
import type { SessionManager } from '../sessions/manager.ts';
import { Connection, type ConnectionDeps } from './connection.ts';

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  503: 'Service Unavailable',
};

function reject(socket: Duplex, status: number, message: string): void {
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  socket.destroy();
}

/** Whether the browser page that opens the socket is ours (same host) or an allowed origin. */
export { originAllowed };

export interface WsEdge {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  connections: Set<Connection>;
  close(): void;
}

export function createWsEdge(options: {
  sessions: SessionManager;
  allowedOrigins: readonly string[];
  deps: ConnectionDeps;
}): WsEdge {
  const { sessions, deps } = options;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: deps.limits.ws.maxPayload,
    perMessageDeflate: false,
    clientTracking: false,
  });
  const connections = new Set<Connection>();
  /** Open sockets per remote address, for `ws.maxConnectionsPerIp`. */
  const perAddress = new Map<string, number>();
  const heartbeat = setInterval(() => {
    for (const c of connections) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }, deps.limits.ws.heartbeatMs);
  heartbeat.unref();

  return {
    connections,
    handleUpgrade(req, socket, head) {
      socket.on('error', () => {}); // a client that vanishes mid-handshake is not our error
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== '/ws') return reject(socket, 404, 'no WebSocket endpoint here');
      if (!originAllowed(req, options.allowedOrigins)) {
        deps.metrics.error();
        return reject(socket, 403, 'origin not allowed');
      }
      const session = sessions.byToken(requestToken(req, url));
      if (!session) {
        deps.metrics.error();
        return reject(socket, 401, 'no valid session token');
      }
      if (session.sockets >= deps.limits.maxSocketsPerSession) {
        return reject(socket, 503, `at most ${deps.limits.maxSocketsPerSession} connections per session`);
      }
      const { maxConnections, maxConnectionsPerIp } = deps.limits.ws;
      if (connections.size >= maxConnections) {
        deps.metrics.error();
        return reject(socket, 503, `the server has too many connections (at most ${maxConnections})`);
      }
      const address = requestInfo(req).client;
      const fromAddress = perAddress.get(address) ?? 0;
      if (fromAddress >= maxConnectionsPerIp) {
        deps.metrics.error();
        return reject(
          socket,
          503,
          `too many connections from ${address} (at most ${maxConnectionsPerIp} per address)`,
        );
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        if (session.disposed) {
          ws.close(4000, 'session ended');
          return;
        }
        const connection = new Connection(ws, session, deps);
        connections.add(connection);
        perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
        ws.on('close', () => {
          if (!connections.delete(connection)) return;
          const left = (perAddress.get(address) ?? 1) - 1;
          if (left > 0) perAddress.set(address, left);
          else perAddress.delete(address);
        });
      });
    },
    close() {
      clearInterval(heartbeat);
      for (const c of connections) c.ws.terminate();
      connections.clear();
      perAddress.clear();
      wss.close();
    },
  };
}
