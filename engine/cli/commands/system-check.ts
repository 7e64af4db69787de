// `layerlab system check`: verifies the store — every blob re-hashed, every image record checked
// against its blobs and layers, containers' layers present, leftovers of interrupted writes listed.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { readAllRecords } from '../../container/record.ts';
import type { EngineContext } from '../../context.ts';
import { cleanupTemp, verifyBlobs } from '../../store/blobs.ts';
import { listImages, loadImage } from '../../store/images.ts';
import { cleanupLayerTemps } from '../../store/layers.ts';
import { checkImage } from '../../validate.ts';
import { bool } from '../args.ts';
import type { Command } from '../cli.ts';

export const command: Command = {
  spec: {
    name: 'system check',
    usage: '[OPTIONS]',
    description: 'Verify the store: blob digests, image records, container layers, leftover temp files',
    maxArgs: 0,
    flags: [{ name: 'fix', type: 'bool', description: 'Remove leftover temp files older than an hour' }],
  },
  async run(cli, parsed) {
    const ctx = cli.context();
    const problems: string[] = [];

    const blobs = await verifyBlobs(ctx);
    for (const { digest, actual } of blobs.corrupt)
      problems.push(`blob ${digest}: content hashes to ${actual}`);
    cli.out(`Blobs:       ${blobs.checked} checked, ${blobs.corrupt.length} corrupt`);

    const records = await listImages(ctx);
    let imageProblems = 0;
    for (const record of records) {
      const found = await loadImage(ctx, record.id)
        .then((image) => checkImage(ctx, image))
        .catch((err: Error) => [err.message]);
      imageProblems += found.length;
      for (const p of found) problems.push(`image ${record.id}: ${p}`);
    }
    cli.out(`Images:      ${records.length} checked, ${imageProblems} problems`);

    const containers = await readAllRecords(ctx);
    let containerProblems = 0;
    for (const c of containers) {
      for (const dir of c.lowerDirs) {
        if (existsSync(dir)) continue;
        containerProblems++;
        problems.push(`container ${c.id.slice(0, 12)} (${c.name}): layer ${dir} is missing`);
      }
    }
    cli.out(`Containers:  ${containers.length} checked, ${containerProblems} problems`);

    const leftovers = await tempLeftovers(ctx);
    if (bool(parsed, 'fix')) {
      const removed = (await cleanupTemp(ctx)) + (await cleanupLayerTemps(ctx));
      cli.out(`Temp files:  ${leftovers.length} found, ${removed} older than an hour removed`);
    } else {
      cli.out(
        `Temp files:  ${leftovers.length} leftover${leftovers.length > 0 ? ' (run with --fix to remove old ones)' : ''}`,
      );
    }

    for (const p of problems) cli.err(p);
    cli.out(problems.length === 0 ? 'Store is consistent.' : `Store has ${problems.length} problem(s).`);
    return problems.length === 0 ? 0 : 1;
  },
};

/** Entries in tmp/ and layers/.tmp-*: writes that never finished (or are finishing right now). */
async function tempLeftovers(ctx: EngineContext): Promise<string[]> {
  const list = async (dir: string, keep: (name: string) => boolean) =>
    (await readdir(dir).catch(() => [] as string[])).filter(keep);
  return [
    ...(await list(ctx.paths.tmp, () => true)),
    ...(await list(ctx.paths.layers, (n) => n.startsWith('.tmp-'))),
  ];
}
