// `build`: runs a Dockerfile step by step, each step an image (as Docker's classic builder does), each
// filesystem step one layer through appendLayer. Fixed timestamps make the result reproducible.

import { lstat, readFile } from 'node:fs/promises';
import { isAbsolute, join, posix } from 'node:path';
import { resolveUser } from '../container/user.ts';
import type { EngineContext } from '../context.ts';
import { BuildError, CancelledError, NotFoundError } from '../errors.ts';
import { appendLayer, mutateConfig } from '../image/mutate.ts';
import { findImagePath, readImageFile } from '../image/read-file.ts';
import type { Digest } from '../oci/digest.ts';
import { shortId } from '../oci/digest.ts';
import type { ContainerConfig, Image } from '../oci/types.ts';
import { pull } from '../pull.ts';
import { familiarName, formatReference, parseReference } from '../reference/reference.ts';
import { loadImage, tagImage } from '../store/images.ts';
import { cacheKey, lookupCache, storeCache } from './cache.ts';
import { copyLayerTar, type DirMeta, findLocalArchive, type Ignored, planCopy } from './copy-layer.ts';
import {
  type CommandForm,
  expandVariables,
  type ParsedInstruction,
  parseDockerfile,
  type Step,
} from './dockerfile.ts';
import { loadDockerignore } from './dockerignore.ts';
import { runStep } from './run-step.ts';
import { tarDigest } from './tar-digest.ts';

/**
 * Layers are stored as plain tars, as Docker keeps local layers and as `commit` does: one hash (the
 * blob digest is the diff_id) and no gzip per step. `push` gzips them with fixed settings, so the same
 * build pushes the same digests.
 */
const LAYER_COMPRESSION = 'none';

export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_SHELL = ['/bin/sh', '-c'];

export interface BuildOptions {
  /** The directory COPY and ADD read from. */
  contextDir: string;
  /** Path of the Dockerfile, relative to the context unless absolute (default `Dockerfile`). */
  dockerfile?: string;
  /** The Dockerfile's text, instead of reading `dockerfile`. */
  dockerfileText?: string;
  tags?: string[];
  buildArgs?: Record<string, string>;
  noCache?: boolean;
  /** Seconds since the epoch for every timestamp (default `$SOURCE_DATE_EPOCH`, else 0). */
  sourceDateEpoch?: number;
}

export type BuildResult = Image & { readonly log: string[] };

/** The fixed time of every `created` and the cap of every mtime in a build. */
export function buildEpoch(opts: Pick<BuildOptions, 'sourceDateEpoch'>): Date {
  const fromEnv = Number(process.env.SOURCE_DATE_EPOCH);
  const seconds =
    opts.sourceDateEpoch ?? (Number.isFinite(fromEnv) && process.env.SOURCE_DATE_EPOCH ? fromEnv : 0);
  return new Date(seconds * 1000);
}

function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.000Z$/, 'Z');
}

/** How the classic builder writes an exec-form or shell-form command into config and history. */
function commandArgs(command: CommandForm, shell: string[]): string[] {
  return command.shell ? [...shell, command.args[0]!] : command.args;
}

interface BuildState {
  image: Image | null;
  /** ARGs declared so far in the stage, with their values. */
  args: Map<string, string>;
  /** ARGs declared before FROM: usable only in FROM and by a redeclaring ARG. */
  globalArgs: Map<string, string>;
  cmdSet: boolean;
}

function configOf(state: BuildState): ContainerConfig {
  return state.image?.config.config ?? { Env: [DEFAULT_PATH_ENV] };
}

/** Variables for expansion: ARGs, then the image's ENV over them, as Docker resolves them. */
function variables(state: BuildState): Map<string, string> {
  const vars = new Map(state.args);
  for (const entry of configOf(state).Env ?? []) {
    const eq = entry.indexOf('=');
    vars.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return vars;
}

function setEnv(env: string[], key: string, value: string): string[] {
  return [...env.filter((e) => e.slice(0, e.indexOf('=')) !== key), `${key}=${value}`];
}

/** Resolves `--chown` against the image's own /etc/passwd and /etc/group. */
async function chownIds(ctx: EngineContext, image: Image | null, spec: string | undefined) {
  if (spec === undefined) return { uid: 0, gid: 0 };
  if (/^\d+(:\d+)?$/.test(spec)) {
    const [uid, gid] = spec.split(':').map(Number);
    return { uid: uid!, gid: gid ?? uid! };
  }
  const passwd = image ? await readImageFile(ctx, image, '/etc/passwd') : undefined;
  const group = image ? await readImageFile(ctx, image, '/etc/group') : undefined;
  try {
    const user = resolveUser(spec.includes(':') ? spec : `${spec}:${spec}`, passwd, group);
    return { uid: user.uid, gid: user.gid };
  } catch {
    const user = resolveUser(spec, passwd, group);
    return { uid: user.uid, gid: user.gid };
  }
}

class Builder {
  readonly log: string[] = [];
  private stepNo = 0;
  private readonly ctx: EngineContext;
  private readonly opts: BuildOptions;
  private readonly total: number;
  private readonly created: string;
  private readonly epoch: Date;
  /** The context's .dockerignore, read once per build. */
  ignored: Ignored = () => false;

  constructor(ctx: EngineContext, opts: BuildOptions, total: number) {
    this.ctx = ctx;
    this.opts = opts;
    this.total = total;
    this.epoch = buildEpoch(opts);
    this.created = rfc3339(this.epoch);
  }

  say(line: string): void {
    this.log.push(line);
    this.ctx.events({ type: 'build.output', step: this.stepNo, data: `${line}\n` });
  }

  begin(instruction: ParsedInstruction, cached = false): void {
    this.stepNo++;
    this.log.push(`Step ${this.stepNo}/${this.total} : ${instruction.text}`);
    this.ctx.events({
      type: 'build.step',
      step: this.stepNo,
      total: this.total,
      instruction: instruction.text,
      cached,
    });
  }

  checkCancelled(): void {
    if (this.ctx.signal?.aborted) throw new CancelledError('build');
  }

  /** Runs `make` unless the cache has the step's result; prints the classic builder's lines. */
  async cached(
    state: BuildState,
    key: string,
    instruction: string,
    make: () => Promise<Image>,
  ): Promise<Image> {
    const parent: Digest | 'scratch' = state.image?.id ?? 'scratch';
    if (!this.opts.noCache) {
      const hit = await lookupCache(this.ctx, key);
      if (hit) {
        const image = await loadImage(this.ctx, hit).catch((err: unknown) => {
          if (err instanceof NotFoundError) return undefined;
          throw err;
        });
        if (image) {
          this.say(' ---> Using cache');
          this.say(` ---> ${shortId(image.id)}`);
          return image;
        }
      }
    }
    const image = await make();
    await storeCache(this.ctx, { key, imageId: image.id, parent, instruction });
    this.say(` ---> ${shortId(image.id)}`);
    return image;
  }

  async from(state: BuildState, step: Extract<Step, { kind: 'FROM' }>): Promise<void> {
    const name = expandVariables(step.image, state.globalArgs);
    if (name === 'scratch') {
      state.image = null;
      return;
    }
    let image: Image;
    try {
      image = await loadImage(this.ctx, name);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      image = await pull(this.ctx, name);
    }
    state.image = image;
    this.say(` ---> ${shortId(image.id)}`);
  }

  async metadata(state: BuildState, instruction: ParsedInstruction): Promise<void> {
    const step = instruction.step;
    const vars = variables(state);
    const config = configOf(state);
    const shell = (config as { Shell?: string[] }).Shell ?? DEFAULT_SHELL;
    let changes: Partial<ContainerConfig> & { Shell?: string[] } = {};
    let text = instruction.text;
    switch (step.kind) {
      case 'ENV': {
        let env = config.Env ?? [];
        const shown: string[] = [];
        for (const [key, raw] of step.pairs) {
          const value = expandVariables(raw, vars);
          vars.set(key, value);
          env = setEnv(env, key, value);
          shown.push(`${key}=${value}`);
        }
        changes = { Env: env };
        text = `ENV ${shown.join(' ')}`;
        break;
      }
      case 'LABEL': {
        const labels = { ...(config.Labels ?? {}) };
        for (const [key, raw] of step.pairs) labels[expandVariables(key, vars)] = expandVariables(raw, vars);
        changes = { Labels: labels };
        break;
      }
      case 'ARG': {
        const value =
          this.opts.buildArgs?.[step.name] ?? state.globalArgs.get(step.name) ?? step.defaultValue;
        if (value !== undefined) state.args.set(step.name, value);
        text = value === undefined ? `ARG ${step.name}` : `ARG ${step.name}=${value}`;
        break;
      }
      case 'WORKDIR': {
        const dir = posix.resolve(config.WorkingDir || '/', expandVariables(step.value, vars));
        changes = { WorkingDir: dir };
        text = `WORKDIR ${dir}`;
        break;
      }
      case 'USER':
        changes = { User: expandVariables(step.value, vars) };
        break;
      case 'STOPSIGNAL':
        changes = { StopSignal: expandVariables(step.value, vars) };
        break;
      case 'EXPOSE': {
        const ports = { ...(config.ExposedPorts ?? {}) };
        for (const raw of step.values) {
          const port = expandVariables(raw, vars);
          if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(port))
            throw new BuildError(`invalid containerPort: ${port}`);
          ports[port.includes('/') ? port.toLowerCase() : `${port}/tcp`] = {};
        }
        changes = { ExposedPorts: ports };
        break;
      }
      case 'VOLUME': {
        const volumes = { ...(config.Volumes ?? {}) };
        for (const v of step.values) volumes[expandVariables(v, vars)] = {};
        changes = { Volumes: volumes };
        break;
      }
      case 'CMD':
        changes = { Cmd: commandArgs(step.command, shell) };
        state.cmdSet = true;
        break;
      case 'ENTRYPOINT':
        // A new ENTRYPOINT drops the base image's CMD, unless this Dockerfile set CMD itself.
        changes = { Entrypoint: commandArgs(step.command, shell), ...(state.cmdSet ? {} : { Cmd: null }) };
        break;
      case 'SHELL':
        changes = { Shell: step.command.args };
        break;
      default:
        throw new BuildError(`unexpected step ${step.kind}`);
    }
    if (state.image === null) changes = { Env: config.Env ?? [DEFAULT_PATH_ENV], ...changes };
    const createdBy = step.kind === 'WORKDIR' ? `/bin/sh -c #(nop) ${text}` : `/bin/sh -c #(nop)  ${text}`;
    const base = state.image;
    state.image = await this.cached(state, cacheKey(base?.id ?? 'scratch', createdBy), createdBy, () =>
      mutateConfig(
        this.ctx,
        base,
        changes,
        { created: this.created, created_by: createdBy },
        { created: this.created },
      ),
    );
  }

  /** A directory `image` already has, with its ids as the container sees them (unshifted). */
  async existingDir(image: Image | null, path: string): Promise<DirMeta | undefined> {
    if (image === null) return undefined;
    const found = await findImagePath(this.ctx, image, path);
    if (found?.kind !== 'directory') return undefined;
    const stats = await lstat(found.hostPath);
    const base = this.ctx.config.usernsBase;
    const unshift = (id: number) => (id >= base && id < base + this.ctx.config.usernsSize ? id - base : id);
    return {
      mode: stats.mode & 0o7777,
      uid: unshift(stats.uid),
      gid: unshift(stats.gid),
      mtime: stats.mtime,
    };
  }

  async copy(state: BuildState, step: Extract<Step, { kind: 'COPY' | 'ADD' }>): Promise<void> {
    const vars = variables(state);
    const config = configOf(state);
    const plan = await planCopy(
      this.opts.contextDir,
      step.sources.map((s) => expandVariables(s, vars)),
      expandVariables(step.dest, vars),
      {
        workdir: config.WorkingDir ?? '/',
        existingDir: (path) => this.existingDir(state.image, path),
        ignored: this.ignored,
      },
    );
    if (step.kind === 'ADD') {
      const archive = await findLocalArchive(plan, this.opts.contextDir);
      if (archive !== undefined) {
        throw new BuildError(
          `ADD ${archive}: Docker would unpack this archive; Layerlab's ADD does not unpack archives: use COPY and RUN tar -x`,
          { input: archive },
        );
      }
    }
    const owner = await chownIds(
      this.ctx,
      state.image,
      step.chown === undefined ? undefined : expandVariables(step.chown, vars),
    );
    const tarOpts = { ...owner, mtime: this.epoch };
    const contentHash = await tarDigest(copyLayerTar(plan, tarOpts));
    // History shows the destination as written, as Docker's does (`in /app/ `).
    const dest = expandVariables(step.dest, vars);
    const createdBy = `/bin/sh -c #(nop) ${step.kind} ${plan.hasDir ? 'dir' : 'file'}:${contentHash.slice(7)} in ${dest} `;
    const base = state.image;
    const changes = base === null ? { Env: [DEFAULT_PATH_ENV] } : {};
    state.image = await this.cached(
      state,
      cacheKey(base?.id ?? 'scratch', createdBy, contentHash),
      createdBy,
      () =>
        appendLayer(this.ctx, base, copyLayerTar(plan, tarOpts), {
          history: { created: this.created, created_by: createdBy },
          created: this.created,
          config: changes,
          compression: LAYER_COMPRESSION,
        }),
    );
  }

  async run(state: BuildState, step: Extract<Step, { kind: 'RUN' }>): Promise<void> {
    const base = state.image;
    if (base === null)
      throw new BuildError('RUN needs a base image with a shell: FROM scratch has no /bin/sh');
    const config = configOf(state);
    const shell = (config as { Shell?: string[] }).Shell ?? DEFAULT_SHELL;
    const argv = commandArgs(step.command, shell);
    // Build args reach RUN as environment, and (like the classic builder) show in its history.
    const argEnv = [...state.args].map(([k, v]) => `${k}=${v}`);
    const shown = argv.join(' ');
    const createdBy = argEnv.length > 0 ? `|${argEnv.length} ${argEnv.join(' ')} ${shown}` : shown;
    // ENV wins over an ARG of the same name.
    const imageEnv = config.Env ?? [DEFAULT_PATH_ENV];
    const envNames = new Set(imageEnv.map((e) => e.slice(0, e.indexOf('='))));
    const env = [
      ...imageEnv,
      ...[...state.args].filter(([k]) => !envNames.has(k)).map(([k, v]) => `${k}=${v}`),
    ];
    state.image = await this.cached(state, cacheKey(base.id, createdBy), createdBy, async () => {
      const result = await runStep(this.ctx, base, {
        argv,
        env,
        user: config.User ?? '',
        workingDir: config.WorkingDir ?? '',
        mtime: this.epoch,
        onStart: (id) => this.say(` ---> Running in ${shortId(id)}`),
        onOutput: (data) => {
          this.log.push(...data.replace(/\n$/, '').split('\n'));
          this.ctx.events({ type: 'build.output', step: this.stepNo, data });
        },
        build: (layerTar) =>
          appendLayer(this.ctx, base, layerTar, {
            history: { created: this.created, created_by: createdBy },
            created: this.created,
            compression: LAYER_COMPRESSION,
          }),
      });
      if (result.exitCode !== 0) {
        throw new BuildError(`The command '${argv.join(' ')}' returned a non-zero code: ${result.exitCode}`, {
          input: argv.join(' '),
        });
      }
      return result.image!;
    });
  }
}

async function readDockerfile(opts: BuildOptions): Promise<string> {
  if (opts.dockerfileText !== undefined) return opts.dockerfileText;
  const name = opts.dockerfile ?? 'Dockerfile';
  const path = isAbsolute(name) ? name : join(opts.contextDir, name);
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new BuildError(
      `unable to prepare context: unable to evaluate symlinks in Dockerfile path: ${name}: no such file`,
      {
        input: name,
        cause: err,
      },
    );
  }
}

/**
 * Builds the Dockerfile in `opts.contextDir`, tags the result, and returns it with the classic
 * builder's log (`Step 1/5 : FROM busybox`, ` ---> 1a2b3c4d5e6f`, `Successfully built …`).
 */
export async function build(ctx: EngineContext, opts: BuildOptions): Promise<BuildResult> {
  const instructions = parseDockerfile(await readDockerfile(opts));
  const tags = (opts.tags ?? []).map((t) => formatReference(parseReference(t)));
  const builder = new Builder(ctx, opts, instructions.length);
  builder.ignored = await loadDockerignore(opts.contextDir);
  const state: BuildState = { image: null, args: new Map(), globalArgs: new Map(), cmdSet: false };
  let seenFrom = false;
  for (const instruction of instructions) {
    builder.checkCancelled();
    builder.begin(instruction);
    const step = instruction.step;
    if (step.kind === 'FROM') {
      seenFrom = true;
      await builder.from(state, step);
    } else if (step.kind === 'ARG' && !seenFrom) {
      const value = opts.buildArgs?.[step.name] ?? step.defaultValue;
      if (value !== undefined) state.globalArgs.set(step.name, value);
    } else if (step.kind === 'RUN') {
      await builder.run(state, step);
    } else if (step.kind === 'COPY' || step.kind === 'ADD') {
      await builder.copy(state, step);
    } else {
      await builder.metadata(state, instruction);
    }
  }
  if (state.image === null) {
    // `FROM scratch` and nothing else: an image with no layers, as Docker makes it.
    state.image = await mutateConfig(
      ctx,
      null,
      { Env: [DEFAULT_PATH_ENV] },
      {},
      { created: rfc3339(buildEpoch(opts)) },
    );
  }
  const image = state.image;
  builder.say(`Successfully built ${shortId(image.id)}`);
  for (const full of tags) {
    await tagImage(ctx, image.id, full);
    builder.say(`Successfully tagged ${familiarName(parseReference(full))}`);
  }
  return { ...image, log: builder.log };
}
