// `layerlab start [-a] [-i] CONTAINER...`: start stopped containers; with -a, stay attached and exit
// with the container's status.
import { killContainer, startContainer } from '../../container/lifecycle.ts';
import { bool } from '../args.ts';
import { type Command, CommandFailure } from '../cli.ts';
import { reportError } from '../report.ts';
import { runSession } from '../session.ts';

export const command: Command = {
  spec: {
    name: 'start',
    usage: '[OPTIONS] CONTAINER [CONTAINER...]',
    description: 'Start one or more stopped containers',
    minArgs: 1,
    aliases: ['container start'],
    flags: [
      { name: 'attach', short: 'a', type: 'bool', description: 'Attach STDOUT/STDERR and forward signals' },
      { name: 'interactive', short: 'i', type: 'bool', description: "Attach container's STDIN" },
    ],
  },
  async run(cli, parsed) {
    const attach = bool(parsed, 'attach') || bool(parsed, 'interactive');
    const ctx = cli.context();
    if (attach) {
      if (parsed.args.length > 1)
        throw new CommandFailure('you cannot start and attach multiple containers at once');
      const size = cli.stdout.isTTY ? { rows: cli.stdout.rows, cols: cli.stdout.columns } : {};
      const { record, connection } = await startContainer(ctx, parsed.args[0]!, { attach: true, ...size });
      if (!connection) return record.state.exitCode;
      const end = await runSession(cli, connection, {
        tty: record.config.tty,
        interactive: bool(parsed, 'interactive') && record.config.openStdin,
        onSignal: (signal) => void killContainer(ctx, record.id, signal).catch(() => {}),
      });
      return end.kind === 'exited' ? end.code : 0;
    }
    let status = 0;
    for (const name of parsed.args) {
      try {
        await startContainer(ctx, name);
        cli.out(name);
      } catch (err) {
        const report = reportError(err, undefined, cli.debug);
        cli.err(report.text);
        status = report.status;
      }
    }
    return status;
  },
};
