// Builds the C helpers (`make -C native`); make rebuilds only what changed, so this is cheap to repeat.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SetupError } from './log.ts';

export function buildNative(repoRoot: string, options: { quiet?: boolean } = {}): void {
  const dir = join(repoRoot, 'native');
  if (!existsSync(join(dir, 'Makefile'))) {
    throw new SetupError(`native/Makefile is missing in ${repoRoot}: the checkout is incomplete.`);
  }
  const result = spawnSync('make', ['-s', '-C', dir], {
    stdio: ['ignore', options.quiet ? 'pipe' : 'inherit', options.quiet ? 'pipe' : 'inherit'],
    encoding: 'utf8',
  });
  if (result.error) throw new SetupError(`cannot run make: ${result.error.message} (install make and gcc).`);
  if (result.status !== 0) {
    const output = options.quiet ? `\n${result.stdout ?? ''}${result.stderr ?? ''}` : '';
    throw new SetupError(`make -C native failed (exit ${result.status}).${output}`);
  }
}
