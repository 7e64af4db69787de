// `layerlab kill [-s SIGNAL] CONTAINER...`: send a signal (default SIGKILL) to running containers.
import { killContainer } from '../../container/lifecycle.ts';
import { str } from '../args.ts';
import type { Command } from '../cli.ts';
import { forEachTarget } from '../targets.ts';

export const command: Command = {
  spec: {
    name: 'kill',
    usage: '[OPTIONS] CONTAINER [CONTAINER...]',
    description: 'Kill one or more running containers',
    minArgs: 1,
    aliases: ['container kill'],
    flags: [
      {
        name: 'signal',
        short: 's',
        type: 'string',
        description: 'Signal to send to the container (default "KILL")',
      },
    ],
  },
  async run(cli, parsed) {
    const raw = str(parsed, 'signal') ?? 'KILL';
    // Docker accepts `KILL`, `SIGKILL` and `9`.
    const signal = /^\d+$/.test(raw)
      ? Number(raw)
      : raw.toUpperCase().startsWith('SIG')
        ? raw.toUpperCase()
        : `SIG${raw.toUpperCase()}`;
    return forEachTarget(cli, parsed.args, async (target) => {
      await killContainer(cli.context(), target, signal);
      return target;
    });
  },
};
