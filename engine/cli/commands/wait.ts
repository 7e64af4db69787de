// `layerlab wait CONTAINER...`: block until each container stops, printing its exit code.
import { waitContainer } from '../../container/lifecycle.ts';
import type { Command } from '../cli.ts';
import { forEachTarget } from '../targets.ts';

export const command: Command = {
  spec: {
    name: 'wait',
    usage: 'CONTAINER [CONTAINER...]',
    description: 'Block until one or more containers stop, then print their exit codes',
    minArgs: 1,
    aliases: ['container wait'],
    flags: [],
  },
  async run(cli, parsed) {
    return forEachTarget(cli, parsed.args, async (target) =>
      String(await waitContainer(cli.context(), target, { signal: cli.signal })),
    );
  },
};
