// `layerlab exec [-i] [-t] [-e] [-w] [-u] CONTAINER COMMAND [ARG...]`: a new process in a running
// container; exits with its status.
import { execContainer } from '../../container/lifecycle.ts';
import { bool, list, str } from '../args.ts';
import type { Command } from '../cli.ts';
import { runSession } from '../session.ts';

export const command: Command = {
  spec: {
    name: 'exec',
    usage: '[OPTIONS] CONTAINER COMMAND [ARG...]',
    description: 'Execute a command in a running container',
    minArgs: 2,
    stopAtPositional: true,
    aliases: ['container exec'],
    flags: [
      { name: 'interactive', short: 'i', type: 'bool', description: 'Keep STDIN open even if not attached' },
      { name: 'tty', short: 't', type: 'bool', description: 'Allocate a pseudo-TTY' },
      {
        name: 'detach',
        short: 'd',
        type: 'bool',
        description: 'Detached mode: run command in the background',
      },
      { name: 'env', short: 'e', type: 'list', description: 'Set environment variables' },
      { name: 'workdir', short: 'w', type: 'string', description: 'Working directory inside the container' },
      {
        name: 'user',
        short: 'u',
        type: 'string',
        description: 'Username or UID (format: "<name|uid>[:<group|gid>]")',
      },
    ],
  },
  async run(cli, parsed) {
    const [target, ...cmd] = parsed.args;
    const tty = bool(parsed, 'tty');
    const interactive = bool(parsed, 'interactive');
    const user = str(parsed, 'user');
    const workingDir = str(parsed, 'workdir');
    const size = tty && cli.stdout.isTTY ? { rows: cli.stdout.rows, cols: cli.stdout.columns } : {};
    const shim = await execContainer(cli.context(), target!, {
      cmd,
      tty,
      stdin: interactive,
      env: list(parsed, 'env'),
      ...(user !== undefined ? { user } : {}),
      ...(workingDir !== undefined ? { workingDir } : {}),
      ...size,
    });
    if (bool(parsed, 'detach')) {
      shim.close();
      return 0;
    }
    const end = await runSession(cli, shim, { tty, interactive, exited: shim.exitCode });
    return end.kind === 'exited' ? end.code : 0;
  },
};
