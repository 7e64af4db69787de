// `layerlab restart [-t SECONDS] CONTAINER...`: stop (with the timeout), then start again.
import { restartContainer } from '../../container/lifecycle.ts';
import { int } from '../args.ts';
import type { Command } from '../cli.ts';
import { forEachTarget } from '../targets.ts';

export const command: Command = {
  spec: {
    name: 'restart',
    usage: '[OPTIONS] CONTAINER [CONTAINER...]',
    description: 'Restart one or more containers',
    minArgs: 1,
    aliases: ['container restart'],
    flags: [
      { name: 'time', short: 't', type: 'int', description: 'Seconds to wait before killing the container' },
    ],
  },
  async run(cli, parsed) {
    const timeout = int(parsed, 'time');
    return forEachTarget(cli, parsed.args, async (target) => {
      await restartContainer(cli.context(), target, timeout === undefined ? {} : { timeout });
      return target;
    });
  },
};
