#!/usr/bin/env node
// The package's `layerlab` executable: the engine's Docker-style CLI plus `serve`, which belongs to
// the server. Node strips the TypeScript types, so there is no build step; that needs Node 22.6 or
// later, hence the check before anything TypeScript is loaded. The compile cache goes on first, then
// the CLI loads from setup's esbuild bundle when it is fresh (cli-bundle.js), else from the sources.
// bin/layerlab (the package's `bin`) runs this directly, or native/client.c, which hands commands to
// the root's resident engine and runs this when none can take them.
import * as nodeModule from 'node:module';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `layerlab needs Node 22.18 or later (this is ${process.version}); run it through npm (\`npx layerlab\`), which uses the project's Node 24.\n`,
  );
  process.exit(1);
}
// In node_modules/.cache/, beside the code it caches, so it lasts as long as the install (os.tmpdir()
// may be emptied at boot); Node checks each entry against the source's hash, so an edited file is
// compiled afresh. Where that directory cannot be written, Node's default place under os.tmpdir().
const cached = nodeModule.enableCompileCache?.(
  new URL('../node_modules/.cache/layerlab-compile', import.meta.url).pathname,
);
if (cached && cached.status === nodeModule.constants.compileCacheStatus.FAILED) {
  nodeModule.enableCompileCache();
}
const { cliModule } = await import('./cli-bundle.js');
const repoRoot = `${import.meta.dirname}/..`;
if (process.argv[2] === '--engine-daemon') {
  // `--engine-daemon ROOT [IDLE_MS]`, started by native/client.c: the resident engine of ROOT
  // (engine/daemon/). Only on a fresh bundle, whose manifest tells it when its code has gone stale;
  // on the sources it does not start, and every command runs in-process.
  const loaded = cliModule(repoRoot);
  if (loaded.bundle) {
    // Rechecked only after inotify saw a change near the bundle or its inputs (~300 stats saved per command).
    let changed = false;
    const { watchBundleInputs } = await import('./cli-bundle.js');
    const stopWatching = watchBundleInputs(repoRoot, () => {
      changed = true;
    });
    /** @type {{ runLayerlabDaemon(root: string, options: { idleMs?: number, current(): boolean }): Promise<void> }} */
    const cli = await import(loaded.url);
    const idleMs = Number(process.argv[4]) || undefined;
    await cli.runLayerlabDaemon(process.argv[3] ?? '', {
      ...(idleMs ? { idleMs } : {}),
      current: () => {
        if (!changed) return true;
        changed = false;
        return cliModule(repoRoot).url === loaded.url;
      },
    });
    stopWatching();
  } else {
    // Tells native/client.c to start no engine for this root until setup writes a newer bundle.
    const { writeFileSync } = await import('node:fs');
    try {
      writeFileSync(`${process.argv[3]}/engine.sock.off`, `${loaded.stale}\n`);
    } catch {
      // no root yet: the next command creates it, and its client tries once more
    }
  }
  process.exit(0);
}
/** @type {{ runLayerlab(): Promise<void> }} */
const cli = await import(cliModule(repoRoot).url);
await cli.runLayerlab();
