#!/usr/bin/env node
// The package's `layerlab` executable: the engine's Docker-style CLI plus `serve`, which belongs to
// the server. Node strips the TypeScript types, so there is no build step; that needs Node 22.6 or
// later, hence the check before anything TypeScript is loaded. The compile cache goes on first, then
// the CLI loads from setup's esbuild bundle when it is fresh (cli-bundle.js), else from the sources.
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
/** @type {{ runLayerlab(): Promise<void> }} */
const cli = await import(cliModule(import.meta.dirname + '/..').url);
await cli.runLayerlab();
