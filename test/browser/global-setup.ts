// Global setup for the browser tests: the integration setup (packages including chromium, native
// helpers, a seeded test registry), then the site, rebuilt only when a source is newer than it.

import { join } from 'node:path';
import { ensureSiteBuilt } from '../../scripts/setup/site.ts';
import integrationSetup from '../support/global-setup.ts';

const repo = join(import.meta.dirname, '..', '..');

export default async function globalSetup(): Promise<() => Promise<void>> {
  const teardown = await integrationSetup();
  try {
    ensureSiteBuilt(repo, { quiet: true });
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}
