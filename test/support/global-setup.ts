// Vitest global setup for the integration project: makes sure the system packages, native helpers and
// the CLI bundle exist, starts a seeded registry on a free port, and hands its address to the workers.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineConfigSchema } from '../../engine/config.ts';
import { createContext } from '../../engine/context.ts';
import { seedRegistry } from '../../engine/image/seed.ts';
import { bundleCli } from '../../scripts/setup/bundle.ts';
import { checkHost } from '../../scripts/setup/host.ts';
import { buildNative } from '../../scripts/setup/native.ts';
import {
  ensureCommands,
  ensurePackages,
  REQUIRED_PACKAGES,
  TEST_PACKAGES,
} from '../../scripts/setup/packages.ts';
import { startTestRegistry } from './registry.ts';

const repoRoot = join(import.meta.dirname, '..', '..');

export default async function globalSetup(): Promise<() => Promise<void>> {
  checkHost();
  ensurePackages([...REQUIRED_PACKAGES, ...TEST_PACKAGES]);
  ensureCommands();
  buildNative(repoRoot, { quiet: true });
  // As setup does: `npm test` leaves the `layerlab` executable its fresh bundle (dist/cli/).
  await bundleCli(repoRoot);

  // Protected like setup's registry: the servers of the tests use it as their docker.io mirror.
  const registry = await startTestRegistry({ protected: true });
  const credentials = registry.credentials!;
  const seedRoot = mkdtempSync(join(tmpdir(), 'layerlab-seed-'));
  try {
    const ctx = createContext(seedRoot, {
      config: engineConfigSchema.parse({ mirrors: {} }),
      registry: { credentials: { [registry.host]: credentials } },
    });
    await seedRegistry(ctx, { registry: registry.host });
  } catch (err) {
    await registry.stop();
    throw err;
  } finally {
    rmSync(seedRoot, { recursive: true, force: true });
  }
  // Workers are forked after this returns and inherit the environment (test/support/context.ts reads it).
  process.env.LAYERLAB_TEST_REGISTRY = registry.host;
  // Where its credential is (a root-only file, as setup keeps it), not the credential itself.
  process.env.LAYERLAB_TEST_REGISTRY_CREDENTIALS = registry.credentialsFile!;
  return async () => {
    delete process.env.LAYERLAB_TEST_REGISTRY;
    delete process.env.LAYERLAB_TEST_REGISTRY_CREDENTIALS;
    await registry.stop();
  };
}
