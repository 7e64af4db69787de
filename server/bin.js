#!/usr/bin/env node
// The package's `layerlab` executable: the engine's Docker-style CLI plus `serve`, which belongs to
// the server. Node 24 strips the TypeScript types, so no build step is needed. The compile cache goes
// on before anything else loads (hence the dynamic import).
import { enableCompileCache } from 'node:module';

enableCompileCache();
const { runLayerlab } = await import('./cli.ts');
await runLayerlab();
