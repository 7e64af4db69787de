// `layerlab pause`/`unpause CONTAINER...`: freeze or thaw every process of running containers.
import { setPaused } from '../../container/pause.ts';
import type { Command } from '../cli.ts';
import { forEachTarget } from '../targets.ts';

export function pauseCommand(name: 'pause' | 'unpause'): Command {
  const paused = name === 'pause';
  return {
    spec: {
      name,
      usage: 'CONTAINER [CONTAINER...]',
      description: paused
        ? 'Pause all processes within one or more containers'
        : 'Unpause all processes within one or more containers',
      minArgs: 1,
      aliases: [`container ${name}`],
      flags: [],
    },
    async run(cli, parsed) {
      return forEachTarget(cli, parsed.args, async (target) => {
        await setPaused(cli.context(), target, paused);
        return target;
      });
    },
  };
}

export const command: Command = pauseCommand('pause');
