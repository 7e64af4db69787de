// The flags `create`, `run` and (in part) `exec` share, and how they become the engine's CreateOptions; also the image
// lookup that pulls first, as `docker run` does ("Unable to find image … locally").

import type { CreateOptions } from '../container/lifecycle.ts';
import { NotFoundError } from '../errors.ts';
import { familiarName, parseReference } from '../reference/reference.ts';
import { loadImage } from '../store/images.ts';
import { bool, type FlagSpec, list, type ParsedArgs, str } from './args.ts';
import type { Cli, Environment } from './cli.ts';
import { pullWithProgress } from './pulling.ts';

/** How the process runs (`-i`, `-t`, `-e`, `-w`, `-u`): shared by `create`/`run` and `exec`. */
export const PROCESS_FLAGS: readonly FlagSpec[] = [
  { name: 'interactive', short: 'i', type: 'bool', description: 'Keep STDIN open even if not attached' },
  { name: 'tty', short: 't', type: 'bool', description: 'Allocate a pseudo-TTY' },
  { name: 'env', short: 'e', type: 'list', description: 'Set environment variables' },
  { name: 'workdir', short: 'w', type: 'string', description: 'Working directory inside the container' },
  {
    name: 'user',
    short: 'u',
    type: 'string',
    description: 'Username or UID (format: "<name|uid>[:<group|gid>]")',
  },
];

export const CREATE_FLAGS: readonly FlagSpec[] = [
  {
    name: 'rm',
    type: 'bool',
    description: 'Automatically remove the container and its associated anonymous volumes when it exits',
  },
  { name: 'name', type: 'string', description: 'Assign a name to the container' },
  ...PROCESS_FLAGS,
  { name: 'entrypoint', type: 'string', description: 'Overwrite the default ENTRYPOINT of the image' },
  { name: 'label', short: 'l', type: 'list', description: 'Set meta data on a container' },
];

/** CreateOptions from `[OPTIONS] IMAGE [COMMAND] [ARG...]`; `env` is the caller's (for `-e NAME`). */
export function createOptions(parsed: ParsedArgs, env: Environment): CreateOptions {
  const [image, ...cmd] = parsed.args;
  const labels: Record<string, string> = {};
  for (const label of list(parsed, 'label')) {
    const eq = label.indexOf('=');
    labels[eq === -1 ? label : label.slice(0, eq)] = eq === -1 ? '' : label.slice(eq + 1);
  }
  const entrypoint = str(parsed, 'entrypoint');
  const name = str(parsed, 'name');
  const workingDir = str(parsed, 'workdir');
  const user = str(parsed, 'user');
  return {
    image: image!,
    cmd,
    env: envOptions(parsed, env),
    tty: bool(parsed, 'tty'),
    openStdin: bool(parsed, 'interactive'),
    autoRemove: bool(parsed, 'rm'),
    labels,
    ...(entrypoint !== undefined ? { entrypoint: entrypoint === '' ? [] : [entrypoint] } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(workingDir !== undefined ? { workingDir } : {}),
    ...(user !== undefined ? { user } : {}),
  };
}

/**
 * The `-e` entries as the container gets them. Docker's `-e NAME` (no `=`) copies NAME from the
 * caller's environment — the shell that typed the command, never this process's own — and drops
 * NAME when the caller has not set it.
 */
export function envOptions(parsed: ParsedArgs, env: Environment): string[] {
  return list(parsed, 'env').flatMap((entry) => {
    if (entry.includes('=')) return [entry];
    const value = Object.hasOwn(env, entry) ? env[entry] : undefined;
    return value === undefined ? [] : [`${entry}=${value}`];
  });
}

/** Makes sure the image is in the store, pulling it (progress on stderr) when it is not. */
export async function ensureImage(cli: Cli, image: string): Promise<void> {
  try {
    await loadImage(cli.context(), image);
    return;
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    // An id prefix that is not there cannot be pulled: report it as is.
    if (/^(sha256:)?[0-9a-f]{12,64}$/.test(image)) throw err;
  }
  cli.err(`Unable to find image '${familiarName(parseReference(image))}' locally`);
  await pullWithProgress(cli, image, cli.stderr);
}
