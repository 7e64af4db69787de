// `layerlab push NAME[:TAG]`: upload an image, printing Docker's push transcript.
import type { EventSink } from '../../events.ts';
import type { Digest } from '../../oci/digest.ts';
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
    // Docker lists every layer by its diff id (the uncompressed digest), never the config blob. A
    // built layer is compressed on its way out, so its events carry a digest the store does not
    // know: the engine announces the layers (`preparing`) top first, which maps them back.
    const image = await loadImage(cli.context(), input);
    const diffIds = image.config.rootfs.diff_ids;
    const ordered = [
      ...new Map(image.manifest.layers.map((l, i) => [l.digest, diffIds[i] ?? l.digest])).values(),
    ].reverse();
    const shown = new Map<Digest, Digest>();
    const progress = pushProgress(cli.stdout);
    const sink: EventSink = (event) => {
      if (quiet || event.type !== 'push.layer' || event.digest === image.manifest.config.digest) return;
      let digest = shown.get(event.digest);
      if (digest === undefined) {
        digest = ordered[shown.size] ?? event.digest;
        shown.set(event.digest, digest);
      }
      progress({ ...event, digest });
    };
    const result = await push(cli.context(sink), input);
    if (quiet) cli.out(input);
    else board.line(`${ref.tag ?? 'latest'}: digest: ${result.digest} size: ${result.size}`);
    return 0;
  },
};
