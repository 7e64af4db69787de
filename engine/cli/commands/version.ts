// `layerlab version`: the CLI, Node and engine versions, laid out like `docker version`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectRuntime } from '../../runtime/detect.ts';
import type { Command } from '../cli.ts';

/** What `info` and `version` show for a host path the caller may not learn (the browser terminal). */
export const HIDDEN_PATH = '(not shown in the browser terminal)';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', '..', 'package.json'), 'utf8'));
  return String(pkg.version);
}

export const command: Command = {
  spec: {
    name: 'version',
    usage: '',
    description: 'Show the Layerlab version information',
    maxArgs: 0,
    flags: [],
  },
  async run(cli) {
    const arch = process.arch === 'x64' ? 'amd64' : process.arch;
    const lines = [
      'Client:',
      ` Version:           ${packageVersion()}`,
      ` Node version:      ${process.version}`,
      ` OS/Arch:           ${process.platform}/${arch}`,
      '',
      'Engine:',
      ` Root:              ${cli.hideHostPaths ? HIDDEN_PATH : cli.root}`,
    ];
    const runtime = await detectRuntime(cli.context()).then(
      (r) => `${r.name} ${r.version}`,
      (err: Error) => `unavailable (${err.message})`,
    );
    lines.push(` Runtime:           ${runtime}`, ' Storage driver:    overlayfs');
    cli.out(lines.join('\n'));
    return 0;
  },
};
