// `layerlab container prune`: remove every stopped container.
import { pruneContainers } from '../../container/views.ts';
import { humanSize } from '../../format/text.ts';
import { bool } from '../args.ts';
import type { Command } from '../cli.ts';
import { confirm } from '../confirm.ts';

export const command: Command = {
  spec: {
    name: 'container prune',
    usage: '[OPTIONS]',
    description: 'Remove all stopped containers',
    maxArgs: 0,
    flags: [{ name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' }],
  },
  async run(cli, parsed) {
    if (
      !bool(parsed, 'force') &&
      !(await confirm(cli, 'WARNING! This will remove all stopped containers.'))
    ) {
      return 0;
    }
    const result = await pruneContainers(cli.context());
    if (result.deleted.length > 0) cli.out(['Deleted Containers:', ...result.deleted, ''].join('\n'));
    cli.out(`Total reclaimed space: ${humanSize(result.spaceReclaimed)}`);
    return 0;
  },
};
