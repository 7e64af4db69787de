// `layerlab top CONTAINER`: the container's processes as host `ps -ef` shows them (host pids and
// uids: the user namespace maps container root to a high host uid), as `docker top` does.
import { resolveContainer } from '../../container/lifecycle.ts';
import { ConflictError } from '../../errors.ts';
import { formatTable } from '../../format/text.ts';
import { containerPids } from '../../host/cgroups.ts';
import { processInfo } from '../../host/processes.ts';
import type { Command } from '../cli.ts';

export const command: Command = {
  spec: {
    name: 'top',
    usage: 'CONTAINER [ps OPTIONS]',
    description: 'Display the running processes of a container',
    minArgs: 1,
    maxArgs: 1,
    aliases: ['container top'],
    flags: [],
  },
  async run(cli, parsed) {
    const record = await resolveContainer(cli.context(), parsed.args[0]!);
    if (record.state.status !== 'running') {
      throw new ConflictError(`container ${record.id} is not running`, parsed.args[0]);
    }
    const now = Date.now();
    const rows = containerPids(record.id)
      .map(processInfo)
      .filter((p) => p !== undefined)
      .sort((a, b) => a.pid - b.pid)
      .map((p) => [
        String(p.uid),
        String(p.pid),
        String(p.ppid),
        '0',
        stime(p.startedAt, now),
        p.tty,
        cpuTime(p.cpuSeconds),
        p.command,
      ]);
    cli.stdout.write(formatTable(['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'], rows));
    return 0;
  },
};

/** ps's STIME: the clock time today, the month and day before. */
function stime(ms: number, now: number): string {
  const d = new Date(ms);
  if (now - ms < 24 * 3_600_000) return d.toISOString().slice(11, 16);
  return `${d.toLocaleString('en', { month: 'short', timeZone: 'UTC' })}${String(d.getUTCDate()).padStart(2, '0')}`;
}

/** ps's TIME: [DD-]HH:MM:SS of CPU. */
function cpuTime(seconds: number): string {
  const s = Math.floor(seconds);
  const hh = String(Math.floor(s / 3600) % 24).padStart(2, '0');
  const mm = String(Math.floor(s / 60) % 60).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  const days = Math.floor(s / 86400);
  return `${days > 0 ? `${days}-` : ''}${hh}:${mm}:${ss}`;
}
