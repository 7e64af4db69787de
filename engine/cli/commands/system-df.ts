// `layerlab system df [-v]`: what the store holds and what pruning would free, as `docker system df`;
// `-v` adds Docker's per-image (shared and unique sizes), per-container and build cache tables.

import { listContainers, statusText } from '../../container/views.ts';
import type { EngineContext } from '../../context.ts';
import { ago, ellipsis, formatTable, goQuote, humanSize } from '../../format/text.ts';
import { listImagesView, systemDf } from '../../image/views.ts';
import { shortId } from '../../oci/digest.ts';
import { loadImage } from '../../store/images.ts';
import { listLayers } from '../../store/layers.ts';
import { bool } from '../args.ts';
import type { Command } from '../cli.ts';

export const command: Command = {
  spec: {
    name: 'system df',
    usage: '[OPTIONS]',
    description: 'Show disk usage',
    maxArgs: 0,
    flags: [
      { name: 'verbose', short: 'v', type: 'bool', description: 'Show detailed information on space usage' },
    ],
  },
  async run(cli, parsed) {
    const ctx = cli.context();
    if (bool(parsed, 'verbose')) {
      cli.stdout.write(await verbose(ctx));
      return 0;
    }
    const rows = await systemDf(ctx);
    const table = rows.map((r) => {
      // Docker prints the percentage only when there is something to take it of.
      const reclaimable =
        r.size > 0
          ? `${humanSize(r.reclaimable)} (${Math.floor((100 * r.reclaimable) / r.size)}%)`
          : humanSize(r.reclaimable);
      return [r.type, String(r.total), String(r.active), humanSize(r.size), reclaimable];
    });
    cli.stdout.write(formatTable(['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], table));
    return 0;
  },
};

async function verbose(ctx: EngineContext): Promise<string> {
  const now = Date.now();
  const rows = await listImagesView(ctx);
  const containers = await listContainers(ctx, { all: true, size: true });
  const layerSizes = new Map((await listLayers(ctx)).map((l) => [l.diffId as string, l.size]));
  // How many listed images hold each layer: a layer in more than one is shared.
  const layersOf = new Map<string, string[]>();
  for (const id of new Set(rows.map((r) => r.id))) {
    layersOf.set(id, [...new Set((await loadImage(ctx, id)).config.rootfs.diff_ids as readonly string[])]);
  }
  const holders = new Map<string, number>();
  for (const layers of layersOf.values()) for (const l of layers) holders.set(l, (holders.get(l) ?? 0) + 1);
  const imageTable = rows.map((r) => {
    const layers = layersOf.get(r.id) ?? [];
    const shared = layers
      .filter((l) => (holders.get(l) ?? 0) > 1)
      .reduce((n, l) => n + (layerSizes.get(l) ?? 0), 0);
    const users = containers.filter((c) => c.imageId === r.id).length;
    return [
      r.repository,
      r.tag,
      shortId(r.id),
      ago(r.created, now),
      humanSize(r.size, 3),
      humanSize(shared, 3),
      humanSize(Math.max(0, r.size - shared), 3),
      String(users),
    ];
  });
  const containerTable = containers.map((c) => [
    c.id.slice(0, 12),
    c.image,
    goQuote(ellipsis(c.command, 20)),
    '0',
    humanSize(c.sizeRw ?? 0, 3),
    ago(c.created, now),
    statusText(c, now),
    c.name,
  ]);
  const cache = (await systemDf(ctx)).find((r) => r.type === 'Build Cache');
  return [
    'Images space usage:\n\n',
    formatTable(
      ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS'],
      imageTable,
    ),
    '\nContainers space usage:\n\n',
    formatTable(
      ['CONTAINER ID', 'IMAGE', 'COMMAND', 'LOCAL VOLUMES', 'SIZE', 'CREATED', 'STATUS', 'NAMES'],
      containerTable,
    ),
    '\nLocal Volumes space usage:\n\n',
    formatTable(['VOLUME NAME', 'LINKS', 'SIZE'], []),
    `\nBuild cache usage: ${humanSize(cache?.size ?? 0)}\n\n`,
    formatTable(['CACHE ID', 'CACHE TYPE', 'SIZE', 'CREATED', 'LAST USED', 'USAGE', 'SHARED'], []),
  ].join('');
}
