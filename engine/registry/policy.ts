// Which registries an engine context may talk to, and where it may write. The server gives every
// session a policy; the operator's own CLI has none and keeps Docker's freedom. The transport asks the
// policy before it opens any connection (a registry, a token realm, a redirect target), so no code
// path can reach a host the operator did not allow, and no write can land outside the session's own
// namespace of the local registry.

import { RegistryError } from '../errors.ts';
import type { CredentialStore } from './credentials.ts';

/**
 * What an engine context may do with registries. The server builds one per session; the CLI and
 * setup pass none, or only credentials.
 */
export interface RegistryAccess {
  /**
   * Credentials by registry host, used instead of `<root>/auth.json` and the local registry's
   * credentials file: a session gets the local registry's only, never the operator's own logins.
   * Held by the engine, never printed, never sent in an event.
   */
  readonly credentials?: CredentialStore;
  /** Absent: any registry (the operator's own CLI, setup, tests of the engine). */
  readonly policy?: RegistryPolicy;
}

/** A session's own corner of the local registry: pushes to `host` land under `namespace/`. */
export interface OwnRegistry {
  /** `host:port` as references spell it (`127.0.0.1:5000`). */
  readonly host: string;
  /** Repository prefix, without slashes at either end (`sessions/3f2a…`). */
  readonly namespace: string;
}

export interface RegistryPolicy {
  /**
   * `host[:port]` a connection may go to. An entry without a port matches the default ports (443
   * for https, 80 for http); `*.example.com` matches every subdomain of example.com.
   */
  readonly allowed: readonly string[];
  /** What refusals say is allowed, in the reader's words (`docker.io via the local mirror`). */
  readonly description: string;
  /** Where pushes go; without it every push is refused. */
  readonly own?: OwnRegistry;
}

/**
 * Registry names whose API, token and blob hosts differ from the name: allowing `docker.io` allows
 * them. For other registries an operator lists their realm and blob hosts too (a refusal names them).
 */
const KNOWN_HOSTS: Record<string, readonly string[]> = {
  'docker.io': ['registry-1.docker.io', 'auth.docker.io', 'production.cloudflare.docker.com'],
  'index.docker.io': ['registry-1.docker.io', 'auth.docker.io', 'production.cloudflare.docker.com'],
};

/** A connection, push or write the policy does not allow. No request was sent. */
export class RegistryNotAllowedError extends RegistryError {
  constructor(message: string, input: string) {
    super(message, { input });
  }
}

/** Expands registry names an operator allowed into the hosts a client connects to for them. */
export function allowedHosts(registries: readonly string[]): string[] {
  return [...new Set(registries.flatMap((r) => [r, ...(KNOWN_HOSTS[r] ?? [])]))];
}

/**
 * Throws unless `policy` lets a `method` request to `url` out. Reads may go to any allowed host;
 * writes only into the own namespace (a defence behind the client's own routing of pushes).
 */
export function checkRequest(policy: RegistryPolicy | undefined, method: string, url: string): void {
  if (!policy) return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RegistryNotAllowedError(
      `registry address is not allowed here (allowed: ${policy.description})`,
      url,
    );
  }
  const host = parsed.host;
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || !hostAllowed(policy, parsed)) {
    throw new RegistryNotAllowedError(
      `registry ${JSON.stringify(host || parsed.protocol)} is not allowed here (allowed: ${policy.description})`,
      host,
    );
  }
  if (method === 'GET' || method === 'HEAD') return;
  const own = policy.own;
  if (!own || host !== own.host || !parsed.pathname.startsWith(`/v2/${own.namespace}/`)) {
    throw new RegistryNotAllowedError(
      `denied: this session may write only to its own repositories on ${own?.host ?? 'no registry'}`,
      host,
    );
  }
}

function hostAllowed(policy: RegistryPolicy, url: URL): boolean {
  const defaultPort = url.protocol === 'https:' ? '443' : '80';
  const port = url.port || defaultPort;
  const hostname = url.hostname.toLowerCase();
  return policy.allowed.some((raw) => {
    const entry = raw.toLowerCase();
    // `[::1]:5000`, `host:port`, `host`, `*.domain`: split the port off the last colon after any `]`.
    const close = entry.lastIndexOf(']');
    const colon = entry.lastIndexOf(':');
    const hasPort = colon > close && colon !== -1;
    const name = hasPort ? entry.slice(0, colon) : entry;
    if ((hasPort ? entry.slice(colon + 1) : defaultPort) !== port) return false;
    if (name.startsWith('*.')) return hostname.endsWith(name.slice(1)) && hostname.length > name.length - 1;
    return name === hostname;
  });
}

/** Throws unless a session under `policy` may push to the registry named `domain`. */
export function checkPush(policy: RegistryPolicy | undefined, domain: string): void {
  if (!policy) return;
  if (policy.own?.host === domain) return;
  throw new RegistryNotAllowedError(
    policy.own
      ? `denied: pushing to ${JSON.stringify(domain)} is not allowed here; this session pushes to its own registry ${policy.own.host} (tag the image ${policy.own.host}/NAME)`
      : `denied: pushing is not allowed here`,
    domain,
  );
}

/**
 * The repository path on the wire for `path` in the registry `domain`: the session's own registry
 * is its namespace, so `127.0.0.1:5000/app` is `<namespace>/app` there, and no name a session can
 * type reaches the shared repositories (the docker.io mirror's `library/busybox`) or another
 * session's. Every other registry (the mirror included, reached for `docker.io` names) is unchanged.
 */
export function wirePath(policy: RegistryPolicy | undefined, domain: string, path: string): string {
  const own = policy?.own;
  return own && own.host === domain ? `${own.namespace}/${path}` : path;
}
