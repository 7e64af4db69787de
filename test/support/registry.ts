// A real docker-registry for one test file: a free port on 127.0.0.1, storage under a temp dir,
// stopped and removed by `stop()`. The shared mirror of a test run (global-setup.ts) is protected like
// setup's, wanting its credential for every request; a test file's own registry, for tests of the
// engine's HTTP client against a bare distribution, is open unless asked.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Credentials, localRegistryCredentialsFile } from '../../engine/registry/credentials.ts';
import { startLocalRegistry } from '../../engine/registry/local.ts';

export interface TestRegistry {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`, the domain part of references. */
  host: string;
  port: number;
  /** What it accepts when protected; `{ [host]: credentials }` is the engine's credential store for it. */
  credentials?: Credentials;
  /** The root-only file holding `{ [host]: credentials }`, when protected. */
  credentialsFile?: string;
  stop(): Promise<void>;
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function startTestRegistry(options: { protected?: boolean } = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'layerlab-registry-'));
  const port = await freePort();
  const registry = await startLocalRegistry({ port, storageDir: dir, auth: options.protected ?? false });
  return {
    url: registry.url,
    host: `127.0.0.1:${port}`,
    port,
    ...(registry.credentials
      ? { credentials: registry.credentials, credentialsFile: localRegistryCredentialsFile(dir) }
      : {}),
    async stop() {
      await registry.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
