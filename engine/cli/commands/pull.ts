// `layerlab pull NAME[:TAG|@DIGEST]`: download an image, printing Docker's pull transcript.

import { bool, str } from '../args.ts';
import { availableImagesHint, isMissingImage } from '../available-images.ts';
import { type Command, CommandFailure } from '../cli.ts';
import { pullWithProgress } from '../pulling.ts';
import { reportError } from '../report.ts';

export const command: Command = {
  spec: {
    name: 'pull',
    usage: '[OPTIONS] NAME[:TAG|@DIGEST]',
    description: 'Download an image from a registry',
    minArgs: 1,
    maxArgs: 1,
    flags: [
      { name: 'platform', type: 'string', description: 'Set platform if server is multi-platform capable' },
      { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress verbose output' },
    ],
  },
  async run(cli, parsed) {
    const platform = str(parsed, 'platform');
    try {
      await pullWithProgress(cli, parsed.args[0]!, cli.stdout, {
        quiet: bool(parsed, 'quiet'),
        ...(platform ? { platform } : {}),
      });
    } catch (err) {
      if (!isMissingImage(err)) throw err;
      // Docker's error, then what this sandbox's registry does have.
      const { text } = reportError(err, undefined, cli.debug);
      throw new CommandFailure(`${text}\n${await availableImagesHint(cli)}`, 1);
    }
    return 0;
  },
};
