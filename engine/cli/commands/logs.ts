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
      {
        name: 'since',
        type: 'string',
        description:
          'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
      },
      { name: 'timestamps', short: 't', type: 'bool', description: 'Show timestamps' },
    ],
  },
  async run(cli, parsed) {
    const tailText = str(parsed, 'tail') ?? 'all';
    if (tailText !== 'all' && !/^\d+$/.test(tailText)) {
      throw new InvalidArgumentError(`invalid value for "tail": ${tailText}`, tailText);
    }
    const sinceText = str(parsed, 'since');
    const since = sinceText === undefined ? undefined : parseSince(sinceText, Date.now());
    const records = await containerLogs(cli.context(), parsed.args[0]!, {
      follow: bool(parsed, 'follow'),
      ...(since ? { since } : {}),
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

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Docker's `--since`: a Go duration before now (`42m`, `1h30m`, `10s`), Unix seconds (`1700000000`,
 * with optional fraction), or an RFC 3339 date or date-time (`2024-01-02T13:23:37Z`, `2024-01-02`).
 */
export function parseSince(text: string, now: number): Date {
  const value = text.trim();
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(value)) {
    let ms = 0;
    for (const [, n, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
      ms += Number(n) * DURATION_UNITS[unit!]!;
    }
    return new Date(now - ms);
  }
  if (/^\d+(\.\d+)?$/.test(value)) return new Date(Number(value) * 1000);
  const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (!Number.isNaN(t) && /^\d{4}-\d{2}-\d{2}/.test(value)) return new Date(t);
  throw new InvalidArgumentError(
    `invalid value for "since": failed to parse value as time or duration: "${text}"`,
    text,
  );
}
