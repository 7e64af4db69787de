// Which host names this server answers for: the defence against DNS rebinding, where a page on
// `attacker.test` re-points its own name at 127.0.0.1 and then talks to a local Layerlab as if it were
// same-origin. Such requests still say `Host: attacker.test`, so every HTTP request and WebSocket
// upgrade whose host is not ours is refused before anything else looks at it.
//
// Answered: IP literals (a rebinding needs a name the attacker controls; a browser sends an IP as the
// host only when it connects to that IP, i.e. to us), `localhost` and `*.localhost` (resolved to
// loopback by browsers themselves), this machine's own name, and the hosts of the public URLs the
// operator configured. Ports are not compared: a name the attacker cannot point at us is harmless on
// any port, and a proxy may present ours with or without one.

import { isIP } from 'node:net';
import { hostname as machineName } from 'node:os';
import { InvalidArgumentError } from '../../engine/errors.ts';
import { hostnameOf } from './request-info.ts';

export interface PublicUrls {
  /** `https://layerlab.example.org` for each URL, accepted as an `Origin` whatever the `Host`. */
  readonly origins: readonly string[];
  /** Their host names, lower-cased. */
  readonly hostnames: readonly string[];
}

/** Parses the operator's public URLs (`--public-url`); a bare host name is taken as `http://NAME`. */
export function parsePublicUrls(values: readonly string[]): PublicUrls {
  const origins: string[] = [];
  const hostnames: string[] = [];
  for (const value of values) {
    const raw = value.trim();
    let url: URL;
    try {
      url = new URL(raw.includes('://') ? raw : `http://${raw}`);
    } catch {
      throw new InvalidArgumentError(
        `public URL "${value}": not a URL (e.g. https://layerlab.example.org)`,
        value,
      );
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
      throw new InvalidArgumentError(`public URL "${value}": must be an http:// or https:// URL`, value);
    }
    if (raw.includes('://')) origins.push(url.origin);
    hostnames.push(hostnameOf(url.host.toLowerCase()));
  }
  return { origins, hostnames };
}

export interface HostPolicy {
  /** Whether a request for `hostname` (from RequestInfo: no port, IPv6 in brackets) is ours. */
  allows(hostname: string): boolean;
  /** The names accepted besides IP literals and localhost, for messages and logs. */
  readonly names: readonly string[];
}

export function createHostPolicy(publicUrls: PublicUrls, ownName: string = machineName()): HostPolicy {
  const own = ownName.toLowerCase();
  const names = [...new Set([...publicUrls.hostnames, ...(own ? [own, `${own}.local`] : [])])];
  const named = new Set(names);
  return {
    names,
    allows(hostname) {
      if (hostname === '') return false;
      const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
      if (isIP(bare) !== 0) return hostname.startsWith('[') === (isIP(bare) === 6);
      if (hostname === 'localhost' || hostname.endsWith('.localhost')) return true;
      return named.has(hostname);
    },
  };
}

/** The text a refused request gets: what happened and how an operator who meant it fixes it. */
export function misdirectedMessage(hostname: string): string {
  const shown = hostname === '' ? 'a request without a Host header' : `the host name "${hostname}"`;
  return (
    `This Layerlab server does not answer for ${shown}. If that is this server's public name, ` +
    'start it with --public-url (or LAYERLAB_PUBLIC_URL) set to the URL readers use.'
  );
}
