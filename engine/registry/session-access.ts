// What a server session may do with registries, built once per session: the local registry's
// credential (and no other of the operator's), the hosts it may contact (the configured mirrors, the
// local registry, and what the operator allowed besides), and its own namespace there for pushes.

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { EngineConfig } from '../config.ts';
import { localRegistryCredentialsFile, readCredentialsFile } from './credentials.ts';
import { isLoopbackHost } from './endpoints.ts';
import { allowedHosts, type RegistryAccess, type RegistryPolicy } from './policy.ts';

/** Repository prefix under which every session's namespace lives on the local registry. */
export const SESSION_NAMESPACE_ROOT = 'sessions';

/** A session's namespace: derived from its id (so teardown after a crash finds it), not the id itself. */
export function sessionNamespace(sessionId: string): string {
  const hash = createHash('sha256').update(`layerlab-registry-namespace:${sessionId}`).digest('hex');
  return `${SESSION_NAMESPACE_ROOT}/${hash.slice(0, 20)}`;
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url.includes('://') ? url : `https://${url}`).host;
  } catch {
    return undefined;
  }
}

/**
 * The policy of a session: the docker.io mirror setup starts (a loopback mirror) is the local
 * registry, where the session's pushes go under its namespace; every configured mirror may be read;
 * `allowedRegistries` (registry names or hosts, from the operator) may be read too.
 */
export function sessionPolicy(
  config: EngineConfig,
  sessionId: string,
  allowedRegistries: readonly string[] = [],
): RegistryPolicy {
  const mirrorHosts = Object.values(config.mirrors)
    .flat()
    .map(hostOf)
    .filter((h): h is string => h !== undefined);
  const local = (config.mirrors['docker.io'] ?? []).map(hostOf).find((h) => h && isLoopbackHost(h));
  const extra = allowedHosts(allowedRegistries);
  const description = [
    'docker.io via the local mirror',
    ...(local ? [`${local} for this session's own images`] : []),
    ...allowedRegistries,
  ].join(', ');
  return {
    allowed: [...new Set([...mirrorHosts, ...(local ? [local] : []), ...extra])],
    description,
    ...(local ? { own: { host: local, namespace: sessionNamespace(sessionId) } } : {}),
  };
}

/**
 * A session's registry access: its policy, and the local registry's credential from the server
 * root's `registry/credentials.json` (setup's, root-only) — not `<root>/auth.json`, which holds the
 * operator's own logins.
 */
export function sessionRegistryAccess(options: {
  serverRoot: string;
  config: EngineConfig;
  sessionId: string;
  allowedRegistries?: readonly string[];
}): RegistryAccess {
  return {
    credentials: readCredentialsFile(localRegistryCredentialsFile(join(options.serverRoot, 'registry'))),
    policy: sessionPolicy(options.config, options.sessionId, options.allowedRegistries),
  };
}
