// `layerlab history IMAGE`: one row per build step, newest first, as `docker history` (with --format).

import { ago, ellipsis, humanSize } from '../../format/text.ts';
import { imageHistory } from '../../image/views.ts';
import { shortId } from '../../oci/digest.ts';
import { bool, str } from '../args.ts';
import type { Command } from '../cli.ts';
import { LIST_FORMAT_FLAG } from '../format-flags.ts';
import { formatList, type ListFormat, type RowContext } from '../formatter.ts';

export const HISTORY_FORMAT: ListFormat = {
  defaultTable: 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}',
  headers: {
    ID: 'IMAGE',
    CreatedSince: 'CREATED',
    CreatedAt: 'CREATED AT',
    CreatedBy: 'CREATED BY',
    Size: 'SIZE',
    Comment: 'COMMENT',
  },
};

export const command: Command = {
  spec: {
    name: 'history',
    usage: '[OPTIONS] IMAGE',
    description: 'Show the history of an image',
    minArgs: 1,
    maxArgs: 1,
    aliases: ['image history'],
    flags: [
      LIST_FORMAT_FLAG,
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
    const contexts = rows.map((r): RowContext => {
      const createdBy = r.createdBy.replaceAll('\t', ' ');
      return {
        ID: id(r.image),
        CreatedSince: human ? ago(r.created, now) : (r.created ?? ''),
        CreatedAt: rfc3339(r.created),
        CreatedBy: noTrunc ? createdBy : ellipsis(createdBy, 45),
        Size: human ? humanSize(r.size, 3) : String(r.size),
        Comment: r.comment,
      };
    });
    cli.stdout.write(formatList(str(parsed, 'format'), contexts, HISTORY_FORMAT));
    return 0;
  },
};

/** Go's RFC 3339 time, seconds only, as Docker's history CreatedAt. */
function rfc3339(iso: string | undefined): string {
  const t = iso ? Date.parse(iso) : Number.NaN;
  return Number.isNaN(t) ? '0001-01-01T00:00:00Z' : `${new Date(t).toISOString().slice(0, 19)}Z`;
}
