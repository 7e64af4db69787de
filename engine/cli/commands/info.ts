// `layerlab info`: counts, storage, runtime and mirrors, laid out like `docker info`, or Docker's
// info structure through `--format`. In the browser terminal (`cli.hideHostPaths`) the state root
// and the runtime's path are not shown.
import { cpus, release, totalmem } from 'node:os';
import { readAllRecords } from '../../container/record.ts';
import { reconcile } from '../../container/state.ts';
import { isFrozen } from '../../host/cgroups.ts';
import { detectRuntime } from '../../runtime/detect.ts';
import { listImages } from '../../store/images.ts';
import { str } from '../args.ts';
import type { Command } from '../cli.ts';
import { INSPECT_FORMAT_FLAG } from '../format-flags.ts';
import { parseTemplate } from '../template.ts';
import { HIDDEN_PATH, packageVersion } from './version.ts';

export const command: Command = {
  spec: {
    name: 'info',
    usage: '[OPTIONS]',
    description: 'Display system-wide information',
    maxArgs: 0,
    flags: [INSPECT_FORMAT_FLAG],
  },
  async run(cli, parsed) {
    const ctx = cli.context();
    const containers = await Promise.all((await readAllRecords(ctx)).map((r) => reconcile(ctx, r)));
    const paused = containers.filter((c) => c.state.status === 'running' && isFrozen(c.id)).length;
    const running = containers.filter((c) => c.state.status === 'running').length - paused;
    const stopped = containers.length - running - paused;
    const images = await listImages(ctx);
    const detected = await detectRuntime(ctx).then(
      (r) => ({
        name: r.name,
        text: cli.hideHostPaths ? `${r.name} ${r.version}` : `${r.name} ${r.version} (${r.path})`,
      }),
      (err: Error) => ({ name: 'unavailable', text: `unavailable: ${err.message}` }),
    );
    const rootDir = cli.hideHostPaths ? HIDDEN_PATH : ctx.root;
    const format = str(parsed, 'format');
    if (format) {
      const value = {
        ID: '',
        Containers: containers.length,
        ContainersRunning: running,
        ContainersPaused: paused,
        ContainersStopped: stopped,
        Images: images.length,
        Driver: 'overlayfs',
        LayerlabRootDir: rootDir,
        KernelVersion: release(),
        OperatingSystem: 'Layerlab',
        OSType: process.platform,
        Architecture: process.arch === 'x64' ? 'x86_64' : process.arch,
        NCPU: cpus().length,
        MemTotal: totalmem(),
        ServerVersion: packageVersion(),
        DefaultRuntime: detected.name,
        RegistryConfig: { Mirrors: Object.values(ctx.config.mirrors).flat() },
        ClientInfo: { Version: packageVersion(), Context: 'default', Debug: cli.debug },
      };
      const template = format.trim() === 'json' ? '{{json .}}' : format;
      cli.stdout.write(`${parseTemplate(template).execute(value)}\n`);
      return 0;
    }
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
        `  Running: ${running}`,
        `  Paused: ${paused}`,
        `  Stopped: ${stopped}`,
        ` Images: ${images.length}`,
        ` Server Version: ${packageVersion()}`,
        ' Storage Driver: overlayfs',
        ` Default Runtime: ${detected.text}`,
        ` User Namespace: container root = host uid ${ctx.config.usernsBase} (${ctx.config.usernsSize} ids)`,
        ` Kernel Version: ${release()}`,
        ` Layerlab Root Dir: ${rootDir}`,
        ...(mirrors.length > 0 ? [' Registry Mirrors:', ...mirrors] : []),
      ].join('\n'),
    );
    return 0;
  },
};
