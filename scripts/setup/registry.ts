// The local registry `docker.io` pulls mirror to: started in the background with its storage under
// the state root, then seeded with the lesson images. One that is already up is kept only when it
// refuses anonymous requests and accepts our credential; an older one (started before the registry
// had auth, so anyone could push over the lesson images) is stopped and replaced.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { engineConfigSchema } from '../../engine/config.ts';
import { createContext } from '../../engine/context.ts';
import { seedRegistry } from '../../engine/image/seed.ts';
import type { Credentials } from '../../engine/registry/credentials.ts';
import {
  ensureRegistryCredentials,
  type LocalRegistryOptions,
  REGISTRY_BINARY,
  registryAccess,
  startLocalRegistry,
} from '../../engine/registry/local.ts';
import { detail, SetupError } from './log.ts';

export interface RegistryStatus {
  url: string;
  /** `host:port`, as references name it. */
  host: string;
  /** The credential the registry accepts (root-only on disk; held by setup's engine context). */
  credentials: Credentials;
  /** The pid when this call started it; undefined when one was already running. */
  startedPid?: number;
}

/**
 * Makes sure our registry, with auth, answers on 127.0.0.1:`port`, starting one with storage in
 * `storageDir` (as `options.user` when given: the container image runs it as its own account).
 */
export async function ensureRegistry(
  port: number,
  storageDir: string,
  options: Pick<LocalRegistryOptions, 'user'> = {},
): Promise<RegistryStatus> {
  const url = `http://127.0.0.1:${port}`;
  const host = `127.0.0.1:${port}`;
  const credentials = ensureRegistryCredentials(storageDir, port);
  const state = await registryAccess(url, credentials);
  if (state === 'protected') {
    detail(`already running at ${url}`);
    return { url, host, credentials };
  }
  if (state !== 'down') {
    const pids = registryPidsOf(storageDir);
    if (pids.length === 0) {
      throw new SetupError(
        `something that is not this setup's registry answers on ${url}; stop it or set LAYERLAB_REGISTRY_PORT`,
      );
    }
    detail(
      `replacing the registry at ${url} (pid ${pids.join(', ')}): it ${state === 'open' ? 'has no auth' : 'has an old credential'}`,
    );
    await stopProcesses(pids);
  }
  const registry = await startLocalRegistry({
    port,
    storageDir,
    logFile: join(storageDir, 'registry.log'),
    ...options,
  });
  detail(`started at ${url} (pid ${registry.pid}, storage ${storageDir})`);
  return { url, host, credentials, startedPid: registry.pid };
}

/**
 * Builds the lesson images and pushes what the registry lacks; returns how many it holds. They are
 * built in a store of their own (`<root>/seed`), so the learner's store starts empty and their first
 * `pull` really pulls; that store keeps the build cache, so a second seeding is quick.
 */
export async function seedLessonImages(root: string, registry: RegistryStatus): Promise<number> {
  const seedCtx = createContext(join(root, 'seed'), {
    config: engineConfigSchema.parse({ mirrors: {} }),
    registry: { credentials: { [registry.host]: registry.credentials } },
  });
  const seeded = await seedRegistry(seedCtx, {
    registry: registry.host,
    onProgress: (p) => {
      if (p.state === 'exists' || p.state === 'pushed')
        detail(`${p.repository}: ${p.state === 'exists' ? 'up to date' : 'pushed'}`);
    },
  });
  return seeded.length;
}

/** `docker-registry serve <storageDir>/config.yml` processes: the ones a setup started for this storage. */
function registryPidsOf(storageDir: string): number[] {
  const configFile = join(storageDir, 'config.yml');
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile
    }
    if (argv[0] === REGISTRY_BINARY && argv[1] === 'serve' && argv[2] === configFile) pids.push(Number(name));
  }
  return pids;
}

/** SIGTERM, then SIGKILL after 5 s; resolves once every pid is gone. */
async function stopProcesses(pids: number[]): Promise<void> {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {}
  }
  const deadline = Date.now() + 5000;
  while (pids.some(alive)) {
    if (Date.now() > deadline) {
      for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
