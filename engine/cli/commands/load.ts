// `layerlab load`: images from a docker-archive or OCI-layout tar, from -i FILE or stdin.
import { load } from '../../archive/load.ts';
import { bool, str } from '../args.ts';
import { type Command, CommandFailure } from '../cli.ts';

export const command: Command = {
  spec: {
    name: 'load',
    usage: '[OPTIONS]',
    description: 'Load an image from a tar archive or STDIN',
    maxArgs: 0,
    flags: [
      {
        name: 'input',
        short: 'i',
        type: 'string',
        description: 'Read from tar archive file, instead of STDIN',
      },
      { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress the load output' },
    ],
  },
  async run(cli, parsed) {
    const input = str(parsed, 'input');
    if (input === undefined && cli.stdin.isTTY) {
      throw new CommandFailure('requested load from stdin, but stdin is empty');
    }
    const result = await load(cli.context(), input ?? cli.stdin);
    if (!bool(parsed, 'quiet')) for (const message of result.messages) cli.out(message);
    return 0;
  },
};
