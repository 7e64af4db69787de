// The first thing every HTTP request and WebSocket upgrade meets: it works out who sent it
// (request-info.ts, believing forwarding headers from trusted proxies only) and refuses, with 421
// Misdirected Request, a host name this server does not answer for (host-policy.ts). Nothing else —
// router, static files, the teacher's watch sockets, `/ws` — sees a request this has not admitted.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AddressInfo, isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { createHostPolicy, misdirectedMessage, parsePublicUrls } from './host-policy.ts';
import { inspectRequest, TrustedProxies } from './request-info.ts';

export interface EdgeGuardOptions {
  /** URLs readers use to reach this server besides loopback (`--public-url`). */
  publicUrls?: readonly string[];
  /** Proxies whose `Forwarded` / `X-Forwarded-*` headers are believed (IPs or CIDR ranges). */
  trustedProxies?: readonly string[];
  /** Extra origins allowed to make requests (e.g. a dev server). */
  allowedOrigins?: readonly string[];
  log?: (message: string) => void;
}

export interface EdgeGuard {
  /** Origins accepted besides the request's own host: the public URLs' and the allowed ones. */
  readonly origins: readonly string[];
  /** Admits the request, or answers 421 and returns false. */
  admitRequest(req: IncomingMessage, res: ServerResponse): boolean;
  /** Admits the upgrade, or answers 421 on the raw socket, destroys it and returns false. */
  admitUpgrade(req: IncomingMessage, socket: Duplex): boolean;
  /** Told where the server listens: warns when it is reachable beyond loopback with no public URL set. */
  listening(address: AddressInfo): void;
}

/** Throws InvalidArgumentError for a public URL or trusted proxy that does not parse. */
export function createEdgeGuard(options: EdgeGuardOptions = {}): EdgeGuard {
  const publicUrls = parsePublicUrls(options.publicUrls ?? []);
  const proxies = new TrustedProxies(options.trustedProxies ?? []);
  const hosts = createHostPolicy(publicUrls);
  const log = options.log ?? (() => {});
  const origins = [...new Set([...publicUrls.origins, ...(options.allowedOrigins ?? [])])];
  let forwardedWarned = false;

  /** Inspects the request once; refuses it, with the text to answer, when its host is not ours. */
  const check = (req: IncomingMessage): { ok: true } | { ok: false; message: string } => {
    const info = inspectRequest(req, proxies);
    if (
      !forwardedWarned &&
      proxies.size === 0 &&
      (req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined)
    ) {
      forwardedWarned = true;
      log(
        `a request from ${info.client} carries forwarding headers, which are ignored: if a reverse ` +
          'proxy fronts this server, pass --trusted-proxy with its address, or every reader behind ' +
          'it shares one address (and its session limits)',
      );
    }
    return hosts.allows(info.hostname)
      ? { ok: true }
      : { ok: false, message: misdirectedMessage(info.hostname) };
  };

  return {
    origins,
    admitRequest(req, res) {
      const verdict = check(req);
      if (verdict.ok) return true;
      const body = `${verdict.message}\n`;
      res.writeHead(421, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
        connection: 'close',
      });
      res.end(body);
      return false;
    },
    admitUpgrade(req, socket) {
      const verdict = check(req);
      if (verdict.ok) return true;
      socket.on('error', () => {});
      const body = `${verdict.message}\n`;
      socket.end(
        `HTTP/1.1 421 Misdirected Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      socket.destroy();
      return false;
    },
    listening(address) {
      const loopback =
        address.address === '127.0.0.1' || address.address === '::1' || /^127\./.test(address.address);
      if (loopback || publicUrls.hostnames.length > 0) return;
      const where = isIP(address.address) === 6 ? `[${address.address}]` : address.address;
      log(
        `listening on ${where} with no --public-url: requests are answered for localhost, IP addresses ` +
          `and this machine's name (${hosts.names.join(', ')}) only; start with --public-url ` +
          'http(s)://NAME if readers use another name (other names get 421, which stops DNS rebinding)',
      );
    },
  };
}
