// `layerlab push NAME[:TAG]`: upload an image, printing Docker's push transcript.
import type { EventSink } from '../../events.ts';
import { push } from '../../push.ts';
import { parseReference, repositoryName } from '../../reference/reference.ts';
import { loadImage } from '../../store/images.ts';
import { bool } from '../args.ts';
import type { Command } from '../cli.ts';
import { LineBoard, pushProgress } from '../progress.ts';

export const command: Command = {
  spec: {
    name: 'push',
    usage: '[OPTIONS] NAME[:TAG]',
    description: 'Upload an image to a registry',
    minArgs: 1,
    maxArgs: 1,
    flags: [{ name: 'quiet', short: 'q', type: 'bool', description: 'Suppress verbose output' }],
  },
  async run(cli, parsed) {
    const input = parsed.args[0]!;
    const ref = parseReference(input);
    const quiet = bool(parsed, 'quiet');
    const board = new LineBoard(cli.stdout);
    if (!quiet) board.line(`The push refers to repository [${repositoryName(ref)}]`);
    // Docker lists only the layers; the engine also reports the config blob, which is left out here.
    const image = await loadImage(cli.context(), input);
    const layers = new Set<string>(image.manifest.layers.map((l) => l.digest));
    const progress = pushProgress(cli.stdout);
    const sink: EventSink = (event) => {
      if (!quiet && event.type === 'push.layer' && layers.has(event.digest)) progress(event);
    };
    const result = await push(cli.context(sink), input);
    if (quiet) cli.out(input);
    else board.line(`${ref.tag ?? 'latest'}: digest: ${result.digest} size: ${result.size}`);
    return 0;
  },
};
