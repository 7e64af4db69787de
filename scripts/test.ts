// `npm test`: lint (biome), types (tsc over engine, server and tests, then over the site), then the
// unit, integration and browser tests (vitest), stopping at the first stage that fails. Arguments
// after `--` go to vitest (`npm test -- test/unit/args.test.ts`).

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const repoRoot = join(import.meta.dirname, '..');
const bin = (name: string) => join(repoRoot, 'node_modules', '.bin', name);

interface Stage {
  title: string;
  command: string;
  args: string[];
}

const stages: Stage[] = [
  { title: 'Lint and format (biome check .)', command: bin('biome'), args: ['check', '.'] },
  { title: 'Types (tsc --noEmit -p .)', command: bin('tsc'), args: ['--noEmit', '-p', '.'] },
  // The site's own TypeScript (client elements, plugins, build scripts) with the DOM types, against
  // the content collections' types that `astro sync` generates (a fresh clone has none yet).
  { title: 'Site content types (astro sync)', command: bin('astro'), args: ['sync', '--root', 'site'] },
  { title: 'Site types (tsc --noEmit -p site)', command: bin('tsc'), args: ['--noEmit', '-p', 'site'] },
  {
    title: 'Tests (vitest run: unit, integration, browser)',
    command: bin('vitest'),
    args: ['run', ...process.argv.slice(2)],
  },
];

for (const [i, stage] of stages.entries()) {
  process.stdout.write(`\n=== [${i + 1}/${stages.length}] ${stage.title}\n\n`);
  const started = Date.now();
  const result = spawnSync(stage.command, stage.args, { cwd: repoRoot, stdio: 'inherit' });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.error) {
    process.stderr.write(
      `\nnpm test: cannot run ${stage.command}: ${result.error.message} (run \`npm ci\` first)\n`,
    );
    process.exit(1);
  }
  if (result.status !== 0) {
    const how = result.signal ? `signal ${result.signal}` : `exit ${result.status}`;
    process.stderr.write(`\nnpm test: stage ${i + 1} (${stage.title}) failed (${how}) after ${seconds}s\n`);
    process.exit(result.status ?? 1);
  }
  process.stdout.write(`\n--- ${stage.title}: ok (${seconds}s)\n`);
}
process.stdout.write('\nnpm test: all stages passed\n');
