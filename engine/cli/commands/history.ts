// `layerlab history IMAGE`: one row per build step, newest first, as `docker history`.

import { ago, ellipsis, formatTable, humanSize } from '../../format/text.ts';
import { imageHistory } from '../../image/views.ts';
import { shortId } from '../../oci/digest.ts';
import { bool } from '../args.ts';
import type { Command } from '../cli.ts';

export const command: Command = {
  spec: {
    name: 'history',
    usage: '[OPTIONS] IMAGE',
    description: 'Show the history of an image',
    minArgs: 1,
    maxArgs: 1,
    aliases: ['image history'],
    flags: [
      {
        name: 'human',
        short: 'H',
        type: 'bool',
        description: 'Print sizes and dates in human readable format (default true)',
      },
      { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
      { name: 'quiet', short: 'q', type: 'bool', description: 'Only show image IDs' },
    ],
  },
  async run(cli, parsed) {
    const rows = await imageHistory(cli.context(), parsed.args[0]!);
    const noTrunc = bool(parsed, 'no-trunc');
    const id = (image: string) => (image === '<missing>' || noTrunc ? image : shortId(image));
    if (bool(parsed, 'quiet')) {
      cli.stdout.write(rows.map((r) => `${id(r.image)}\n`).join(''));
      return 0;
    }
    const human = parsed.flags.human !== false;
    const now = Date.now();
    const table = rows.map((r) => {
      const createdBy = r.createdBy.replaceAll('\t', ' ');
      return [
        id(r.image),
        human ? ago(r.created, now) : (r.created ?? ''),
        noTrunc ? createdBy : ellipsis(createdBy, 45),
        human ? humanSize(r.size, 3) : String(r.size),
        r.comment,
      ];
    });
    cli.stdout.write(formatTable(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], table));
    return 0;
  },
};
