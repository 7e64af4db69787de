// `layerlab diff CONTAINER`: what the container changed — A added, C changed, D deleted — from its upper dir.
import { containerDiff } from '../../container/views.ts';
import { formatChanges } from '../../layer/diff.ts';
import type { Command } from '../cli.ts';

export const command: Command = {
  spec: {
    name: 'diff',
    usage: 'CONTAINER',
    description: "Inspect changes to files or directories on a container's filesystem",
    minArgs: 1,
    maxArgs: 1,
    aliases: ['container diff'],
    flags: [],
  },
  async run(cli, parsed) {
    cli.stdout.write(formatChanges(await containerDiff(cli.context(), parsed.args[0]!)));
    return 0;
  },
};
