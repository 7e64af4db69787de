// `node deploy/render.ts`: writes the generated deploy files (router and registry-gate HAProxy configs,
// the nodes' engine config, limits and replica count) from deploy/cluster.ts.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderedFiles } from './rendered-files.ts';

const repoRoot = join(import.meta.dirname, '..');
for (const [path, text] of Object.entries(renderedFiles())) {
  writeFileSync(join(repoRoot, path), text);
  console.log(`wrote ${path}`);
}
