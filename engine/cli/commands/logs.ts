// `layerlab logs [-f] [--tail N] [-t] CONTAINER`: the container's recorded output, on the stream it was written to.
import { containerLogs } from '../../container/views.ts';
import { InvalidArgumentError } from '../../errors.ts';
import { bool, str } from '../args.ts';
import type { Command } from '../cli.ts';

export const command: Command = {
  spec: {
    name: 'logs',
    usage: '[OPTIONS] CONTAINER',
    description: 'Fetch the logs of a container',
    minArgs: 1,
    maxArgs: 1,
    aliases: ['container logs'],
    flags: [
      { name: 'follow', short: 'f', type: 'bool', description: 'Follow log output' },
      {
        name: 'tail',
        short: 'n',
        type: 'string',
        description: 'Number of lines to show from the end of the logs (default "all")',
      },
      { name: 'timestamps', short: 't', type: 'bool', description: 'Show timestamps' },
    ],
  },
  async run(cli, parsed) {
    const tailText = str(parsed, 'tail') ?? 'all';
    if (tailText !== 'all' && !/^\d+$/.test(tailText)) {
      throw new InvalidArgumentError(`invalid value for "tail": ${tailText}`, tailText);
    }
    const records = await containerLogs(cli.context(), parsed.args[0]!, {
      follow: bool(parsed, 'follow'),
      ...(tailText === 'all' ? {} : { tail: Number(tailText) }),
      signal: cli.signal,
    });
    const timestamps = bool(parsed, 'timestamps');
    try {
      for await (const record of records) {
        const out = record.stream === 'stderr' ? cli.stderr : cli.stdout;
        if (timestamps) out.write(`${timestamp(record.timeNs)} `);
        out.write(record.data);
      }
    } catch (err) {
      // Ctrl-C ends `logs -f` quietly, as in Docker.
      if (!cli.signal.aborted) throw err;
    }
    return 0;
  },
};

/** RFC 3339 with nanoseconds, as Docker prints `logs -t`. */
function timestamp(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const nanos = String(ns % 1_000_000_000n).padStart(9, '0');
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, `.${nanos}Z`);
}
