// `npm run fuzz`: the fuzz targets of `npm test` with a long budget. Runs the unit fuzz files and the
// real-socket fuzzing of test/integration/hardening-edge.test.ts with FUZZ_SCALE (default 100) times
// their short run counts, then prints every target with the runs it made and the seed to replay it.
// Options: `--scale N`; FUZZ_SEED=S replays one seed (see test/fuzz/budget.ts).

import { spawn } from 'node:child_process';
import { join } from 'node:path';

const repoRoot = join(import.meta.dirname, '..');
const vitest = join(repoRoot, 'node_modules', '.bin', 'vitest');

const scaleArg = process.argv.indexOf('--scale');
const scale = scaleArg === -1 ? Number(process.env.FUZZ_SCALE ?? 100) : Number(process.argv[scaleArg + 1]);
if (!Number.isInteger(scale) || scale < 1) {
  process.stderr.write('npm run fuzz: --scale takes a whole number of at least 1\n');
  process.exit(2);
}

const stages: { title: string; args: string[] }[] = [
  {
    title: 'parsers (unit): tar, unpack, Dockerfile, reference, CLI, protocol',
    args: ['run', '--project', 'unit', 'test/unit/fuzz-'],
  },
  {
    title: 'WebSocket frames through a real server (integration)',
    args: [
      'run',
      '--project',
      'integration',
      'test/integration/hardening-edge.test.ts',
      '-t',
      'fuzzed frames through a real socket',
    ],
  },
];

const summary: string[] = [];
let failed = false;
const started = Date.now();
for (const stage of stages) {
  process.stdout.write(`\n=== fuzz (scale ${scale}): ${stage.title}\n\n`);
  const code = await new Promise<number>((resolve) => {
    // The projects' test timeouts fit the short budget; each target here stops itself after 30 min.
    const child = spawn(vitest, [...stage.args, '--testTimeout=7200000'], {
      cwd: repoRoot,
      env: { ...process.env, FUZZ_SCALE: String(scale) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (/^fuzz \S+: /.test(line)) summary.push(line);
    });
    child.on('close', (status) => resolve(status ?? 1));
  });
  if (code !== 0) failed = true;
}

const minutes = ((Date.now() - started) / 60_000).toFixed(1);
process.stdout.write(`\n=== fuzz summary (scale ${scale}, ${minutes} min)\n${summary.join('\n')}\n`);
if (failed) {
  process.stdout.write('\nnpm run fuzz: a target failed; its counterexample and seed are above\n');
  process.exit(1);
}
process.stdout.write(`\nnpm run fuzz: ${summary.length} targets passed\n`);
