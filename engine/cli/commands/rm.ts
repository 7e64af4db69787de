// `layerlab rm [-f] CONTAINER...`: remove containers (-f stops running ones first).
import { removeContainer } from '../../container/lifecycle.ts';
import { bool } from '../args.ts';
import type { Command } from '../cli.ts';
import { forEachTarget } from '../targets.ts';

export const command: Command = {
  spec: {
    name: 'rm',
    usage: '[OPTIONS] CONTAINER [CONTAINER...]',
    description: 'Remove one or more containers',
    minArgs: 1,
    aliases: ['container rm', 'container remove'],
    flags: [
      {
        name: 'force',
        short: 'f',
        type: 'bool',
        description: 'Force the removal of a running container (uses SIGKILL)',
      },
      {
        // Anonymous volumes live on the container's own tmpfs and go with it, -v or not; named
        // volumes stay, as in Docker.
        name: 'volumes',
        short: 'v',
        type: 'bool',
        description: 'Remove anonymous volumes associated with the container',
      },
    ],
  },
  async run(cli, parsed) {
    const force = bool(parsed, 'force');
    return forEachTarget(cli, parsed.args, async (target) => {
      await removeContainer(cli.context(), target, { force });
      return target;
    });
  },
};
