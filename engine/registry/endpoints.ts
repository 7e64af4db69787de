// Where a registry name is actually reached: `docker.io` is served by registry-1.docker.io, loopback and
// configured insecure hosts speak plain HTTP, and configured mirrors are tried first for pulls.

import type { EngineConfig } from '../config.ts';
import { DEFAULT_DOMAIN } from '../reference/reference.ts';

export interface Endpoint {
  /** Base URL without a trailing slash: `https://registry-1.docker.io`, `http://127.0.0.1:5000`. */
  base: string;
  /** `host[:port]` of the base URL, the key for credentials. */
  host: string;
  /** The registry name in the reference (`docker.io`), which a mirror stands in for. */
  registry: string;
  mirror: boolean;
}

const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

/** Loopback hosts are always spoken to over HTTP, as Docker does. */
export function isLoopbackHost(domain: string): boolean {
  const hostname = domain.startsWith('[') ? domain.slice(0, domain.indexOf(']') + 1) : domain.split(':')[0]!;
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

function isInsecure(config: EngineConfig, domain: string): boolean {
  if (isLoopbackHost(domain)) return true;
  const hostname = domain.startsWith('[') ? domain.slice(0, domain.indexOf(']') + 1) : domain.split(':')[0]!;
  return config.insecureRegistries.some((entry) => entry === domain || entry === hostname);
}

/** The registry named by a reference, as an endpoint. */
export function registryEndpoint(config: EngineConfig, domain: string): Endpoint {
  const apiHost = domain === DEFAULT_DOMAIN ? DOCKER_HUB_API_HOST : domain;
  const scheme = isInsecure(config, domain) ? 'http' : 'https';
  return { base: `${scheme}://${apiHost}`, host: apiHost, registry: domain, mirror: false };
}

/** Endpoints to pull from, in order: the configured mirrors of `domain`, then the registry itself. */
export function pullEndpoints(config: EngineConfig, domain: string): Endpoint[] {
  const mirrors = (config.mirrors[domain] ?? []).map((raw): Endpoint => {
    const url = new URL(raw.includes('://') ? raw : `https://${raw}`);
    const base = `${url.protocol}//${url.host}${url.pathname}`.replace(/\/+$/, '');
    return { base, host: url.host, registry: domain, mirror: true };
  });
  return [...mirrors, registryEndpoint(config, domain)];
}
