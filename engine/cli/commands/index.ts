// The command table: top-level verbs and the `image`/`container`/`system` groups, each loaded lazily
// so `layerlab images` never loads the build or runtime modules.

import type { Command } from '../cli.ts';

export type Loader = () => Promise<{ command: Command }>;

const pull: Loader = () => import('./pull.ts');
const push: Loader = () => import('./push.ts');
const images: Loader = () => import('./images.ts');
const tag: Loader = () => import('./tag.ts');
const rmi: Loader = () => import('./rmi.ts');
const history: Loader = () => import('./history.ts');
const imagePrune: Loader = () => import('./image-prune.ts');
const imageInspect: Loader = () => import('./image-inspect.ts');
const save: Loader = () => import('./save.ts');
const load: Loader = () => import('./load.ts');
const build: Loader = () => import('./build.ts');
const create: Loader = () => import('./create.ts');
const start: Loader = () => import('./start.ts');
const run: Loader = () => import('./run.ts');
const exec: Loader = () => import('./exec.ts');
const attach: Loader = () => import('./attach.ts');
const stop: Loader = () => import('./stop.ts');
const kill: Loader = () => import('./kill.ts');
const wait: Loader = () => import('./wait.ts');
const restart: Loader = () => import('./restart.ts');
const rm: Loader = () => import('./rm.ts');
const logs: Loader = () => import('./logs.ts');
const ps: Loader = () => import('./ps.ts');
const inspect: Loader = () => import('./inspect.ts');
const containerInspect: Loader = () => import('./container-inspect.ts');
const diff: Loader = () => import('./diff.ts');
const commit: Loader = () => import('./commit.ts');
const containerPrune: Loader = () => import('./container-prune.ts');
const systemDf: Loader = () => import('./system-df.ts');
const systemCheck: Loader = () => import('./system-check.ts');
const info: Loader = () => import('./info.ts');
const version: Loader = () => import('./version.ts');
const cp: Loader = () => import('./cp.ts');
const top: Loader = () => import('./top.ts');
const exportFs: Loader = () => import('./export.ts');
const rename: Loader = () => import('./rename.ts');
const pause: Loader = () => import('./pause.ts');
const unpause: Loader = () => import('./unpause.ts');
const stats: Loader = () => import('./stats.ts');
const port: Loader = () => import('./port.ts');
const systemPrune: Loader = () => import('./system-prune.ts');
const volumeCreate: Loader = () => import('./volume-create.ts');
const volumeInspect: Loader = () => import('./volume-inspect.ts');
const volumeLs: Loader = () => import('./volume-ls.ts');
const volumePrune: Loader = () => import('./volume-prune.ts');
const volumeRm: Loader = () => import('./volume-rm.ts');

export const topLevel: Readonly<Record<string, Loader>> = {
  attach,
  build,
  commit,
  cp,
  create,
  diff,
  exec,
  export: exportFs,
  history,
  images,
  info,
  inspect,
  kill,
  load,
  logs,
  pause,
  port,
  ps,
  pull,
  push,
  rename,
  restart,
  rm,
  rmi,
  run,
  save,
  start,
  stats,
  stop,
  tag,
  top,
  unpause,
  version,
  wait,
};

export const groups: Readonly<Record<string, { description: string; commands: Record<string, Loader> }>> = {
  image: {
    description: 'Manage images',
    commands: {
      build,
      history,
      inspect: imageInspect,
      load,
      ls: images,
      list: images,
      prune: imagePrune,
      pull,
      push,
      rm: rmi,
      remove: rmi,
      save,
      tag,
    },
  },
  container: {
    description: 'Manage containers',
    commands: {
      attach,
      commit,
      cp,
      create,
      diff,
      exec,
      export: exportFs,
      inspect: containerInspect,
      kill,
      logs,
      ls: ps,
      list: ps,
      pause,
      port,
      ps,
      prune: containerPrune,
      rename,
      restart,
      rm,
      remove: rm,
      run,
      start,
      stats,
      stop,
      top,
      unpause,
      wait,
    },
  },
  volume: {
    description: 'Manage volumes',
    commands: {
      create: volumeCreate,
      inspect: volumeInspect,
      ls: volumeLs,
      list: volumeLs,
      prune: volumePrune,
      rm: volumeRm,
      remove: volumeRm,
    },
  },
  system: {
    description: 'Manage Layerlab',
    commands: { check: systemCheck, df: systemDf, info, prune: systemPrune },
  },
};

/** One-line descriptions for the top-level help, in Docker's grouping. */
export const summaries: readonly [string, string][] = [
  ['run', 'Create and run a new container from an image'],
  ['exec', 'Execute a command in a running container'],
  ['ps', 'List containers'],
  ['build', 'Build an image from a Dockerfile'],
  ['pull', 'Download an image from a registry'],
  ['push', 'Upload an image to a registry'],
  ['images', 'List images'],
  ['info', 'Display system-wide information'],
  ['version', 'Show the Layerlab version information'],
  ['attach', 'Attach local standard input, output, and error streams to a running container'],
  ['commit', "Create a new image from a container's changes"],
  ['cp', 'Copy files/folders between a container and the local filesystem'],
  ['create', 'Create a new container'],
  ['diff', "Inspect changes to files or directories on a container's filesystem"],
  ['export', "Export a container's filesystem as a tar archive"],
  ['history', 'Show the history of an image'],
  ['inspect', 'Return low-level information on Layerlab objects'],
  ['kill', 'Kill one or more running containers'],
  ['load', 'Load an image from a tar archive or STDIN'],
  ['logs', 'Fetch the logs of a container'],
  ['pause', 'Pause all processes within one or more containers'],
  ['port', 'List port mappings or a specific mapping for the container'],
  ['rename', 'Rename a container'],
  ['restart', 'Restart one or more containers'],
  ['rm', 'Remove one or more containers'],
  ['rmi', 'Remove one or more images'],
  ['save', 'Save one or more images to a tar archive (streamed to STDOUT by default)'],
  ['start', 'Start one or more stopped containers'],
  ['stats', 'Display a live stream of container(s) resource usage statistics'],
  ['stop', 'Stop one or more running containers'],
  ['tag', 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE'],
  ['top', 'Display the running processes of a container'],
  ['unpause', 'Unpause all processes within one or more containers'],
  ['wait', 'Block until one or more containers stop, then print their exit codes'],
];
