// `layerlab images`: the image table (REPOSITORY, TAG, IMAGE ID, CREATED, SIZE) as `docker images`.
import { InvalidArgumentError } from '../../errors.ts';
import { ago, formatTable, humanSize } from '../../format/text.ts';
import { type ImageRow, listImagesView } from '../../image/views.ts';
import { shortId } from '../../oci/digest.ts';
import { familiarRepository, parseReference } from '../../reference/reference.ts';
import { bool, list } from '../args.ts';
import type { Command } from '../cli.ts';

export const command: Command = {
  spec: {
    name: 'images',
    usage: '[OPTIONS] [REPOSITORY[:TAG]]',
    description: 'List images',
    maxArgs: 1,
    aliases: ['image ls', 'image list'],
    flags: [
      {
        name: 'all',
        short: 'a',
        type: 'bool',
        description: 'Show all images (default hides intermediate images)',
      },
      {
        name: 'filter',
        short: 'f',
        type: 'list',
        valueName: 'filter',
        description: 'Filter output based on conditions provided (dangling=true|false)',
      },
      { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
      { name: 'quiet', short: 'q', type: 'bool', description: 'Only show image IDs' },
    ],
  },
  async run(cli, parsed) {
    const dangling = danglingFilter(list(parsed, 'filter'));
    let rows = await listImagesView(cli.context(), {
      all: bool(parsed, 'all'),
      danglingOnly: dangling === true,
    });
    if (dangling === false) rows = rows.filter((r) => r.tag !== '<none>' || r.repository !== '<none>');
    const wanted = parsed.args[0];
    if (wanted !== undefined) rows = rows.filter((r) => matches(wanted, r));
    const id = (r: ImageRow) => (bool(parsed, 'no-trunc') ? r.id : shortId(r.id));
    if (bool(parsed, 'quiet')) {
      cli.stdout.write([...new Set(rows.map(id))].map((s) => `${s}\n`).join(''));
      return 0;
    }
    const now = Date.now();
    cli.stdout.write(
      formatTable(
        ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'],
        rows.map((r) => [r.repository, r.tag, id(r), ago(r.created, now), humanSize(r.size, 3)]),
      ),
    );
    return 0;
  },
};

/** `images busybox` lists every busybox tag; `images busybox:1` only that one. */
function matches(wanted: string, row: ImageRow): boolean {
  const ref = parseReference(wanted);
  if (familiarRepository(ref) !== row.repository) return false;
  const last = wanted.slice(wanted.lastIndexOf('/') + 1);
  return !last.includes(':') || ref.tag === row.tag;
}

/** `--filter dangling=true|false`; other filters are refused with Docker's wording. */
export function danglingFilter(values: readonly string[]): boolean | undefined {
  let dangling: boolean | undefined;
  for (const value of values) {
    const eq = value.indexOf('=');
    const key = eq === -1 ? value : value.slice(0, eq);
    const v = eq === -1 ? '' : value.slice(eq + 1);
    if (key !== 'dangling') throw new InvalidArgumentError(`invalid filter '${key}'`, value);
    if (v !== 'true' && v !== 'false')
      throw new InvalidArgumentError(`invalid filter 'dangling=${v}'`, value);
    dangling = v === 'true';
  }
  return dangling;
}
