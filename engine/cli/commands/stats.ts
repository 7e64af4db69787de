// `layerlab stats [CONTAINER...]`: CPU, memory, block I/O and pids from each container's cgroups, as
// `docker stats` shows them. The CPU share is measured over one second between two readings;
// streaming repeats that until Ctrl-C (on a terminal) unless `--no-stream`.

import { setTimeout as sleep } from 'node:timers/promises';
import { resolveContainer } from '../../container/lifecycle.ts';
import { type ContainerRow, listContainers } from '../../container/views.ts';
import { humanSize } from '../../format/text.ts';
import { type CgroupUsage, readCgroupUsage } from '../../host/cgroups.ts';
import { bool, str } from '../args.ts';
import type { Cli, Command } from '../cli.ts';
import { LIST_FORMAT_FLAG } from '../format-flags.ts';
import { formatList, type ListFormat, type RowContext } from '../formatter.ts';

export const STATS_FORMAT: ListFormat = {
  defaultTable:
    'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}',
  headers: {
    Container: 'CONTAINER',
    ID: 'CONTAINER ID',
    Name: 'NAME',
    CPUPerc: 'CPU %',
    MemUsage: 'MEM USAGE / LIMIT',
    MemPerc: 'MEM %',
    NetIO: 'NET I/O',
    BlockIO: 'BLOCK I/O',
    PIDs: 'PIDS',
  },
};

const SAMPLE_MS = 1000;

export const command: Command = {
  spec: {
    name: 'stats',
    usage: '[OPTIONS] [CONTAINER...]',
    description: 'Display a live stream of container(s) resource usage statistics',
    aliases: ['container stats'],
    flags: [
      {
        name: 'all',
        short: 'a',
        type: 'bool',
        description: 'Show all containers (default shows just running)',
      },
      LIST_FORMAT_FLAG,
      {
        name: 'no-stream',
        type: 'bool',
        description: 'Disable streaming stats and only pull the first result',
      },
      { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
    ],
  },
  async run(cli, parsed) {
    const ctx = cli.context();
    const named = parsed.args.length > 0;
    const rows: Pick<ContainerRow, 'id' | 'name' | 'status'>[] = named
      ? await Promise.all(
          parsed.args.map((a) => resolveContainer(ctx, a).then((r) => ({ ...r, status: r.state.status }))),
        )
      : await listContainers(ctx, { all: bool(parsed, 'all') });
    const noTrunc = bool(parsed, 'no-trunc');
    // Without a terminal Docker streams too; here a pipe or the `$(…)` of a shell gets one reading.
    const stream = !bool(parsed, 'no-stream') && cli.stdout.isTTY === true;
    const format = str(parsed, 'format');
    for (;;) {
      const contexts = await sample(cli, rows, noTrunc);
      const text = formatList(format, contexts, STATS_FORMAT);
      // A terminal is cleared between readings, as Docker redraws its table.
      cli.stdout.write(stream ? `\x1b[2J\x1b[H${text}` : text);
      if (!stream || cli.signal.aborted) return 0;
      await pause(cli.signal);
      if (cli.signal.aborted) return 0;
    }
  },
};

/** Two readings a second apart: the CPU share is the CPU time used between them over the wall time. */
async function sample(
  cli: Cli,
  rows: readonly Pick<ContainerRow, 'id' | 'name' | 'status'>[],
  noTrunc: boolean,
): Promise<RowContext[]> {
  const first = new Map(rows.map((r) => [r.id, readCgroupUsage(r.id)]));
  const started = process.hrtime.bigint();
  if (rows.some((r) => r.status === 'running')) {
    await pause(cli.signal);
  }
  const wallNs = Number(process.hrtime.bigint() - started);
  const limit = cli.context().config.limits.memoryBytes;
  return rows.map((row) => {
    const running = row.status === 'running';
    const usage: CgroupUsage = running
      ? readCgroupUsage(row.id)
      : { cpuNs: 0, memoryBytes: 0, memoryLimit: 0, pids: 0, blockRead: 0, blockWrite: 0 };
    const before = first.get(row.id)!;
    const cpu = running && wallNs > 0 ? (100 * Math.max(0, usage.cpuNs - before.cpuNs)) / wallNs : 0;
    // The cgroup's own limit, unless unset (a huge number): then the engine's.
    const memLimit = usage.memoryLimit > 0 && usage.memoryLimit < 2 ** 60 ? usage.memoryLimit : limit;
    return {
      Container: noTrunc ? row.id : row.id.slice(0, 12),
      ID: noTrunc ? row.id : row.id.slice(0, 12),
      Name: row.name,
      CPUPerc: running ? `${cpu.toFixed(2)}%` : '--',
      MemUsage: running ? `${binarySize(usage.memoryBytes)} / ${binarySize(memLimit)}` : '-- / --',
      MemPerc: running ? `${((100 * usage.memoryBytes) / memLimit).toFixed(2)}%` : '--',
      // Containers have no network interface here but loopback: nothing goes in or out.
      NetIO: running ? '0B / 0B' : '--',
      BlockIO: running ? `${humanSize(usage.blockRead, 3)} / ${humanSize(usage.blockWrite, 3)}` : '--',
      PIDs: running ? String(usage.pids) : '--',
    };
  });
}

/** go-units BytesSize: binary units, `%.4g` (`1.234MiB`, `256MiB`). */
export function binarySize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number(value.toPrecision(4))}${units[unit]}`;
}

/** SAMPLE_MS, or less when the command is interrupted (Ctrl-C ends the wait, not the output). */
function pause(signal: AbortSignal): Promise<void> {
  return sleep(SAMPLE_MS, undefined, { signal }).catch(() => {});
}
