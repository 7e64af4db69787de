// `layerlab exec [-i] [-t] [-e] [-w] [-u] CONTAINER COMMAND [ARG...]`: a new process in a running
// container; exits with its status.
import { execContainer } from '../../container/lifecycle.ts';
import { bool, str } from '../args.ts';
import { type Command, CommandFailure } from '../cli.ts';
import { envOptions, PROCESS_FLAGS } from '../container-flags.ts';
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
      ...PROCESS_FLAGS,
      {
        name: 'detach',
        short: 'd',
        type: 'bool',
        description: 'Detached mode: run command in the background',
      },
    ],
  },
  async run(cli, parsed) {
    const [target, ...cmd] = parsed.args;
    const tty = bool(parsed, 'tty');
    const interactive = bool(parsed, 'interactive');
    if (tty && interactive && !bool(parsed, 'detach') && cli.stdin.isTTY !== true) {
      throw new CommandFailure('the input device is not a TTY', 1);
    }
    const user = str(parsed, 'user');
    const workingDir = str(parsed, 'workdir');
    const size = tty && cli.stdout.isTTY ? { rows: cli.stdout.rows, cols: cli.stdout.columns } : {};
    const shim = await execContainer(cli.context(), target!, {
      cmd,
      tty,
      stdin: interactive,
      env: envOptions(parsed, cli.env),
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
