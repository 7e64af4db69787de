// `layerlab save`: images to a tar archive (docker-archive or OCI layout), on stdout or into -o FILE.
import type { ArchiveFormat } from '../../archive/save.ts';
import { save } from '../../archive/save.ts';
import { InvalidArgumentError } from '../../errors.ts';
import { str } from '../args.ts';
import { type Command, CommandFailure } from '../cli.ts';

export const command: Command = {
  spec: {
    name: 'save',
    usage: '[OPTIONS] IMAGE [IMAGE...]',
    description: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
    minArgs: 1,
    flags: [
      { name: 'output', short: 'o', type: 'string', description: 'Write to a file, instead of STDOUT' },
      { name: 'format', type: 'string', description: 'Archive format: "docker" (default) or "oci"' },
    ],
  },
  async run(cli, parsed) {
    const format = str(parsed, 'format') ?? 'docker';
    if (format !== 'docker' && format !== 'oci') {
      throw new InvalidArgumentError(`invalid format "${format}": expected "docker" or "oci"`, format);
    }
    const output = str(parsed, 'output');
    if (output === undefined && cli.stdout.isTTY) {
      throw new CommandFailure('Error: cowardly refusing to save to a terminal. Use the -o flag or redirect');
    }
    await save(cli.context(), [...parsed.args], output ?? cli.stdout, { format: format as ArchiveFormat });
    return 0;
  },
};
