// The package's version and Docker's one-line `--version`, in a module of their own: `--version`
// loads this alone, not the `version` command with its runtime probe (native bindings, config).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'));
  return String(pkg.version);
}

/** Docker's `--version` line, for the name the user typed: `Docker version 0.1.0-layerlab, build layerlab`. */
export function versionLine(program: string | undefined): string {
  const version = packageVersion();
  if (program === 'docker') return `Docker version ${version}-layerlab, build layerlab`;
  if (program === 'podman') return `podman version ${version}-layerlab`;
  return `Layerlab version ${version}, build layerlab`;
}
