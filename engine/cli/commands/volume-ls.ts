// `layerlab volume ls [-q] [--format T]`: Docker's DRIVER / VOLUME NAME table.
import { formatTable } from '../../format/text.ts';
import { volumeView } from '../../volume/views.ts';
import { listVolumes } from '../../volume/volumes.ts';
import { bool, str } from '../args.ts';
import type { Command } from '../cli.ts';
import { forCaller } from '../host-paths.ts';
import { renderTemplate } from '../template.ts';

export const command: Command = {
  spec: {
    name: 'volume ls',
    usage: '[OPTIONS]',
    description: 'List volumes',
    maxArgs: 0,
    aliases: ['volume list'],
    flags: [
      { name: 'quiet', short: 'q', type: 'bool', description: 'Only display volume names' },
      { name: 'format', type: 'string', description: 'Format output using a custom template' },
    ],
  },
  async run(cli, parsed) {
    const ctx = cli.context();
    const volumes = await listVolumes(ctx);
    if (bool(parsed, 'quiet')) {
      for (const v of volumes) cli.out(v.name);
      return 0;
    }
    const format = str(parsed, 'format');
    if (format !== undefined && format !== 'table') {
      for (const v of volumes) {
        const view = forCaller(cli, ctx, volumeView(ctx, v));
        cli.out(format === 'json' ? JSON.stringify(view) : renderTemplate(format, view));
      }
      return 0;
    }
    cli.stdout.write(
      formatTable(
        ['DRIVER', 'VOLUME NAME'],
        volumes.map((v) => ['local', v.name]),
      ),
    );
    return 0;
  },
};
