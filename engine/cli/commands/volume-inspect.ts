// `layerlab volume inspect VOLUME...`: Docker's JSON (the Mountpoint hidden from a browser terminal).
import { inspectJson } from '../../format/text.ts';
import { volumeView } from '../../volume/views.ts';
import { inspectVolume } from '../../volume/volumes.ts';
import { str } from '../args.ts';
import type { Command } from '../cli.ts';
import { INSPECT_FORMAT_FLAG } from '../format-flags.ts';
import { forCaller } from '../host-paths.ts';
import { reportError } from '../report.ts';
import { renderTemplate } from '../template.ts';

export const command: Command = {
  spec: {
    name: 'volume inspect',
    usage: '[OPTIONS] VOLUME [VOLUME...]',
    description: 'Display detailed information on one or more volumes',
    minArgs: 1,
    flags: [INSPECT_FORMAT_FLAG],
  },
  async run(cli, parsed) {
    const ctx = cli.context();
    const format = str(parsed, 'format');
    const views: unknown[] = [];
    let status = 0;
    for (const name of parsed.args) {
      try {
        views.push(forCaller(cli, ctx, volumeView(ctx, await inspectVolume(ctx, name))));
      } catch (err) {
        const report = reportError(err, undefined, cli.debug);
        cli.err(report.text);
        status = report.status;
      }
    }
    if (format === undefined || format === 'json') cli.stdout.write(inspectJson(views));
    else for (const view of views) cli.out(renderTemplate(format, view));
    return status;
  },
};
