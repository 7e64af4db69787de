// The full `layerlab` command: the engine's CLI with the server's `serve` added, composed here so
// that data flows one way (server → engine) and the engine never imports the server.

import { type ExtraCommand, runProcess } from '../engine/cli/main.ts';

export const serverCommands: readonly ExtraCommand[] = [
  {
    name: 'serve',
    summary: 'Start the Layerlab server (the lessons site)',
    loader: () => import('./serve-command.ts'),
  },
];

export function runLayerlab(): Promise<void> {
  return runProcess(serverCommands);
}

/**
 * The resident engine for `root` (engine/daemon/), with the same commands as `layerlab`; server/bin.js
 * starts it for `--engine-daemon`. Loaded on demand: a CLI command never pays for it.
 */
export async function runLayerlabDaemon(
  root: string,
  options: { idleMs?: number; current(): boolean; log?: (line: string) => void },
): Promise<void> {
  const { runEngineDaemon } = await import('../engine/daemon/daemon.ts');
  await runEngineDaemon({ root, commands: serverCommands, ...options });
}
