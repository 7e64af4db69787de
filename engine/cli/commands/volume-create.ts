// `layerlab volume create [NAME]`: makes a named volume (a 64-hex name without one) and prints its name.

import { InvalidArgumentError } from '../../errors.ts';
import { createVolume } from '../../volume/volumes.ts';
import { list, str, UsageError } from '../args.ts';
import type { Command } from '../cli.ts';

export const command: Command = {
  spec: {
    name: 'volume create',
    usage: '[OPTIONS] [VOLUME]',
    description: 'Create a volume',
    maxArgs: 1,
    flags: [
      { name: 'name', type: 'string', description: 'Specify volume name' },
      { name: 'label', type: 'list', description: 'Set metadata for a volume' },
      {
        name: 'driver',
        short: 'd',
        type: 'string',
        description: 'Specify volume driver name (only "local")',
      },
    ],
  },
  async run(cli, parsed) {
    const flagName = str(parsed, 'name');
    const argName = parsed.args[0];
    if (flagName !== undefined && argName !== undefined && flagName !== argName) {
      throw new UsageError(
        `conflicting options: either specify --name or provide positional arg, not both`,
        'volume create',
      );
    }
    const driver = str(parsed, 'driver') ?? 'local';
    if (driver !== 'local') {
      throw new InvalidArgumentError(
        `error looking up volume plugin ${driver}: plugin "${driver}" not found`,
        driver,
      );
    }
    const labels: Record<string, string> = {};
    for (const label of list(parsed, 'label')) {
      const eq = label.indexOf('=');
      labels[eq === -1 ? label : label.slice(0, eq)] = eq === -1 ? '' : label.slice(eq + 1);
    }
    const name = flagName ?? argName;
    const volume = await createVolume(cli.context(), { ...(name !== undefined ? { name } : {}), labels });
    cli.out(volume.name);
    return 0;
  },
};
