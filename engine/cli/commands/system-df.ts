// `layerlab system df`: what the store holds and what pruning would free, as `docker system df`.

import { formatTable, humanSize } from '../../format/text.ts';
import { systemDf } from '../../image/views.ts';
import type { Command } from '../cli.ts';

export const command: Command = {
  spec: { name: 'system df', usage: '[OPTIONS]', description: 'Show disk usage', maxArgs: 0, flags: [] },
  async run(cli) {
    const rows = await systemDf(cli.context());
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
