#!/usr/bin/env node
// The package's `layerlab` executable: Node 24 strips the types of main.ts, so no build step is needed.
import { runProcess } from './main.ts';

await runProcess();
