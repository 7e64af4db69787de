// `layerlab port CONTAINER [PRIVATE_PORT[/PROTO]]`: no port is ever published in this sandbox, so the
// list is empty, as Docker's is for a container without published ports; a named port is an error.
import { resolveContainer } from '../../container/lifecycle.ts';
import { NotFoundError } from '../../errors.ts';
import type { Command } from '../cli.ts';

export const command: Command = {
  spec: {
    name: 'port',
    usage: 'CONTAINER [PRIVATE_PORT[/PROTO]]',
    description: 'List port mappings or a specific mapping for the container',
    minArgs: 1,
    maxArgs: 2,
    aliases: ['container port'],
    flags: [],
  },
  async run(cli, parsed) {
    const record = await resolveContainer(cli.context(), parsed.args[0]!);
    const port = parsed.args[1];
    if (port !== undefined) {
      const [number, proto = 'tcp'] = port.split('/');
      throw new NotFoundError(`No public port '${number}/${proto}' published for ${record.name}`, port);
    }
    return 0;
  },
};
