// `layerlab serve`: starts the lessons server (server/main.ts) on --port/--host, optionally in
// classroom mode (--workshop); says so plainly when the server is not part of the build.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '../../errors.ts';
import { int, str } from '../args.ts';
import { type Command, CommandFailure } from '../cli.ts';

const SERVER_MAIN = join(import.meta.dirname, '..', '..', '..', 'server', 'main.ts');

interface ServerModule {
  serve(options: {
    root: string;
    port: number;
    host: string;
    signal: AbortSignal;
    workshop?: string;
  }): Promise<void>;
}

export const command: Command = {
  spec: {
    name: 'serve',
    usage: '[OPTIONS]',
    description: 'Start the Layerlab server (the lessons site and its engine API)',
    maxArgs: 0,
    flags: [
      { name: 'port', short: 'p', type: 'int', description: 'Port to listen on (default 8080)' },
      { name: 'host', type: 'string', description: 'Address to listen on (default 127.0.0.1)' },
      { name: 'workshop', type: 'string', description: 'Start a classroom workshop with this name' },
    ],
  },
  async run(cli, parsed) {
    const port = int(parsed, 'port') ?? 8080;
    if (port < 0 || port > 65535) throw new InvalidArgumentError(`invalid port ${port}`, String(port));
    if (!existsSync(SERVER_MAIN)) {
      throw new CommandFailure(
        'layerlab serve: the server is not part of this build yet (it arrives with the server issue); the CLI works meanwhile: try `layerlab images`.',
      );
    }
    const server = (await import(SERVER_MAIN)) as ServerModule;
    await server.serve({
      root: cli.root,
      port,
      host: str(parsed, 'host') ?? '127.0.0.1',
      signal: cli.signal,
      ...(str(parsed, 'workshop') !== undefined ? { workshop: str(parsed, 'workshop')! } : {}),
    });
    return 0;
  },
};
