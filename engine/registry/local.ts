// Runs Debian's `docker-registry` (CNCF distribution) on 127.0.0.1 as the local registry that setup
// seeds and `docker.io` pulls mirror to; also used by the integration tests on a free port.

import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RegistryError } from '../errors.ts';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface LocalRegistryOptions {
  port: number;
  storageDir: string;
  /** Where the registry's own output goes; defaults to `<storageDir>/registry.log`. */
  logFile?: string;
  /** How long to wait for `/v2/` to answer. */
  timeoutMs?: number;
}

export interface LocalRegistry {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** The YAML config the registry reads: filesystem storage, loopback only, deletes allowed. */
export function registryConfig(port: number, storageDir: string): string {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(join(storageDir, 'data'))}`,
    '  delete:',
    '    enabled: true',
    '  cache:',
    '    blobdescriptor: inmemory',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n');
}

/** True when a registry answers `/v2/` at `url` (200, or 401 for one that wants auth). */
export async function isRegistryUp(url: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const response = await fetch(`${url.replace(/\/+$/, '')}/v2/`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return response.status === 200 || response.status === 401;
  } catch {
    return false;
  }
}

/**
 * Starts the registry detached (it outlives this process, so setup can leave it running) and waits
 * until it answers. `stop()` ends it.
 */
export async function startLocalRegistry(options: LocalRegistryOptions): Promise<LocalRegistry> {
  const { port, storageDir } = options;
  const logFile = options.logFile ?? join(storageDir, 'registry.log');
  const url = `http://127.0.0.1:${port}`;
  if (await isRegistryUp(url, 500)) {
    throw new RegistryError(`cannot start a registry on 127.0.0.1:${port}: something already answers there`);
  }
  mkdirSync(join(storageDir, 'data'), { recursive: true });
  const configFile = join(storageDir, 'config.yml');
  writeFileSync(configFile, registryConfig(port, storageDir));

  const log = openSync(logFile, 'a');
  const child = spawn(REGISTRY_BINARY, ['serve', configFile], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  child.unref();
  const pid = child.pid;

  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
  });
  while (!(await isRegistryUp(url, 500))) {
    if (exitCode !== undefined || pid === undefined) {
      throw new RegistryError(
        `docker-registry exited (code ${exitCode}) before answering on ${url}; see ${logFile}`,
      );
    }
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new RegistryError(`docker-registry did not answer on ${url} in time; see ${logFile}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    url,
    port,
    pid: pid!,
    async stop(): Promise<void> {
      if (exitCode !== undefined) return;
      try {
        process.kill(pid!, 'SIGTERM');
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(pid!, 'SIGKILL');
        } catch {}
      }, 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
