// `layerlab volume prune [-a] [-f]`: removes unused volumes, only anonymous ones without -a (Docker 23+).
import { humanSize } from '../../format/text.ts';
import { pruneVolumes } from '../../volume/volumes.ts';
import { bool } from '../args.ts';
import type { Command } from '../cli.ts';
import { confirm } from '../confirm.ts';

export const command: Command = {
  spec: {
    name: 'volume prune',
    usage: '[OPTIONS]',
    description: 'Remove unused local volumes',
    maxArgs: 0,
    flags: [
      {
        name: 'all',
        short: 'a',
        type: 'bool',
        description: 'Remove all unused volumes, not just anonymous ones',
      },
      { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
    ],
  },
  async run(cli, parsed) {
    const all = bool(parsed, 'all');
    const warning = all
      ? 'WARNING! This will remove all local volumes not used by at least one container.'
      : 'WARNING! This will remove anonymous local volumes not used by at least one container.';
    if (!bool(parsed, 'force') && !(await confirm(cli, warning))) return 0;
    const { removed, bytes } = await pruneVolumes(cli.context(), { all });
    if (removed.length > 0) cli.stdout.write(`Deleted Volumes:\n${removed.map((n) => `${n}\n`).join('')}\n`);
    cli.out(`Total reclaimed space: ${humanSize(bytes)}`);
    return 0;
  },
};
