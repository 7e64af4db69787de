// `layerlab volume rm [-f] VOLUME...`: refused for a volume any container uses, as Docker refuses it.
import { removeVolume } from '../../volume/volumes.ts';
import { bool } from '../args.ts';
import type { Command } from '../cli.ts';
import { forEachTarget } from '../targets.ts';

export const command: Command = {
  spec: {
    name: 'volume rm',
    usage: '[OPTIONS] VOLUME [VOLUME...]',
    description: 'Remove one or more volumes',
    minArgs: 1,
    aliases: ['volume remove'],
    flags: [
      {
        name: 'force',
        short: 'f',
        type: 'bool',
        description: 'Force the removal of one or more volumes',
      },
    ],
  },
  async run(cli, parsed) {
    const force = bool(parsed, 'force');
    return forEachTarget(cli, parsed.args, async (name) => {
      await removeVolume(cli.context(), name, { force });
      return name;
    });
  },
};
