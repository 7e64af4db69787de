// `layerlab commit [-m] [-a] [-c] CONTAINER [REPOSITORY[:TAG]]`: the container's changes as a new image layer.
import { commit } from '../../commit.ts';
import { list, str } from '../args.ts';
import type { Command } from '../cli.ts';

export const command: Command = {
  spec: {
    name: 'commit',
    usage: '[OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
    description: "Create a new image from a container's changes",
    minArgs: 1,
    maxArgs: 2,
    aliases: ['container commit'],
    flags: [
      { name: 'message', short: 'm', type: 'string', description: 'Commit message' },
      {
        name: 'author',
        short: 'a',
        type: 'string',
        description: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")',
      },
      {
        name: 'change',
        short: 'c',
        type: 'list',
        description: 'Apply Dockerfile instruction to the created image',
      },
      {
        name: 'pause',
        short: 'p',
        type: 'bool',
        description: 'Pause container during commit (accepted; Layerlab does not pause)',
      },
    ],
  },
  async run(cli, parsed) {
    const [target, repoTag] = parsed.args;
    const message = str(parsed, 'message');
    const author = str(parsed, 'author');
    const image = await commit(cli.context(), target!, {
      changes: list(parsed, 'change'),
      ...(repoTag !== undefined ? { repoTag } : {}),
      ...(message !== undefined ? { message } : {}),
      ...(author !== undefined ? { author } : {}),
    });
    cli.out(image.id);
    return 0;
  },
};
