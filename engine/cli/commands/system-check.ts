// `layerlab system check`: verifies the whole store (engine/audit.ts) — blobs re-hashed,
// image records down to their layers, unpacked layer dirs, container records, runtime leftovers —
// and exits 1 when anything is wrong. The CLI's start-up recovery (engine/recover.ts) runs first.

import { auditRoot } from '../../audit.ts';
import type { EngineContext } from '../../context.ts';
import { cleanupTemp } from '../../store/blobs.ts';
import { cleanupLayerTemps } from '../../store/layers.ts';
import { bool } from '../args.ts';
import type { Command } from '../cli.ts';
import { textForCaller } from '../host-paths.ts';

export const command: Command = {
  spec: {
    name: 'system check',
    usage: '[OPTIONS]',
    description:
      'Verify the store: blob digests, images down to their layers, unpacked layers, containers, leftovers',
    maxArgs: 0,
    flags: [{ name: 'fix', type: 'bool', description: 'Remove leftover temp files older than an hour' }],
  },
  async run(cli, parsed) {
    const ctx: EngineContext = cli.context();
    const check = await auditRoot(ctx);
    const line = (label: string, s: { checked: number; problems: number }, what = 'problems') =>
      cli.out(`${`${label}:`.padEnd(13)}${s.checked} checked, ${s.problems} ${what}`);
    line('Blobs', check.blobs, 'corrupt');
    line('Images', check.images);
    line('Layers', check.layers);
    line('Containers', check.containers);
    if (check.orphans > 0) cli.out(`Orphans:     ${check.orphans} (run dirs, runtime state, shims, mounts)`);
    if (bool(parsed, 'fix')) {
      const removed = (await cleanupTemp(ctx)) + (await cleanupLayerTemps(ctx));
      cli.out(`Temp files:  ${check.temps.length} found, ${removed} older than an hour removed`);
    } else {
      const hint =
        check.temps.length > 0 ? ' (writes in progress, or run with --fix to remove old ones)' : '';
      cli.out(`Temp files:  ${check.temps.length} leftover${hint}`);
    }
    for (const p of check.problems) cli.err(textForCaller(cli, ctx, p));
    const n = check.problems.length;
    cli.out(n === 0 ? 'Store is consistent.' : `Store has ${n} problem(s).`);
    return n === 0 ? 0 : 1;
  },
};
