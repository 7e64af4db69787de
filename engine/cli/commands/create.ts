// `layerlab create [OPTIONS] IMAGE [COMMAND] [ARG...]`: a container, created but not started; prints its id.
import { createContainer } from '../../container/lifecycle.ts';
import { availableImagesHint, isMissingImage } from '../available-images.ts';
import { type Command, CommandFailure } from '../cli.ts';
import { CREATE_FLAGS, containerOptions, ensureImage } from '../container-flags.ts';
import { reportError } from '../report.ts';

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
    const opts = await containerOptions(cli, parsed, 'create');
    try {
      await ensureImage(cli, opts.image);
    } catch (err) {
      if (!isMissingImage(err)) throw err;
      const { text } = reportError(err, undefined, cli.debug);
      throw new CommandFailure(`${text}\n${await availableImagesHint(cli)}`, 1);
    }
    const record = await createContainer(cli.context(), opts);
    cli.out(record.id);
    return 0;
  },
};
