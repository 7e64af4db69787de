// Who sent a request, and how: the client's address, the scheme and the host it asked for. Behind a
// reverse proxy these come from `Forwarded` / `X-Forwarded-For|Proto|Host`, which are believed only
// when the TCP peer is a configured trusted proxy — from anyone else they are forgeable and ignored.
// Every limit keyed by address, every Secure cookie and every Host or Origin check reads this one view.

import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { InvalidArgumentError } from '../../engine/errors.ts';

export interface RequestInfo {
  /** The client's address: the socket's peer, or the client a trusted proxy names. */
  readonly client: string;
  readonly scheme: 'http' | 'https';
  /** The host the client asked for, `name[:port]`, lower-cased; '' when none was sent. */
  readonly host: string;
  /** `host` without its port; IPv6 literals keep their brackets; no trailing dot. */
  readonly hostname: string;
}

/** The addresses (or CIDR ranges) whose forwarding headers are believed. */
export class TrustedProxies {
  readonly #list = new BlockList();
  readonly size: number;

  /** Entries are `192.0.2.7`, `10.0.0.0/8`, `::1` or `fd00::/8`; anything else is refused. */
  constructor(entries: readonly string[] = []) {
    for (const entry of entries) {
      const [address = '', prefix, ...rest] = entry.trim().split('/');
      const family = isIP(address);
      const bits = prefix === undefined ? undefined : Number(prefix);
      const maxBits = family === 6 ? 128 : 32;
      if (
        family === 0 ||
        rest.length > 0 ||
        (bits !== undefined && !(Number.isInteger(bits) && bits >= 0 && bits <= maxBits))
      ) {
        throw new InvalidArgumentError(
          `trusted proxy "${entry}": not an IP address or CIDR range (e.g. 127.0.0.1 or 10.0.0.0/8)`,
          entry,
        );
      }
      const type = family === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.#list.addAddress(address, type);
      else this.#list.addSubnet(address, bits, type);
    }
    this.size = entries.length;
  }

  trusts(address: string): boolean {
    if (this.size === 0) return false;
    const plain = plainAddress(address);
    const family = isIP(plain);
    return family !== 0 && this.#list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
  }
}

const NO_PROXIES = new TrustedProxies();
const seen = new WeakMap<IncomingMessage, RequestInfo>();

/**
 * Works out the request's info once, trusting forwarding headers only from `proxies`, and remembers
 * it for `requestInfo(req)`. The server's edge calls this first for every request and upgrade.
 */
export function inspectRequest(req: IncomingMessage, proxies: TrustedProxies): RequestInfo {
  const info = resolveRequestInfo(req, proxies);
  seen.set(req, info);
  return info;
}

/** The request's info as the edge saw it (without the edge: from the socket alone, trusting nobody). */
export function requestInfo(req: IncomingMessage): RequestInfo {
  return seen.get(req) ?? inspectRequest(req, NO_PROXIES);
}

export function resolveRequestInfo(req: IncomingMessage, proxies: TrustedProxies): RequestInfo {
  const socket = req.socket as (IncomingMessage['socket'] & { encrypted?: boolean }) | undefined;
  const peer = plainAddress(socket?.remoteAddress ?? '');
  let client = peer || 'unknown';
  let scheme: 'http' | 'https' = socket?.encrypted ? 'https' : 'http';
  let host = headerString(req.headers.host);

  if (peer && proxies.trusts(peer)) {
    const hops = parseForwarded(headerString(req.headers.forwarded));
    if (hops.length > 0) {
      // Each element was appended by the proxy that received the request from its `for`; walk back
      // from our own peer's element while the party it names is a trusted proxy too.
      for (let i = hops.length - 1; i >= 0; i--) {
        const hop = hops[i]!;
        if (hop.proto === 'http' || hop.proto === 'https') scheme = hop.proto;
        if (hop.host) host = hop.host;
        if (!hop.for) break;
        client = plainAddress(hop.for);
        if (!proxies.trusts(hop.for)) break;
      }
    } else {
      const chain = listHeader(req.headers['x-forwarded-for']);
      for (let i = chain.length - 1; i >= 0; i--) {
        client = plainAddress(chain[i]!);
        if (!proxies.trusts(chain[i]!)) break;
      }
      // Proxies overwrite these rather than append; the last value is the one our peer set.
      const proto = listHeader(req.headers['x-forwarded-proto']).at(-1)?.toLowerCase();
      if (proto === 'http' || proto === 'https') scheme = proto;
      const forwardedHost = listHeader(req.headers['x-forwarded-host']).at(-1);
      if (forwardedHost) host = forwardedHost;
    }
  }
  host = host.trim().toLowerCase();
  return { client, scheme, host, hostname: hostnameOf(host) };
}

/** `example.org:8080` → `example.org`; `[::1]:8080` → `[::1]`; a trailing dot is dropped. */
export function hostnameOf(host: string): string {
  let name = host;
  if (name.startsWith('[')) {
    const end = name.indexOf(']');
    name = end < 0 ? name : name.slice(0, end + 1);
  } else {
    const colon = name.indexOf(':');
    if (colon >= 0 && name.indexOf(':', colon + 1) < 0) name = name.slice(0, colon);
  }
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/**
 * An address as a plain IP: `::ffff:127.0.0.1` → `127.0.0.1` (a dual-stack socket's IPv4 peer),
 * `[2001:db8::1]:4711` → `2001:db8::1`, `192.0.2.1:80` → `192.0.2.1`. Non-addresses come back trimmed.
 */
export function plainAddress(address: string): string {
  let a = address.trim();
  if (a.startsWith('"') && a.endsWith('"') && a.length >= 2) a = a.slice(1, -1);
  if (a.startsWith('[')) a = a.slice(1, a.indexOf(']') < 0 ? undefined : a.indexOf(']'));
  else if (isIP(a) === 0 && /^[\d.]+:\d+$/.test(a)) a = a.slice(0, a.indexOf(':'));
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return (mapped ? mapped[1]! : a).toLowerCase();
}

interface ForwardedHop {
  for?: string;
  proto?: string;
  host?: string;
}

/** RFC 7239: `for=192.0.2.60;proto=https;host=example.org, for="[2001:db8::1]:4711"`. */
function parseForwarded(header: string): ForwardedHop[] {
  if (!header) return [];
  const hops: ForwardedHop[] = [];
  for (const element of header.split(',')) {
    const hop: ForwardedHop = {};
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      const key = pair.slice(0, eq).trim().toLowerCase();
      let value = pair.slice(eq + 1).trim();
      if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
      if (key === 'for' || key === 'host') hop[key] = value;
      else if (key === 'proto') hop.proto = value.toLowerCase();
    }
    hops.push(hop);
  }
  return hops;
}

function headerString(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

function listHeader(value: string | string[] | undefined): string[] {
  return headerString(value)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
