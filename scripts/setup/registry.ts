// The local registry `docker.io` pulls mirror to: started in the background with its storage under
// the state root (left alone when already up), then seeded with the lesson images.

import { join } from 'node:path';
import { isRegistryUp, startLocalRegistry } from '../../engine/registry/local.ts';
import { detail } from './log.ts';

export interface RegistryStatus {
  url: string;
  /** The pid when this call started it; undefined when one was already running. */
  startedPid?: number;
}

/** Makes sure a registry answers on 127.0.0.1:`port`, starting one with storage in `storageDir`. */
export async function ensureRegistry(port: number, storageDir: string): Promise<RegistryStatus> {
  const url = `http://127.0.0.1:${port}`;
  if (await isRegistryUp(url)) {
    detail(`already running at ${url}`);
    return { url };
  }
  const registry = await startLocalRegistry({ port, storageDir, logFile: join(storageDir, 'registry.log') });
  detail(`started at ${url} (pid ${registry.pid}, storage ${storageDir})`);
  return { url, startedPid: registry.pid };
}
