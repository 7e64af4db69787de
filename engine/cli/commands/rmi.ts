// `layerlab rmi IMAGE...`: untag and delete images, printing Docker's Untagged/Deleted lines.
import { removeImage } from '../../image/remove.ts';
import { bool } from '../args.ts';
import type { Command } from '../cli.ts';
import { reportError } from '../report.ts';

export const command: Command = {
  spec: {
    name: 'rmi',
    usage: '[OPTIONS] IMAGE [IMAGE...]',
    description: 'Remove one or more images',
    minArgs: 1,
    aliases: ['image rm', 'image remove'],
    flags: [
      { name: 'force', short: 'f', type: 'bool', description: 'Force removal of the image' },
      { name: 'no-prune', type: 'bool', description: 'Do not delete untagged parents' },
    ],
  },
  async run(cli, parsed) {
    // Like Docker, carry on with the other images when one fails, and fail at the end.
    let status = 0;
    for (const name of parsed.args) {
      try {
        for (const line of await removeImage(cli.context(), name, { force: bool(parsed, 'force') }))
          cli.out(line);
      } catch (err) {
        const report = reportError(err, undefined, cli.debug);
        cli.err(report.text);
        status = report.status;
      }
    }
    return status;
  },
};
