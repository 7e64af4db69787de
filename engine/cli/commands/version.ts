// `layerlab version`: the CLI, Node and engine versions, laid out like `docker version`; `--format`
// renders Docker's Client/Server structure. `--version` (main.ts) prints `versionLine`.
import { release } from 'node:os';
import { readQuickConfig } from '../../config-quick.ts';
import { knownRuntime, type RuntimeInfo } from '../../runtime/runtime-cache.ts';
import { runRootOf } from '../../store/paths.ts';
import { str } from '../args.ts';
import type { Cli, Command } from '../cli.ts';
import { INSPECT_FORMAT_FLAG } from '../format-flags.ts';
import { parseTemplate } from '../template.ts';
import { packageVersion } from '../version-line.ts';

/** What `info` and `version` show for a host path the caller may not learn (the browser terminal). */
export const HIDDEN_PATH = '(not shown in the browser terminal)';

export { packageVersion, versionLine } from '../version-line.ts';

function goArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

/**
 * The runtime to report. On the caller's own root, what detection already proved there, read from
 * its caches with the quick config reader: no zod, no koffi (main() loads neither for `version`).
 * Otherwise detection itself. A config error throws, as it does for every command; a runtime that
 * cannot be found is reported by the caller.
 */
async function findRuntime(cli: Cli): Promise<{ found: Promise<RuntimeInfo> }> {
  if (!cli.contextSupplied) {
    const { runtime } = await readQuickConfig(cli.root);
    const known = knownRuntime(runRootOf(cli.root), runtime);
    if (known) return { found: Promise.resolve(known) };
  }
  const [{ createContext }, { detectRuntime }] = await Promise.all([
    import('../../context.ts'),
    import('../../runtime/detect.ts'),
  ]);
  const ctx = cli.contextSupplied ? cli.context() : createContext(cli.root, { signal: cli.signal });
  return { found: detectRuntime(ctx) };
}

export const command: Command = {
  spec: {
    name: 'version',
    usage: '[OPTIONS]',
    description: 'Show the Layerlab version information',
    maxArgs: 0,
    flags: [INSPECT_FORMAT_FLAG],
  },
  async run(cli, parsed) {
    const arch = goArch();
    const runtime = await (await findRuntime(cli)).found.then(
      (r) => ({ name: r.name, version: r.version, text: `${r.name} ${r.version}` }),
      (err: Error) => ({ name: 'runtime', version: '', text: `unavailable (${err.message})` }),
    );
    const format = str(parsed, 'format');
    if (format) {
      const version = packageVersion();
      const value = {
        Client: {
          Platform: { Name: 'Layerlab' },
          Version: version,
          NodeVersion: process.version,
          Os: process.platform,
          Arch: arch,
          Context: 'default',
        },
        Server: {
          Platform: { Name: 'Layerlab' },
          Components: [
            { Name: 'Engine', Version: version, Details: { Os: process.platform, Arch: arch } },
            { Name: runtime.name, Version: runtime.version },
          ],
          Version: version,
          Os: process.platform,
          Arch: arch,
          KernelVersion: release(),
        },
      };
      const template = format.trim() === 'json' ? '{{json .}}' : format;
      cli.stdout.write(`${parseTemplate(template).execute(value)}\n`);
      return 0;
    }
    const lines = [
      'Client:',
      ` Version:           ${packageVersion()}`,
      ` Node version:      ${process.version}`,
      ` OS/Arch:           ${process.platform}/${arch}`,
      '',
      'Engine:',
      ` Root:              ${cli.hideHostPaths ? HIDDEN_PATH : cli.root}`,
    ];
    lines.push(` Runtime:           ${runtime.text}`, ' Storage driver:    overlayfs');
    cli.out(lines.join('\n'));
    return 0;
  },
};
