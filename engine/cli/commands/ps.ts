// `layerlab ps`: the container table (CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS, PORTS, NAMES).
import { formatContainerTable, listContainers } from '../../container/views.ts';
import { bool } from '../args.ts';
import type { Command } from '../cli.ts';

export const command: Command = {
  spec: {
    name: 'ps',
    usage: '[OPTIONS]',
    description: 'List containers',
    maxArgs: 0,
    aliases: ['container ls', 'container list', 'container ps'],
    flags: [
      {
        name: 'all',
        short: 'a',
        type: 'bool',
        description: 'Show all containers (default shows just running)',
      },
      { name: 'quiet', short: 'q', type: 'bool', description: 'Only display container IDs' },
      { name: 'size', short: 's', type: 'bool', description: 'Display total file sizes' },
      { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
      {
        name: 'external',
        type: 'bool',
        description: "Show containers created by builds (Layerlab's `layerlab build`)",
      },
    ],
  },
  async run(cli, parsed) {
    const size = bool(parsed, 'size');
    const noTrunc = bool(parsed, 'no-trunc');
    const rows = await listContainers(cli.context(), {
      all: bool(parsed, 'all'),
      size,
      external: bool(parsed, 'external'),
    });
    if (bool(parsed, 'quiet')) {
      cli.stdout.write(rows.map((r) => `${noTrunc ? r.id : r.id.slice(0, 12)}\n`).join(''));
      return 0;
    }
    cli.stdout.write(formatContainerTable(rows, { size, noTrunc }));
    return 0;
  },
};
