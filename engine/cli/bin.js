#!/usr/bin/env node
// The package's `layerlab` executable: Node 24 strips the types of main.ts, so no build step is needed.
// The compile cache goes on before main.ts and everything it imports is loaded (hence the dynamic import).
import { enableCompileCache } from 'node:module';

enableCompileCache();
const { runProcess } = await import('./main.ts');
await runProcess();
