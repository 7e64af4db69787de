// `layerlab image prune`: delete dangling images (or, with -a, every image no container uses).

import { humanSize } from '../../format/text.ts';
import { pruneImages } from '../../image/remove.ts';
import { bool } from '../args.ts';
import type { Command } from '../cli.ts';
import { confirm } from '../confirm.ts';

export const command: Command = {
  spec: {
    name: 'image prune',
    usage: '[OPTIONS]',
    description: 'Remove unused images',
    maxArgs: 0,
    flags: [
      {
        name: 'all',
        short: 'a',
        type: 'bool',
        description: 'Remove all unused images, not just dangling ones',
      },
      { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
    ],
  },
  async run(cli, parsed) {
    const all = bool(parsed, 'all');
    const warning = all
      ? 'WARNING! This will remove all images without at least one container associated to them.'
      : 'WARNING! This will remove all dangling images.';
    if (!bool(parsed, 'force') && !(await confirm(cli, warning))) return 0;
    const result = await pruneImages(cli.context(), { all });
    const lines = [...result.untagged, ...result.deleted];
    if (lines.length > 0) cli.out(['Deleted Images:', ...lines, ''].join('\n'));
    cli.out(`Total reclaimed space: ${humanSize(result.spaceReclaimed)}`);
    return 0;
  },
};
