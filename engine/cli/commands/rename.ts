// `layerlab rename CONTAINER NEW_NAME`.
import { renameContainer } from '../../container/rename.ts';
import type { Command } from '../cli.ts';

export const command: Command = {
  spec: {
    name: 'rename',
    usage: 'CONTAINER NEW_NAME',
    description: 'Rename a container',
    minArgs: 2,
    maxArgs: 2,
    aliases: ['container rename'],
    flags: [],
  },
  async run(cli, parsed) {
    await renameContainer(cli.context(), parsed.args[0]!, parsed.args[1]!);
    return 0;
  },
};
