// How Docker turns an image config and `run` options into the process a container runs: Entrypoint
// and Cmd, the environment with its PATH default, the working directory. Pure functions.

import { InvalidArgumentError } from '../errors.ts';
import type { ContainerConfig } from '../oci/types.ts';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ProcessOverrides {
  /** `run IMAGE cmd…`: replaces the image's Cmd. Empty or undefined keeps it. */
  cmd?: string[];
  /** `--entrypoint`: replaces the image's Entrypoint and drops its Cmd (unless `cmd` is given). */
  entrypoint?: string[];
  /** `-e A=b`: added to / overriding the image's Env by name. */
  env?: string[];
  workingDir?: string;
  user?: string;
}

export interface MergedProcess {
  entrypoint: string[] | null;
  cmd: string[] | null;
  env: string[];
  workingDir: string;
  user: string;
}

/** Docker's merge of user config over image config (daemon `merge` + `setEntrypointAndArgs`). */
export function mergeProcess(image: ContainerConfig | undefined, opts: ProcessOverrides): MergedProcess {
  const userCmd = opts.cmd && opts.cmd.length > 0 ? [...opts.cmd] : null;
  let entrypoint: string[] | null;
  let cmd: string[] | null;
  if (opts.entrypoint !== undefined) {
    // `--entrypoint ""` resets the entrypoint; either way the image's Cmd no longer applies.
    entrypoint =
      opts.entrypoint.length === 0 || (opts.entrypoint.length === 1 && opts.entrypoint[0] === '')
        ? null
        : [...opts.entrypoint];
    cmd = userCmd;
  } else {
    entrypoint = image?.Entrypoint && image.Entrypoint.length > 0 ? [...image.Entrypoint] : null;
    cmd = userCmd ?? (image?.Cmd && image.Cmd.length > 0 ? [...image.Cmd] : null);
  }
  return {
    entrypoint,
    cmd,
    env: mergeEnv(image?.Env ?? [], opts.env ?? []),
    workingDir: opts.workingDir || image?.WorkingDir || '',
    user: opts.user ?? image?.User ?? '',
  };
}

/** Image env, then the user's by name (last wins), with Docker's PATH default when none is set. */
export function mergeEnv(base: readonly string[], overrides: readonly string[]): string[] {
  const env = new Map<string, string>();
  for (const entry of [...base, ...overrides]) {
    const eq = entry.indexOf('=');
    const key = eq === -1 ? entry : entry.slice(0, eq);
    if (key === '') throw new InvalidArgumentError(`invalid environment variable: ${entry}`, entry);
    env.set(key, entry);
  }
  if (!env.has('PATH')) env.set('PATH', `PATH=${DEFAULT_PATH}`);
  return [...env.values()];
}

/** The argv: entrypoint + cmd. Docker refuses to create a container with neither. */
export function processArgs(merged: Pick<MergedProcess, 'entrypoint' | 'cmd'>): string[] {
  const argv = [...(merged.entrypoint ?? []), ...(merged.cmd ?? [])];
  if (argv.length === 0) throw new InvalidArgumentError('No command specified');
  return argv;
}

/** Adds HOSTNAME, HOME and (for a tty) TERM the way Docker does at start, without overriding. */
export function runtimeEnv(
  env: readonly string[],
  extra: { hostname: string; home: string; tty: boolean },
): string[] {
  const keys = new Set(env.map((e) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e)));
  const out = [...env];
  if (!keys.has('HOSTNAME')) out.unshift(`HOSTNAME=${extra.hostname}`);
  if (extra.tty && !keys.has('TERM')) out.push('TERM=xterm');
  if (!keys.has('HOME')) out.push(`HOME=${extra.home}`);
  return out;
}
