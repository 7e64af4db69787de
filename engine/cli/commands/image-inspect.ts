// `layerlab image inspect IMAGE...`: Docker's image inspect JSON.

import { NotFoundError } from '../../errors.ts';
import { inspectJson } from '../../format/text.ts';
import { inspectImage } from '../../image/views.ts';
import type { Command } from '../cli.ts';
import { forCaller } from '../host-paths.ts';

export const command: Command = {
  spec: {
    name: 'image inspect',
    usage: '[OPTIONS] IMAGE [IMAGE...]',
    description: 'Display detailed information on one or more images',
    minArgs: 1,
    flags: [],
  },
  async run(cli, parsed) {
    const found: unknown[] = [];
    let status = 0;
    for (const name of parsed.args) {
      try {
        const ctx = cli.context();
        found.push(forCaller(cli, ctx, await inspectImage(ctx, name)));
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        cli.err(`Error: No such image: ${name}`);
        status = 1;
      }
    }
    cli.stdout.write(inspectJson(found));
    return status;
  },
};
