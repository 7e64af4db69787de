// `npm run setup`: prepares this machine for the engine, idempotently and without network when the
// packages are already there: host checks, packages, native helpers, state root, registry, runtime.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { registryPortFromEnv, rootFromEnv } from '../engine/config.ts';
import { createContext } from '../engine/context.ts';
import { detectRuntime } from '../engine/runtime/detect.ts';
import { bundleCli } from './setup/bundle.ts';
import { checkHost } from './setup/host.ts';
import { detail, SetupError, step } from './setup/log.ts';
import { buildNative } from './setup/native.ts';
import { ensurePackages } from './setup/packages.ts';
import { ensureRegistry, seedLessonImages } from './setup/registry.ts';
import { ensureSiteBuilt } from './setup/site.ts';

const repoRoot = join(import.meta.dirname, '..');

async function setup(): Promise<void> {
  step('Checking the host (Linux, root, overlayfs)');
  checkHost();
  detail('ok');

  step('System packages');
  ensurePackages();

  step('Native helpers (make -C native)');
  buildNative(repoRoot);
  detail('built');

  step('CLI bundle (esbuild, into dist/cli)');
  const bundle = await bundleCli(repoRoot);
  detail(
    bundle ? `${Object.keys(bundle.inputs).length} modules bundled` : 'skipped: the sources kept changing',
  );

  const root = rootFromEnv();
  step(`State root ${root}`);
  mkdirSync(root, { recursive: true, mode: 0o711 });
  detail('ready');

  const port = registryPortFromEnv();
  step(`Local registry on 127.0.0.1:${port}`);
  const registry = await ensureRegistry(port, join(root, 'registry'));

  step('Seeding the registry with the lesson images');
  detail(`${await seedLessonImages(root, registry)} image(s) in the registry`);

  step('Site (astro build, when its sources changed)');
  detail(ensureSiteBuilt(repoRoot, { quiet: true }) ? 'built into site/dist' : 'up to date');

  step('Container runtime');
  const runtime = await detectRuntime(createContext(root));
  detail(`${runtime.name} ${runtime.version} (${runtime.path})`);

  process.stdout.write(
    [
      '',
      'Layerlab is set up.',
      `  CLI:      npx layerlab images   (state in ${root}, registry ${registry.url})`,
      '            npx layerlab run --rm -it busybox sh',
      '  Server:   npm start            (sets up, then runs `layerlab serve`)',
      '',
    ].join('\n'),
  );
}

try {
  await setup();
} catch (err) {
  if (err instanceof SetupError) {
    process.stderr.write(`setup: ${err.message}\n`);
  } else {
    process.stderr.write(`setup failed: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.LAYERLAB_DEBUG && err instanceof Error && err.stack)
      process.stderr.write(`${err.stack}\n`);
  }
  process.exit(1);
}
