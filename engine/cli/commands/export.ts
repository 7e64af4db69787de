// `layerlab export [-o FILE] CONTAINER`: the container's whole filesystem (image layers and changes,
// as the container sees it) as one tar, to STDOUT or a file. Read through engine/fs/in-root.ts.
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { resolveContainer } from '../../container/lifecycle.ts';
import { containerDir } from '../../container/state.ts';
import { tarUpper } from '../../layer/upper-tar.ts';
import { rootfsPaths } from '../../runtime/overlay.ts';
import { str } from '../args.ts';
import { type Command, CommandFailure } from '../cli.ts';
import { NO_HOST_FILES_CP } from '../sandbox.ts';

export const command: Command = {
  spec: {
    name: 'export',
    usage: '[OPTIONS] CONTAINER',
    description: "Export a container's filesystem as a tar archive",
    minArgs: 1,
    maxArgs: 1,
    aliases: ['container export'],
    flags: [
      { name: 'output', short: 'o', type: 'string', description: 'Write to a file, instead of STDOUT' },
    ],
  },
  async run(cli, parsed) {
    const output = str(parsed, 'output');
    if (output !== undefined && !cli.hostFiles) throw new CommandFailure(`Error: ${NO_HOST_FILES_CP}`, 1);
    if (output === undefined && cli.stdout.isTTY) {
      throw new CommandFailure(
        'Error: cowardly refusing to save to a terminal. Use the -o flag or redirect',
        1,
      );
    }
    const ctx = cli.context();
    const record = await resolveContainer(ctx, parsed.args[0]!);
    // The overlay stays mounted for the container's life: its merged view is what the container sees
    // (without the runtime's own mounts, which live in the container's mount namespace).
    const tar = tarUpper(ctx, rootfsPaths(containerDir(ctx, record.id)).merged);
    await pipeline(tar, output === undefined ? cli.stdout : createWriteStream(output), {
      ...(output === undefined ? { end: false } : {}),
    });
    return 0;
  },
};
