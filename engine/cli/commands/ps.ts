// `layerlab ps`: the container table (CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS, PORTS, NAMES).
import { listContainers, sizeText, statusText } from '../../container/views.ts';
import { bool } from '../args.ts';
import type { Command } from '../cli.ts';
import { ago, ellipsis, formatTable, goQuote } from '../format.ts';

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
    const id = (full: string) => (noTrunc ? full : full.slice(0, 12));
    if (bool(parsed, 'quiet')) {
      cli.stdout.write(rows.map((r) => `${id(r.id)}\n`).join(''));
      return 0;
    }
    const now = Date.now();
    const header = ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'];
    if (size) header.push('SIZE');
    const table = rows.map((r) => {
      const cells = [
        id(r.id),
        r.image,
        goQuote(noTrunc ? r.command : ellipsis(r.command, 20)),
        ago(r.created, now),
        statusText(r, now),
        '',
        r.name,
      ];
      if (size) cells.push(sizeText(r));
      return cells;
    });
    cli.stdout.write(formatTable(header, table));
    return 0;
  },
};
