// `layerlab attach CONTAINER`: this terminal to a running container's stdio (Ctrl-P Ctrl-Q detaches).
import { attachContainer, killContainer, resolveContainer } from '../../container/lifecycle.ts';
import { bool } from '../args.ts';
import type { Command } from '../cli.ts';
import { runSession } from '../session.ts';

export const command: Command = {
  spec: {
    name: 'attach',
    usage: '[OPTIONS] CONTAINER',
    description: 'Attach local standard input, output, and error streams to a running container',
    minArgs: 1,
    maxArgs: 1,
    aliases: ['container attach'],
    flags: [
      { name: 'no-stdin', type: 'bool', description: 'Do not attach STDIN' },
      {
        name: 'sig-proxy',
        type: 'bool',
        description: 'Proxy all received signals to the process (default true)',
      },
    ],
  },
  async run(cli, parsed) {
    const ctx = cli.context();
    const record = await resolveContainer(ctx, parsed.args[0]!);
    const connection = await attachContainer(ctx, record.id);
    const end = await runSession(cli, connection, {
      tty: record.config.tty,
      interactive: record.config.openStdin && !bool(parsed, 'no-stdin'),
      ...(parsed.flags['sig-proxy'] === false
        ? {}
        : {
            onSignal: (signal: NodeJS.Signals) => void killContainer(ctx, record.id, signal).catch(() => {}),
          }),
    });
    if (end.kind === 'detached') {
      cli.err('read escape sequence');
      return 1;
    }
    return end.code;
  },
};
