// `layerlab info`: counts, storage, runtime and mirrors, laid out like `docker info`. In the browser
// terminal (`cli.hideHostPaths`) the state root and the runtime's path are not shown.
import { release } from 'node:os';
import { readAllRecords } from '../../container/record.ts';
import { detectRuntime } from '../../runtime/detect.ts';
import { listImages } from '../../store/images.ts';
import type { Command } from '../cli.ts';
import { HIDDEN_PATH, packageVersion } from './version.ts';

export const command: Command = {
  spec: { name: 'info', usage: '', description: 'Display system-wide information', maxArgs: 0, flags: [] },
  async run(cli) {
    const ctx = cli.context();
    const containers = await readAllRecords(ctx);
    const count = (status: string) => containers.filter((c) => c.state.status === status).length;
    const images = await listImages(ctx);
    const runtime = await detectRuntime(ctx).then(
      (r) => (cli.hideHostPaths ? `${r.name} ${r.version}` : `${r.name} ${r.version} (${r.path})`),
      (err: Error) => `unavailable: ${err.message}`,
    );
    const mirrors = Object.entries(ctx.config.mirrors).flatMap(([host, urls]) =>
      urls.map((u) => `  ${host}: ${u}`),
    );
    cli.out(
      [
        'Client:',
        ` Version:    ${packageVersion()}`,
        '',
        'Server:',
        ` Containers: ${containers.length}`,
        `  Running: ${count('running')}`,
        '  Paused: 0',
        `  Stopped: ${count('exited') + count('created')}`,
        ` Images: ${images.length}`,
        ' Storage Driver: overlayfs',
        ` Default Runtime: ${runtime}`,
        ` User Namespace: container root = host uid ${ctx.config.usernsBase} (${ctx.config.usernsSize} ids)`,
        ` Kernel Version: ${release()}`,
        ` Layerlab Root Dir: ${cli.hideHostPaths ? HIDDEN_PATH : ctx.root}`,
        ...(mirrors.length > 0 ? [' Registry Mirrors:', ...mirrors] : []),
      ].join('\n'),
    );
    return 0;
  },
};
