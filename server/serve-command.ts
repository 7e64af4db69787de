// `layerlab serve`: the one subcommand that belongs to the server rather than the engine. It is
// added to the engine's CLI by server/cli.ts, so the engine never imports the server.

import { int, str } from '../engine/cli/args.ts';
import type { Command } from '../engine/cli/cli.ts';
import { InvalidArgumentError } from '../engine/errors.ts';
import { loadLimitsFile } from './limits-file.ts';
import { serve } from './main.ts';

export const DEFAULT_PORT = 8080;

function portFromEnv(): number | undefined {
  const raw = process.env.LAYERLAB_PORT;
  if (raw === undefined || raw === '') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port)) throw new InvalidArgumentError(`LAYERLAB_PORT: not a port: ${raw}`, raw);
  return port;
}

export const command: Command = {
  spec: {
    name: 'serve',
    usage: '[OPTIONS]',
    description: 'Start the Layerlab server (the lessons site and its engine API)',
    maxArgs: 0,
    flags: [
      {
        name: 'port',
        short: 'p',
        type: 'int',
        description: `Port to listen on (default $LAYERLAB_PORT or ${DEFAULT_PORT})`,
      },
      { name: 'host', type: 'string', description: 'Address to listen on (default 127.0.0.1)' },
      { name: 'workshop', type: 'string', description: 'Start a classroom workshop with this name' },
      {
        name: 'limits',
        type: 'string',
        description:
          'JSON file overriding the server limits (default $LAYERLAB_LIMITS; see docs/OPERATIONS.md)',
      },
    ],
  },
  async run(cli, parsed) {
    const port = int(parsed, 'port') ?? portFromEnv() ?? DEFAULT_PORT;
    if (port < 0 || port > 65535) throw new InvalidArgumentError(`invalid port ${port}`, String(port));
    const workshop = str(parsed, 'workshop');
    const limitsPath = str(parsed, 'limits') ?? (process.env.LAYERLAB_LIMITS || undefined);
    const limits = limitsPath === undefined ? undefined : loadLimitsFile(limitsPath);
    await serve({
      root: cli.root,
      port,
      host: str(parsed, 'host') ?? '127.0.0.1',
      signal: cli.signal,
      ...(workshop !== undefined ? { workshop } : {}),
      ...(limits !== undefined ? { limits } : {}),
    });
    return 0;
  },
};
