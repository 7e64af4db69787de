// The HTTP server's TCP edge: every accepted connection (page loads, API calls and the sockets later
// upgraded to WebSockets alike) is counted per client address, and one beyond the cap is closed at
// once, before Node parses a byte of it. Half-sent requests are the HTTP server's own timeouts' job.

import type { Server } from 'node:http';
import { isIPv6, type Socket } from 'node:net';

/**
 * The key a client is counted under: its IPv4 address (an IPv4-mapped IPv6 address counts as the
 * IPv4 one), or the /64 prefix of an IPv6 address, since one host is routinely given a whole /64.
 */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, `::` expanded, zone id dropped. */
function expandIPv6(address: string): string[] {
  const [head = '', tail] = address.split('%')[0]!.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''));
}

/** Whether the peer is this machine (127.0.0.0/8, ::1, or their IPv4-mapped forms). */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || /^(::ffff:)?127\.\d+\.\d+\.\d+$/i.test(address);
}

export interface ConnectionCap {
  /** Open connections from the address's key. */
  count(address: string | undefined): number;
  /** Open connections from every address, exempt ones included. */
  total(): number;
}

/**
 * Caps the TCP connections one client address holds on `server` at `maxPerAddress`; the rest are
 * destroyed as they arrive (`onRefused` is told). `exempt` peers (trusted proxies, which speak for
 * many clients) are not counted. Returns the live counts, for tests and metrics.
 */
export function capConnectionsPerAddress(
  server: Server,
  maxPerAddress: number,
  exempt: (address: string) => boolean = () => false,
  onRefused: (address: string) => void = () => {},
): ConnectionCap {
  const open = new Map<string, number>();
  let total = 0;
  server.on('connection', (socket: Socket) => {
    const peer = socket.remoteAddress ?? '';
    if (exempt(peer)) {
      total++;
      socket.once('close', () => total--);
      return;
    }
    const key = addressKey(peer);
    const n = open.get(key) ?? 0;
    if (n >= maxPerAddress) {
      socket.destroy();
      onRefused(key);
      return;
    }
    open.set(key, n + 1);
    total++;
    socket.once('close', () => {
      total--;
      const left = (open.get(key) ?? 1) - 1;
      if (left > 0) open.set(key, left);
      else open.delete(key);
    });
  });
  return { count: (address) => open.get(addressKey(address)) ?? 0, total: () => total };
}
