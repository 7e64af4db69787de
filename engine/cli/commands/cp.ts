// `layerlab cp CONTAINER:SRC DEST` and `cp SRC CONTAINER:DEST`: copies between a container and host
// paths, which only the operator's own CLI may name (`cli.hostFiles`); the browser terminal refuses
// with a sentence saying what to use instead.
import { copyFromContainer, copyToContainer } from '../../container/copy.ts';
import { humanSize } from '../../format/text.ts';
import { UsageError } from '../args.ts';
import { type Command, CommandFailure } from '../cli.ts';
import { NO_HOST_FILES_CP } from '../sandbox.ts';

/** Docker's splitCpArg: `name:path` is a container's; an absolute or `.`-relative path is the host's. */
export function splitCpArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith('/') || arg.startsWith('.')) return { path: arg };
  const colon = arg.indexOf(':');
  if (colon <= 0) return { path: arg };
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) };
}

export const command: Command = {
  spec: {
    name: 'cp',
    usage: 'CONTAINER:SRC_PATH DEST_PATH | SRC_PATH CONTAINER:DEST_PATH',
    description: 'Copy files/folders between a container and the local filesystem',
    minArgs: 2,
    maxArgs: 2,
    aliases: ['container cp'],
    flags: [],
  },
  async run(cli, parsed) {
    const src = splitCpArg(parsed.args[0]!);
    const dest = splitCpArg(parsed.args[1]!);
    if (src.container !== undefined && dest.container !== undefined) {
      throw new UsageError('copying between containers is not supported', 'cp');
    }
    if (src.container === undefined && dest.container === undefined) {
      throw new UsageError('must specify at least one container source', 'cp');
    }
    const host = src.container === undefined ? src.path : dest.path;
    if (!cli.hostFiles) throw new CommandFailure(`Error: ${NO_HOST_FILES_CP}`, 1);
    if (host === '-') {
      throw new CommandFailure("Error: Layerlab's cp does not stream tar archives ('-'): name a path", 1);
    }
    const ctx = cli.context();
    if (src.container !== undefined) {
      const { bytes } = await copyFromContainer(ctx, src.container, src.path, dest.path);
      cli.err(`Successfully copied ${humanSize(bytes, 3)} to ${dest.path}`);
    } else {
      const { bytes } = await copyToContainer(ctx, dest.container!, src.path, dest.path);
      cli.err(`Successfully copied ${humanSize(bytes, 3)} to ${dest.container}:${dest.path}`);
    }
    return 0;
  },
};
