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

export const topLevel: Readonly<Record<string, Loader>> = {
  attach,
  build,
  commit,
  create,
  diff,
  exec,
  history,
  images,
  info,
  inspect,
  kill,
  load,
  logs,
  ps,
  pull,
  push,
  restart,
  rm,
  rmi,
  run,
  save,
  start,
  stop,
  tag,
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
      create,
      diff,
      exec,
      inspect: containerInspect,
      kill,
      logs,
      ls: ps,
      list: ps,
      ps,
      prune: containerPrune,
      restart,
      rm,
      remove: rm,
      run,
      start,
      stop,
      wait,
    },
  },
  system: {
    description: 'Manage Layerlab',
    commands: { check: systemCheck, df: systemDf, info },
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
  ['create', 'Create a new container'],
  ['diff', "Inspect changes to files or directories on a container's filesystem"],
  ['history', 'Show the history of an image'],
  ['inspect', 'Return low-level information on Layerlab objects'],
  ['kill', 'Kill one or more running containers'],
  ['load', 'Load an image from a tar archive or STDIN'],
  ['logs', 'Fetch the logs of a container'],
  ['restart', 'Restart one or more containers'],
  ['rm', 'Remove one or more containers'],
  ['rmi', 'Remove one or more images'],
  ['save', 'Save one or more images to a tar archive (streamed to STDOUT by default)'],
  ['start', 'Start one or more stopped containers'],
  ['stop', 'Stop one or more running containers'],
  ['tag', 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE'],
  ['wait', 'Block until one or more containers stop, then print their exit codes'],
];
