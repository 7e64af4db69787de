// `layerlab system prune [-a] [-f]`: stopped containers, then dangling (or, with -a, all unused)
// images, with Docker's warning, confirmation and report. Layerlab has no networks to prune.
import { pruneContainers } from '../../container/views.ts';
import { humanSize } from '../../format/text.ts';
import { pruneImages } from '../../image/remove.ts';
import { bool } from '../args.ts';
import type { Command } from '../cli.ts';
import { confirm } from '../confirm.ts';

export const command: Command = {
  spec: {
    name: 'system prune',
    usage: '[OPTIONS]',
    description: 'Remove unused data',
    maxArgs: 0,
    flags: [
      {
        name: 'all',
        short: 'a',
        type: 'bool',
        description: 'Remove all unused images not just dangling ones',
      },
      { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
    ],
  },
  async run(cli, parsed) {
    const all = bool(parsed, 'all');
    const warning = [
      'WARNING! This will remove:',
      '  - all stopped containers',
      all ? '  - all images without at least one container associated to them' : '  - all dangling images',
      all ? '  - all build cache' : '  - unused build cache',
      '',
    ].join('\n');
    if (!bool(parsed, 'force') && !(await confirm(cli, warning))) return 0;
    const ctx = cli.context();
    const containers = await pruneContainers(ctx);
    if (containers.deleted.length > 0) cli.out(['Deleted Containers:', ...containers.deleted, ''].join('\n'));
    const images = await pruneImages(ctx, { all });
    const lines = [...images.untagged, ...images.deleted];
    if (lines.length > 0) cli.out(['Deleted Images:', ...lines, ''].join('\n'));
    cli.out(`Total reclaimed space: ${humanSize(containers.spaceReclaimed + images.spaceReclaimed)}`);
    return 0;
  },
};
