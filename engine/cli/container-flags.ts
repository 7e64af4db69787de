// The flags `create`, `run` and (in part) `exec` share, and how they become the engine's CreateOptions; also the image
// lookup that pulls first, as `docker run` does ("Unable to find image … locally").

import { readFile } from 'node:fs/promises';
import type { CreateOptions } from '../container/lifecycle.ts';
import { InvalidArgumentError, NotFoundError } from '../errors.ts';
import { familiarName, parseReference } from '../reference/reference.ts';
import { loadImage } from '../store/images.ts';
import { parseMountFlag, parseVolumeFlag } from '../volume/mount-spec.ts';
import { bool, type FlagSpec, list, type ParsedArgs, str, UsageError } from './args.ts';
import type { Cli, Environment } from './cli.ts';
import { pullWithProgress } from './pulling.ts';
import { NO_ENV_FILE, NO_NETWORK, NO_PORTS, refuse } from './sandbox.ts';

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
  { name: 'volume', short: 'v', type: 'list', description: 'Bind mount a volume' },
  { name: 'mount', type: 'list', description: 'Attach a filesystem mount to the container' },
  { name: 'env-file', type: 'list', description: 'Read in a file of environment variables' },
  { name: 'hostname', short: 'h', type: 'string', description: 'Container host name' },
  {
    name: 'init',
    type: 'bool',
    description: 'Run an init inside the container that forwards signals and reaps processes',
  },
  {
    name: 'memory',
    short: 'm',
    type: 'string',
    valueName: 'bytes',
    description: "Memory limit (at most the sandbox's own)",
  },
  {
    name: 'cpus',
    type: 'string',
    valueName: 'decimal',
    description: "Number of CPUs (at most the sandbox's own)",
  },
  {
    name: 'publish',
    short: 'p',
    type: 'list',
    description: "Publish a container's port(s) to the host (not offered in this sandbox)",
  },
  {
    name: 'publish-all',
    short: 'P',
    type: 'bool',
    description: 'Publish all exposed ports (not offered in this sandbox)',
  },
  { name: 'network', type: 'string', description: 'Connect a container to a network (only "none" here)' },
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
  const hostname = str(parsed, 'hostname');
  return {
    image: image!,
    cmd,
    env: envOptions(parsed, env),
    tty: bool(parsed, 'tty'),
    openStdin: bool(parsed, 'interactive'),
    autoRemove: bool(parsed, 'rm'),
    labels,
    // `-v` then `--mount`, each in the engine's form (engine/volume/mount-spec.ts).
    mounts: [...list(parsed, 'volume').map(parseVolumeFlag), ...list(parsed, 'mount').map(parseMountFlag)],
    ...(entrypoint !== undefined ? { entrypoint: entrypoint === '' ? [] : [entrypoint] } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(workingDir !== undefined ? { workingDir } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(hostname !== undefined ? { hostname } : {}),
    // Absent stays absent (inspect shows null, as Docker's HostConfig.Init); `--init=false` is false.
    ...(typeof parsed.flags.init === 'boolean' ? { init: parsed.flags.init } : {}),
  };
}

/**
 * createOptions plus what needs the caller: the sandbox's refusals (ports, networks), `--env-file`
 * (host files only where `cli.hostFiles`), and `--memory`/`--cpus` checked against the limits.
 */
export async function containerOptions(
  cli: Cli,
  parsed: ParsedArgs,
  command: string,
): Promise<CreateOptions> {
  if (list(parsed, 'publish').length > 0 || bool(parsed, 'publish-all')) throw refuse(command, NO_PORTS);
  const network = str(parsed, 'network');
  if (network !== undefined && network !== 'none') throw refuse(command, NO_NETWORK);
  const opts = createOptions(parsed, cli.env);
  const files = list(parsed, 'env-file');
  if (files.length > 0) {
    if (!cli.hostFiles) throw refuse(command, NO_ENV_FILE);
    const fromFiles: string[] = [];
    for (const file of files) {
      const text = await readEnvFile(file);
      try {
        fromFiles.push(...parseEnvFile(text, cli.env));
      } catch (err) {
        // As `docker run` reports it: `docker: poorly formatted environment: ….`, status 125.
        if (err instanceof InvalidArgumentError) throw refuse(command, `${err.message}.`);
        throw err;
      }
    }
    // Docker: the files first, then `-e`, so a flag overrides a file.
    opts.env = [...fromFiles, ...(opts.env ?? [])];
  }
  const limits = cli.context().config.limits;
  const memory = str(parsed, 'memory');
  if (memory !== undefined) {
    const bytes = parseMemory(memory);
    if (bytes < 6 * 1024 * 1024) throw refuse(command, 'Minimum memory limit allowed is 6MB');
    if (bytes > limits.memoryBytes) {
      throw refuse(
        command,
        `--memory=${memory} is above this sandbox's limit of ${humanBinary(limits.memoryBytes)} per container: ask for ${humanBinary(limits.memoryBytes)} or less`,
      );
    }
    opts.memoryBytes = bytes;
  }
  const cpus = str(parsed, 'cpus');
  if (cpus !== undefined) {
    const n = Number(cpus);
    if (!/^\d*\.?\d+$/.test(cpus.trim()) || !(n > 0)) {
      throw new UsageError(
        `invalid argument "${cpus}" for "--cpus" flag: failed to parse ${cpus} as a rational number`,
        command,
      );
    }
    if (n > limits.cpus) {
      throw refuse(
        command,
        `--cpus=${cpus} is above this sandbox's limit of ${limits.cpus} CPU${limits.cpus === 1 ? '' : 's'} per container: ask for ${limits.cpus} or less`,
      );
    }
    opts.cpus = n;
  }
  return opts;
}

/** go-units RAMInBytes: `512m`, `1g`, `1.5GiB`, a plain number of bytes; binary multiples. */
export function parseMemory(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp])?(i?b)?$/i.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`invalid size: '${text}'`, text);
  const power = m[2] ? 'kmgtp'.indexOf(m[2].toLowerCase()) + 1 : 0;
  return Math.floor(Number(m[1]) * 1024 ** power);
}

function humanBinary(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number(value.toFixed(2))}${units[unit]}`;
}

async function readEnvFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(
      `open ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`,
      path,
    );
  }
}

/**
 * Docker's env file: one `NAME=value` a line (the value taken literally, no quotes removed), `#`
 * comments and blank lines skipped, a bare `NAME` copied from the caller's environment if set.
 */
export function parseEnvFile(text: string, env: Environment): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const name = eq === -1 ? line : line.slice(0, eq);
    // docker/cli opts/file.go, its ErrBadKey's wording.
    if (/\s/.test(name)) {
      throw new InvalidArgumentError(
        `poorly formatted environment: variable '${name}' contains whitespaces`,
        raw,
      );
    }
    if (name === '') {
      throw new InvalidArgumentError(`poorly formatted environment: no variable name on line '${line}'`, raw);
    }
    if (eq !== -1) out.push(line);
    else if (Object.hasOwn(env, name) && env[name] !== undefined) out.push(`${name}=${env[name]}`);
  }
  return out;
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
