// `layerlab create [OPTIONS] IMAGE [COMMAND] [ARG...]`: a container, created but not started; prints its id.
import { createContainer } from '../../container/lifecycle.ts';
import type { Command } from '../cli.ts';
import { CREATE_FLAGS, createOptions, ensureImage } from '../container-flags.ts';

export const command: Command = {
  spec: {
    name: 'create',
    usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
    description: 'Create a new container',
    minArgs: 1,
    stopAtPositional: true,
    aliases: ['container create'],
    flags: CREATE_FLAGS,
  },
  async run(cli, parsed) {
    const opts = createOptions(parsed, cli.env);
    await ensureImage(cli, opts.image);
    const record = await createContainer(cli.context(), opts);
    cli.out(record.id);
    return 0;
  },
};
