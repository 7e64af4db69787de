// `layerlab stop [-t SECONDS] CONTAINER...`: StopSignal (default SIGTERM), then SIGKILL after the timeout.
import { stopContainer } from '../../container/lifecycle.ts';
import { int } from '../args.ts';
import type { Command } from '../cli.ts';
import { forEachTarget } from '../targets.ts';

export const command: Command = {
  spec: {
    name: 'stop',
    usage: '[OPTIONS] CONTAINER [CONTAINER...]',
    description: 'Stop one or more running containers',
    minArgs: 1,
    aliases: ['container stop'],
    flags: [
      { name: 'time', short: 't', type: 'int', description: 'Seconds to wait before killing the container' },
    ],
  },
  async run(cli, parsed) {
    const timeout = int(parsed, 'time');
    return forEachTarget(cli, parsed.args, async (target) => {
      await stopContainer(cli.context(), target, timeout === undefined ? {} : { timeout });
      return target;
    });
  },
};
