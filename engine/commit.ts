// `docker commit`: a container's writable layer (its overlay upper dir as an OCI tar) appended to its
// image, with the container's config and Dockerfile-style `--change` lines as the new image config.

import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { resolveContainer } from './container/lifecycle.ts';
import { commitFreezeMarker } from './container/pause.ts';
import { containerDir } from './container/state.ts';
import type { EngineContext } from './context.ts';
import { InvalidArgumentError, RuntimeError } from './errors.ts';
import { isFrozen } from './host/cgroups.ts';
import { appendLayer } from './image/mutate.ts';
import { tarUpper } from './layer/upper-tar.ts';
import type { ContainerConfig, Image } from './oci/types.ts';
import { formatReference, parseReference } from './reference/reference.ts';
import { detectRuntime, runtimeCommand } from './runtime/detect.ts';
import { rootfsPaths } from './runtime/overlay.ts';
import { loadImage } from './store/images.ts';

export interface CommitOptions {
  /** `name[:tag]`; the image is left untagged without one, as in Docker. */
  repoTag?: string;
  /** `-m`: the history entry's comment. */
  message?: string;
  /** `-a`. */
  author?: string;
  /** `-c`: `CMD [...]`, `ENTRYPOINT`, `ENV A=b`, `WORKDIR`, `USER`, `LABEL`, `EXPOSE`, `STOPSIGNAL`. */
  changes?: string[];
  /** Clamp the layer's mtimes (reproducible builds). */
  mtime?: Date;
  /** Freeze a running container while its layer is read, as Docker does (default true). */
  pause?: boolean;
}

/**
 * Commits the container: its upper dir becomes one new layer on top of the image's, which the new
 * image shares with its parent; the config starts from the container's own (Cmd, Env, … as run).
 */
export async function commit(ctx: EngineContext, idOrName: string, opts: CommitOptions = {}): Promise<Image> {
  const record = await resolveContainer(ctx, idOrName);
  const parent = await loadImage(ctx, record.imageId);
  const tag = opts.repoTag ? formatReference(parseReference(opts.repoTag)) : undefined;
  let config: Partial<ContainerConfig> = {
    Env: record.config.env,
    Cmd: record.config.cmd,
    Entrypoint: record.config.entrypoint,
    WorkingDir: record.config.workingDir,
    User: record.config.user,
    Labels: Object.keys(record.config.labels).length > 0 ? record.config.labels : null,
  };
  if (record.config.stopSignal) config.StopSignal = record.config.stopSignal;
  for (const change of opts.changes ?? []) config = applyChange(config, change);

  const upper = rootfsPaths(containerDir(ctx, record.id)).upper;
  // A file that grows while it is being written into the tar would break the archive: freeze the
  // container's processes (the runtime's pause, the freezer cgroup) until the layer is stored.
  // Already paused by `docker pause`: stays frozen, and stays paused afterwards.
  const paused = opts.pause !== false && record.state.status === 'running' && !isFrozen(record.id);
  if (paused) {
    writeFileSync(commitFreezeMarker(ctx, record.id), '');
    await runtimeVerb(ctx, 'pause', record.id);
  }
  try {
    const layer = tarUpper(ctx, upper, opts.mtime ? { mtime: opts.mtime } : {});
    return await appendLayer(ctx, parent, layer, {
      history: {
        created_by: [record.path, ...record.args].join(' '),
        ...(opts.message ? { comment: opts.message } : {}),
        ...(opts.author ? { author: opts.author } : {}),
      },
      config,
      // Stored as a plain tar like Docker's local layers; push compresses it. Unpacked at once, as
      // Docker's graph driver holds a committed layer, so `history`, `images` and the pictures size
      // it by its files from the start (not by its tar until a container first uses it).
      compression: 'none',
      ...(opts.author ? { author: opts.author } : {}),
      ...(tag ? { tag } : {}),
    });
  } finally {
    if (paused) {
      await runtimeVerb(ctx, 'resume', record.id);
      rmSync(commitFreezeMarker(ctx, record.id), { force: true });
    }
  }
}

async function runtimeVerb(ctx: EngineContext, verb: 'pause' | 'resume', id: string): Promise<void> {
  const [command, ...args] = runtimeCommand(ctx, await detectRuntime(ctx));
  try {
    await execFileAsync(command!, [...args, verb, id], { timeout: 30_000 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new RuntimeError(`commit: ${verb} ${id.slice(0, 12)}: ${stderr || (err as Error).message}`, {
      input: id,
      cause: err,
    });
  }
}

const execFileAsync = promisify(execFile);

const ALLOWED = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'STOPSIGNAL', 'USER', 'WORKDIR', 'VOLUME'];

/** Applies one Dockerfile-style change line to a config (pure). */
export function applyChange(config: Partial<ContainerConfig>, line: string): Partial<ContainerConfig> {
  const trimmed = line.trim();
  const space = trimmed.search(/\s/);
  const instruction = (space === -1 ? trimmed : trimmed.slice(0, space)).toUpperCase();
  const rest = space === -1 ? '' : trimmed.slice(space).trim();
  if (!ALLOWED.includes(instruction)) {
    throw new InvalidArgumentError(`${instruction} is not a valid change command`, line);
  }
  const next: Partial<ContainerConfig> = { ...config };
  switch (instruction) {
    case 'CMD':
      next.Cmd = commandForm(rest, line);
      break;
    case 'ENTRYPOINT':
      next.Entrypoint = commandForm(rest, line);
      break;
    case 'ENV': {
      const env = new Map((config.Env ?? []).map((e) => [e.split('=', 1)[0]!, e]));
      for (const [key, value] of keyValues(rest, line, true)) env.set(key, `${key}=${value}`);
      next.Env = [...env.values()];
      break;
    }
    case 'LABEL':
      next.Labels = { ...(config.Labels ?? {}), ...Object.fromEntries(keyValues(rest, line, false)) };
      break;
    case 'EXPOSE': {
      const ports = { ...(config.ExposedPorts ?? {}) };
      for (const port of rest.split(/\s+/).filter(Boolean))
        ports[port.includes('/') ? port : `${port}/tcp`] = {};
      next.ExposedPorts = ports;
      break;
    }
    case 'VOLUME': {
      const volumes = { ...(config.Volumes ?? {}) };
      const paths = rest.startsWith('[')
        ? (parseJsonArray(rest, line) ?? [])
        : rest.split(/\s+/).filter(Boolean);
      for (const path of paths) volumes[path] = {};
      next.Volumes = volumes;
      break;
    }
    case 'STOPSIGNAL':
      next.StopSignal = rest;
      break;
    case 'USER':
      next.User = rest;
      break;
    case 'WORKDIR': {
      const base = config.WorkingDir || '/';
      next.WorkingDir = rest.startsWith('/') ? rest : `${base.replace(/\/$/, '')}/${rest}`;
      break;
    }
  }
  return next;
}

/** `["a","b"]` (exec form) or `a b` (shell form: `/bin/sh -c "a b"`). */
function commandForm(rest: string, line: string): string[] {
  const json = rest.startsWith('[') ? parseJsonArray(rest, line) : undefined;
  return json ?? ['/bin/sh', '-c', rest];
}

function parseJsonArray(text: string, line: string): string[] | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
  } catch {
    // Not JSON: Docker falls back to the shell form.
    return undefined;
  }
  throw new InvalidArgumentError(`${line}: expected a JSON array of strings`, line);
}

/** `A=b "C=d e"` pairs, or (ENV only) the legacy `A b c` form. */
function keyValues(rest: string, line: string, legacy: boolean): [string, string][] {
  const words = splitWords(rest);
  if (words.length === 0) throw new InvalidArgumentError(`${line}: needs at least one argument`, line);
  if (legacy && !words[0]!.includes('=')) {
    const space = rest.search(/\s/);
    if (space === -1) throw new InvalidArgumentError(`${line}: ENV needs a value`, line);
    return [[rest.slice(0, space), rest.slice(space).trim()]];
  }
  return words.map((word) => {
    const eq = word.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`${line}: ${word}: expected key=value`, line);
    return [word.slice(0, eq), word.slice(eq + 1)];
  });
}

/** Splits on spaces, honouring double and single quotes and backslash escapes. */
function splitWords(text: string): string[] {
  const words: string[] = [];
  let current = '';
  let quote: string | undefined;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < text.length) current += text[++i];
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < text.length) {
      current += text[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}
