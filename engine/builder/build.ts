// `build`: runs a Dockerfile step by step, each step an image (as Docker's classic builder does), each
// filesystem step one layer through appendLayer. Times are the real ones, or SOURCE_DATE_EPOCH's
// (clamped as BuildKit's rewrite-timestamp does) for a reproducible result.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, posix } from 'node:path';
import { resolveUser } from '../container/user.ts';
import type { EngineContext } from '../context.ts';
import { BuildError, CancelledError, NotFoundError } from '../errors.ts';
import type { BuildVertex } from '../events.ts';
import { appendLayer, hostArchitecture, mutateConfig } from '../image/mutate.ts';
import { findImagePath, readImageFile } from '../image/read-file.ts';
import type { Digest } from '../oci/digest.ts';
import type { ContainerConfig, History, Image } from '../oci/types.ts';
import { pull } from '../pull.ts';
import { formatReference, parseReference } from '../reference/reference.ts';
import { loadImage, tagImage } from '../store/images.ts';
import { cacheKey, lookupCache, storeCache } from './cache.ts';
import { copyLayerTar, type DirMeta, type Ignored, markArchives, mkdirPlan, planCopy } from './copy-layer.ts';
import {
  type CommandForm,
  expandInline,
  expandVariables,
  type ParsedInstruction,
  parseStages,
  parseTrigger,
  type Stage,
  type Step,
} from './dockerfile.ts';
import { chompHeredoc, parseHeredocWord } from './dockerfile-syntax.ts';
import { loadDockerignore } from './dockerignore.ts';
import {
  BUILDKIT_HISTORY_COMMENT,
  exposeHistory,
  goList,
  goQuoteList,
  type HistoryStyle,
  healthcheckHistory,
  withBuildkitMark,
} from './history.ts';
import { materialise } from './image-source.ts';
import { exposedPorts } from './ports.ts';
import { type BuildEvent, classicTranscript } from './progress.ts';
import { runStep } from './run-step.ts';
import { processWords } from './shell-lex.ts';
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
  /** `--target`: the stage to build (default the last); stages it does not need are skipped. */
  target?: string;
  /**
   * `SOURCE_DATE_EPOCH`, in seconds: every `created` is this time and every mtime in a layer is
   * clamped to it, so the same input builds the same digest. Without it the real time is used, as
   * Docker does. The CLI passes its caller's variable; the builder never reads the process environment.
   */
  sourceDateEpoch?: number;
  /**
   * Whose history text and WORKDIR layers the build follows: BuildKit's (Docker's default builder;
   * `WORKDIR` always a layer, `RUN … # buildkit`) or the classic builder's (`/bin/sh -c #(nop) …`,
   * what `DOCKER_BUILDKIT=0` chooses). Default `buildkit`.
   */
  builder?: HistoryStyle;
  /**
   * `--force-rm`: the classic builder removes a failed RUN step's container too (without it the
   * container stays, exited, as Docker's does). BuildKit leaves none either way.
   */
  forceRm?: boolean;
}

export type BuildResult = Image & { readonly log: string[] };

/** The fixed time of every `created` and the cap of every mtime, when the build is reproducible. */
export function buildEpoch(opts: Pick<BuildOptions, 'sourceDateEpoch'>): Date | undefined {
  return opts.sourceDateEpoch === undefined ? undefined : new Date(opts.sourceDateEpoch * 1000);
}

/**
 * Mtimes for the content hash of a COPY/ADD layer: every one clamped to 0, so the cache key (and the
 * `file:<hash>` in history) depends on what is copied, not on when the context was touched, as
 * BuildKit's content checksums do.
 */
const HASH_EPOCH = new Date(0);

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
  /** Every ARG declared so far in the stage, valued or not, in order (BuildKit's RUN history). */
  argNames: string[];
  cmdSet: boolean;
  /** The base had ONBUILD triggers: the next config this stage writes drops them, as Docker does. */
  resetOnBuild: boolean;
  /** The Dockerfile's escape character, for word processing. */
  escape: string;
}

/** Results of the stages built so far, by index (`0`) and by name, for `FROM stage` and `COPY --from`. */
type StageResults = Map<string, Image | null>;

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

/** `--chmod=755`: an octal mode, as Docker accepts it. */
function chmodMode(spec: string): number {
  if (!/^[0-7]{3,4}$/.test(spec)) throw new BuildError(`invalid chmod parameter: ${spec}`, { input: spec });
  return Number.parseInt(spec, 8);
}

/** As Docker does: a variable already set keeps its place in the list; a new one goes last. */
function setEnv(env: string[], key: string, value: string): string[] {
  const at = env.findIndex((e) => e.slice(0, e.indexOf('=')) === key);
  if (at < 0) return [...env, `${key}=${value}`];
  return env.map((e, i) => (i === at ? `${key}=${value}` : e));
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
  /** The classic builder's transcript of this build (what `DOCKER_BUILDKIT=0` prints). */
  readonly log: string[] = [];
  private readonly classic = classicTranscript();
  private stepNo = 0;
  /** The step in progress: when it began, whether the cache gave its image, its working container. */
  private step: { started: number; cached: boolean; container?: string } = { started: 0, cached: false };
  private readonly ctx: EngineContext;
  private readonly opts: BuildOptions;
  private readonly total: number;
  /** SOURCE_DATE_EPOCH: undefined for the real time. */
  private readonly epoch: Date | undefined;
  /** The context's .dockerignore, read once per build. */
  ignored: Ignored = () => false;
  /** Whose history text the images get (BuildKit's unless the caller chose the classic builder). */
  private readonly style: HistoryStyle;

  constructor(ctx: EngineContext, opts: BuildOptions, total: number) {
    this.ctx = ctx;
    this.opts = opts;
    this.total = total;
    this.epoch = buildEpoch(opts);
    this.style = opts.builder ?? 'buildkit';
  }

  /** `created` of the step being made: now, or SOURCE_DATE_EPOCH. */
  get created(): string {
    return rfc3339(this.epoch ?? new Date());
  }

  /** A step's history entry; BuildKit signs each with its frontend's name (docker history's COMMENT). */
  historyEntry(created: string, createdBy: string): History {
    return {
      created,
      created_by: createdBy,
      ...(this.style === 'buildkit' ? { comment: BUILDKIT_HISTORY_COMMENT } : {}),
    };
  }

  /** Makes a step's image with one `created` for its config and its history entry. */
  stamped<T>(make: (created: string) => Promise<T>): Promise<T> {
    return make(this.created);
  }

  /** The cap of mtimes in a context-made layer, and the mtime of the directories it creates. */
  get mtime(): Date {
    return this.epoch ?? new Date();
  }

  /**
   * The cache key of a step. A reproducible build keys on its epoch too: an image made with other
   * times (or the real ones) must not stand in for one with these.
   */
  key(parent: Digest | 'scratch', instruction: string, contentHash = ''): string {
    const epoch = this.epoch === undefined ? '' : `\nSOURCE_DATE_EPOCH=${this.epoch.getTime() / 1000}`;
    return cacheKey(parent, instruction, contentHash + epoch);
  }

  /** Sends a build event, and keeps the classic builder's lines of it in `log`. */
  emit(event: BuildEvent): void {
    this.ctx.events(event);
    const text = this.classic.render(event);
    if (text !== '') this.log.push(...text.replace(/\n$/, '').split('\n'));
  }

  begin(instruction: ParsedInstruction, place: { vertex?: BuildVertex; from?: string } = {}): void {
    this.stepNo++;
    this.step = { started: Date.now(), cached: false };
    this.emit({
      type: 'build.step',
      step: this.stepNo,
      total: this.total,
      instruction: instruction.text,
      cached: false,
      ...place,
    });
  }

  /** The step begun last has reached `image`. */
  end(image: Image | null): void {
    const { started, cached, container } = this.step;
    this.emit({
      type: 'build.step-done',
      step: this.stepNo,
      ...(image === null ? {} : { imageId: image.id }),
      cached,
      ...(container === undefined ? {} : { container }),
      ms: Date.now() - started,
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
          this.step.cached = true;
          return image;
        }
      }
    }
    const image = await make();
    await storeCache(this.ctx, { key, imageId: image.id, parent, instruction });
    this.step.cached = false;
    return image;
  }

  /** FROM: a stage built earlier, scratch, or an image from the store or a registry. */
  async from(state: BuildState, step: Extract<Step, { kind: 'FROM' }>, stages: StageResults): Promise<void> {
    const name = expandVariables(step.image, state.globalArgs, state.escape);
    if (step.platform !== undefined) {
      const platform = expandVariables(step.platform, state.globalArgs, state.escape);
      const here = `linux/${hostArchitecture()}`;
      if (platform !== '' && platform !== here) {
        throw new BuildError(`FROM --platform=${platform}: Layerlab builds only for ${here}`, {
          input: platform,
        });
      }
    }
    let image: Image | null;
    if (stages.has(name.toLowerCase())) {
      image = stages.get(name.toLowerCase()) ?? null;
    } else if (name === 'scratch') {
      image = null;
    } else {
      try {
        image = await loadImage(this.ctx, name);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        image = await pull(this.ctx, name);
      }
    }
    state.image = image;
    // The base's ONBUILD triggers run now, as the first instructions of this stage (both builders).
    const triggers = image?.config.config?.OnBuild ?? [];
    if (triggers.length === 0) return;
    state.resetOnBuild = true;
    const text = `# Executing ${triggers.length} build trigger${triggers.length === 1 ? '' : 's'}`;
    this.emit({ type: 'build.note', step: this.stepNo, text });
    for (const trigger of triggers) {
      for (const instruction of parseTrigger(trigger)) await this.dispatch(state, instruction, stages);
    }
  }

  /** Runs one instruction of a stage (not FROM). */
  async dispatch(state: BuildState, instruction: ParsedInstruction, stages: StageResults): Promise<void> {
    const step = instruction.step;
    if (step.kind === 'RUN') await this.run(state, step);
    else if (step.kind === 'COPY' || step.kind === 'ADD') await this.copy(state, step, stages);
    else if (step.kind === 'FROM')
      throw new BuildError('FROM is not allowed here', { input: instruction.text });
    else await this.metadata(state, instruction);
  }

  /** Config changes, with the inherited ONBUILD triggers dropped on the stage's first change. */
  configChanges(state: BuildState, changes: Partial<ContainerConfig>): Partial<ContainerConfig> {
    if (!state.resetOnBuild) return changes;
    state.resetOnBuild = false;
    return { OnBuild: null, ...changes };
  }

  async metadata(state: BuildState, instruction: ParsedInstruction): Promise<void> {
    const step = instruction.step;
    const vars = variables(state);
    const config = configOf(state);
    const shell = config.Shell ?? DEFAULT_SHELL;
    const expand = (word: string) => expandVariables(word, vars, state.escape);
    const buildkit = this.style === 'buildkit';
    let changes: Partial<ContainerConfig> = {};
    let author: string | undefined;
    // The classic builder's history shows the instruction as written (a few rewritten below);
    // BuildKit's, its values after expansion, as dispatchEnv, dispatchCmd… format them.
    let text = instruction.text;
    let buildkitText: string | null = text;
    switch (step.kind) {
      case 'ENV': {
        // Every word is expanded against the variables as the instruction starts: `ENV A=1 B=$A`
        // gives B the A from before this line, as in Docker.
        const pairs = step.pairs.map(([k, v]) => [expand(k), expand(v)] as const);
        let env = config.Env ?? [];
        for (const [key, value] of pairs) env = setEnv(env, key, value);
        changes = { Env: env };
        text = `ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`;
        buildkitText = text;
        break;
      }
      case 'LABEL': {
        const labels = { ...(config.Labels ?? {}) };
        const pairs = step.pairs.map(([k, v]) => [expand(k), expand(v)] as const);
        for (const [key, value] of pairs) labels[key] = value;
        changes = { Labels: labels };
        buildkitText = `LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`;
        break;
      }
      case 'ARG': {
        const fromCli = this.opts.buildArgs?.[step.name];
        const declared = step.defaultValue === undefined ? undefined : expand(step.defaultValue);
        const value = fromCli ?? declared ?? state.globalArgs.get(step.name);
        if (value !== undefined) state.args.set(step.name, value);
        if (!state.argNames.includes(step.name)) state.argNames.push(step.name);
        text = value === undefined ? `ARG ${step.name}` : `ARG ${step.name}=${value}`;
        // BuildKit (Docker 20.10's, as recorded) shows the Dockerfile's default, not a --build-arg.
        buildkitText = declared === undefined ? `ARG ${step.name}` : `ARG ${step.name}=${declared}`;
        break;
      }
      case 'WORKDIR': {
        const dir = posix.resolve(config.WorkingDir || '/', expand(step.value));
        text = `WORKDIR ${dir}`;
        // BuildKit's dispatchWorkdir makes the directory (mkdir -p, owned by USER, mode 0755) in a
        // layer of its own every time, even when it exists (the layer is then empty); only `/` makes
        // none. The classic builder commits a layer only when the directory was missing.
        const layer = buildkit
          ? dir !== '/'
          : dir !== '/' && state.image !== null && (await this.existingDir(state.image, dir)) === undefined;
        if (layer) {
          await this.workdirLayer(state, dir, text);
          return;
        }
        changes = { WorkingDir: dir };
        buildkitText = text;
        break;
      }
      case 'USER':
        changes = { User: expand(step.value) };
        buildkitText = `USER ${changes.User}`;
        break;
      case 'STOPSIGNAL':
        changes = { StopSignal: expand(step.value) };
        buildkitText = `STOPSIGNAL ${changes.StopSignal}`;
        break;
      case 'MAINTAINER':
        // Deprecated but accepted: it sets the image's author (dispatchMaintainer).
        author = step.value;
        buildkitText = `MAINTAINER ${step.value}`;
        break;
      case 'EXPOSE': {
        const words = step.values.flatMap((v) => processWords(v, vars, { escapeToken: state.escape }));
        const ports = { ...(config.ExposedPorts ?? {}) };
        const named = exposedPorts(words);
        for (const port of named) ports[port] = {};
        changes = { ExposedPorts: ports };
        buildkitText = exposeHistory(named);
        break;
      }
      case 'VOLUME': {
        const volumes = { ...(config.Volumes ?? {}) };
        const paths = step.values.map(expand);
        for (const path of paths) {
          if (path === '') throw new BuildError('VOLUME specified can not be an empty string');
          volumes[path] = {};
        }
        changes = { Volumes: volumes };
        buildkitText = `VOLUME ${goList(paths)}`;
        break;
      }
      case 'CMD': {
        const cmd = commandArgs(step.command, shell);
        changes = { Cmd: cmd };
        state.cmdSet = true;
        buildkitText = `CMD ${goQuoteList(cmd)}`;
        break;
      }
      case 'ENTRYPOINT': {
        // A new ENTRYPOINT drops the base image's CMD, unless this Dockerfile set CMD itself.
        const entrypoint = step.command.args.length === 0 ? [] : commandArgs(step.command, shell);
        changes = {
          Entrypoint: entrypoint.length === 0 ? null : entrypoint,
          ...(state.cmdSet ? {} : { Cmd: null }),
        };
        buildkitText = `ENTRYPOINT ${goQuoteList(entrypoint)}`;
        break;
      }
      case 'SHELL':
        changes = { Shell: step.command.args };
        buildkitText = `SHELL ${goList(step.command.args)}`;
        break;
      case 'HEALTHCHECK':
        changes = { Healthcheck: step.health };
        buildkitText = healthcheckHistory(step.health);
        break;
      case 'ONBUILD':
        changes = { OnBuild: [...(config.OnBuild ?? []), step.expression] };
        // BuildKit's dispatchOnbuild changes the config and writes no history.
        buildkitText = null;
        break;
      default:
        throw new BuildError(`unexpected step ${step.kind}`);
    }
    changes = this.configChanges(state, changes);
    if (state.image === null) changes = { Env: config.Env ?? [DEFAULT_PATH_ENV], ...changes };
    const classicText = step.kind === 'WORKDIR' ? `/bin/sh -c #(nop) ${text}` : `/bin/sh -c #(nop)  ${text}`;
    const createdBy = buildkit ? buildkitText : classicText;
    const base = state.image;
    const key = this.key(base?.id ?? 'scratch', createdBy ?? `(no history) ${instruction.text}`);
    state.image = await this.cached(state, key, createdBy ?? instruction.text, () =>
      this.stamped((created) =>
        mutateConfig(
          this.ctx,
          base,
          changes,
          createdBy === null ? null : this.historyEntry(created, createdBy),
          { created, ...(author === undefined ? {} : { author }) },
        ),
      ),
    );
  }

  /**
   * WORKDIR in a layer of its own: the directory and its missing parents (as Docker's builders make
   * it), or nothing when BuildKit's `mkdir -p` finds it there already.
   */
  async workdirLayer(state: BuildState, dir: string, text: string): Promise<void> {
    const base = state.image;
    const config = configOf(state);
    const owner = await chownIds(this.ctx, base, config.User || undefined);
    const plan =
      (await this.existingDir(base, dir)) === undefined
        ? await mkdirPlan(dir, this.opts.contextDir, (path) => this.existingDir(base, path))
        : { entries: [], parents: [], hasDir: true };
    const tarOpts = { ...owner, mtime: this.mtime };
    const createdBy = this.style === 'buildkit' ? text : `/bin/sh -c #(nop) ${text}`;
    const contentHash = await tarDigest(copyLayerTar(plan, { ...tarOpts, mtime: HASH_EPOCH }));
    const changes = this.configChanges(state, { WorkingDir: dir });
    await this.planLayer(state, { plan, tarOpts, createdBy, contentHash, changes });
  }

  /**
   * Appends the layer `plan` makes (COPY, ADD, a WORKDIR's directory) to the stage's image, or takes
   * it from the cache when the same content was laid on the same base before.
   */
  async planLayer(
    state: BuildState,
    layer: {
      plan: Parameters<typeof copyLayerTar>[0];
      tarOpts: Parameters<typeof copyLayerTar>[1];
      createdBy: string;
      contentHash: string;
      changes: Parameters<typeof appendLayer>[3]['config'];
    },
  ): Promise<void> {
    const base = state.image;
    state.image = await this.cached(
      state,
      this.key(base?.id ?? 'scratch', layer.createdBy, layer.contentHash),
      layer.createdBy,
      () =>
        this.stamped((created) =>
          appendLayer(this.ctx, base, copyLayerTar(layer.plan, layer.tarOpts), {
            history: this.historyEntry(created, layer.createdBy),
            created,
            config: layer.changes,
            compression: LAYER_COMPRESSION,
          }),
        ),
    );
  }

  /** A directory `image` already has, with its ids as the container sees them (unshifted). */
  async existingDir(image: Image | null, path: string): Promise<DirMeta | undefined> {
    if (image === null) return undefined;
    const found = await findImagePath(this.ctx, image, path);
    if (found?.kind !== 'directory') return undefined;
    const { stats } = found;
    const base = this.ctx.config.usernsBase;
    const unshift = (id: number) => (id >= base && id < base + this.ctx.config.usernsSize ? id - base : id);
    return {
      mode: stats.mode & 0o7777,
      uid: unshift(stats.uid),
      gid: unshift(stats.gid),
      mtime: stats.mtime,
    };
  }

  async copy(
    state: BuildState,
    step: Extract<Step, { kind: 'COPY' | 'ADD' }>,
    stages: StageResults,
  ): Promise<void> {
    const vars = variables(state);
    const config = configOf(state);
    const expand = (word: string) => expandVariables(word, vars, state.escape);
    const sources = step.sources.map(expand);
    const dest = expand(step.dest);
    // Sources come from the context, from another stage or image (--from), or from heredocs.
    let contextDir = this.opts.contextDir;
    let scratch: string | undefined;
    try {
      if (step.inline.length > 0) {
        if (sources.length > 0 || step.from !== undefined) {
          throw new BuildError(
            `${step.kind}: heredocs mixed with other sources are not supported by Layerlab`,
          );
        }
        scratch = await mkdtemp(join(tmpdir(), 'layerlab-heredoc-'));
        contextDir = scratch;
        for (const file of step.inline) {
          // BuildKit writes heredoc files with mode 0644, `$VAR` expanded unless the delimiter was quoted.
          await writeFile(join(scratch, file.name), file.expand ? expandInline(file.data, vars) : file.data, {
            mode: 0o644,
          });
          sources.push(file.name);
        }
      } else if (step.from !== undefined) {
        if (expandVariables(step.from, new Map()) !== step.from) {
          throw new BuildError(
            'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround',
            { input: step.from },
          );
        }
        scratch = await mkdtemp(join(tmpdir(), 'layerlab-from-'));
        contextDir = scratch;
        await materialise(this.ctx, await this.sourceImage(step.from, stages), sources, scratch);
      }
      const plan = await planCopy(contextDir, sources, dest, {
        workdir: config.WorkingDir ?? '/',
        existingDir: (path) => this.existingDir(state.image, path),
        ...(contextDir === this.opts.contextDir ? { ignored: this.ignored } : {}),
      });
      if (step.kind === 'ADD') {
        await markArchives(plan, contextDir, posix.resolve(config.WorkingDir || '/', dest));
      }
      const owner = await chownIds(
        this.ctx,
        state.image,
        step.chown === undefined ? undefined : expand(step.chown),
      );
      const mode = step.chmod === undefined ? undefined : chmodMode(expand(step.chmod));
      const tarOpts = { ...owner, mtime: this.mtime, ...(mode === undefined ? {} : { mode }) };
      const contentHash = await tarDigest(copyLayerTar(plan, { ...tarOpts, mtime: HASH_EPOCH }));
      // The classic builder's history names the content by hash (`COPY file:… in /app/ `);
      // BuildKit's, the sources and destination as written (heredocs as `<<EOF`), flags left out.
      const shownSources = step.inline.length > 0 ? step.inline.map((f) => `<<${f.name}`) : sources;
      const createdBy =
        this.style === 'buildkit'
          ? withBuildkitMark(`${step.kind} ${[...shownSources, dest].join(' ')}`)
          : `/bin/sh -c #(nop) ${step.kind} ${plan.hasDir ? 'dir' : 'file'}:${contentHash.slice(7)} in ${dest} `;
      const base = state.image;
      const changes = this.configChanges(state, base === null ? { Env: [DEFAULT_PATH_ENV] } : {});
      await this.planLayer(state, { plan, tarOpts, createdBy, contentHash, changes });
    } finally {
      if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
    }
  }

  /** `--from=`: a stage by name or index, else an image from the store or a registry. */
  async sourceImage(from: string, stages: StageResults): Promise<Image | null> {
    const key = from.toLowerCase();
    if (stages.has(key)) return stages.get(key) ?? null;
    if (/^\d+$/.test(from)) throw new BuildError(`invalid stage index: ${from}`, { input: from });
    try {
      return await loadImage(this.ctx, from);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      return await pull(this.ctx, from);
    }
  }

  async run(state: BuildState, step: Extract<Step, { kind: 'RUN' }>): Promise<void> {
    const base = state.image;
    if (base === null)
      throw new BuildError('RUN needs a base image with a shell: FROM scratch has no /bin/sh');
    const config = configOf(state);
    const shell = config.Shell ?? DEFAULT_SHELL;
    const command = heredocCommand(step);
    const argv = commandArgs(command.run, shell);
    // ENV wins over an ARG of the same name.
    const imageEnv = config.Env ?? [DEFAULT_PATH_ENV];
    const envNames = new Set(imageEnv.map((e) => e.slice(0, e.indexOf('='))));
    // Build args reach RUN as environment, and show in its history: the classic builder lists those
    // with a value, BuildKit every ARG of the stage (`|2 A=1 B=`), an ENV's value over the ARG's.
    const vars = variables(state);
    const argEnv =
      this.style === 'buildkit'
        ? state.argNames.map((k) => `${k}=${vars.get(k) ?? ''}`)
        : [...state.args].map(([k, v]) => `${k}=${v}`);
    const shown = commandArgs(this.style === 'buildkit' ? command.shown : command.run, shell).join(' ');
    const line = argEnv.length > 0 ? `|${argEnv.length} ${argEnv.join(' ')} ${shown}` : shown;
    const createdBy = this.style === 'buildkit' ? withBuildkitMark(`RUN ${line}`) : line;
    const env = [
      ...imageEnv,
      ...[...state.args].filter(([k]) => !envNames.has(k)).map(([k, v]) => `${k}=${v}`),
    ];
    const changes = this.configChanges(state, {});
    state.image = await this.cached(state, this.key(base.id, createdBy), createdBy, async () => {
      const result = await runStep(this.ctx, base, {
        argv,
        env,
        user: config.User ?? '',
        workingDir: config.WorkingDir ?? '',
        listed: this.style === 'classic',
        keepOnFailure: this.style === 'classic' && this.opts.forceRm !== true,
        ...(this.epoch === undefined ? {} : { mtime: this.epoch }),
        onStart: (id) => {
          this.step.container = id;
          this.emit({ type: 'build.container', step: this.stepNo, id });
        },
        onOutput: (data) => this.emit({ type: 'build.output', step: this.stepNo, data }),
        build: (layerTar) =>
          this.stamped((created) =>
            appendLayer(this.ctx, base, layerTar, {
              history: this.historyEntry(created, createdBy),
              created,
              config: changes,
              compression: LAYER_COMPRESSION,
            }),
          ),
      });
      if (result.exitCode !== 0) throw new RunFailedError(argv, result.exitCode);
      return result.image!;
    });
  }
}

/**
 * The command a RUN with heredocs runs, as BuildKit's dispatchRun: `RUN <<EOF` alone runs the body
 * in the shell (a body starting with `#!` runs as a script of its own); any other use
 * (`RUN cat <<EOF > f`) hands the shell the line with the bodies after it, a real shell heredoc.
 */
function heredocCommand(step: Extract<Step, { kind: 'RUN' }>): { run: CommandForm; shown: CommandForm } {
  const same = (run: CommandForm) => ({ run, shown: run });
  if (step.heredocs.length === 0 || !step.command.shell) return same(step.command);
  const line = step.command.args[0]!;
  const only = parseHeredocWord(line);
  const first = step.heredocs[0]!;
  if (only !== undefined) {
    const data = first.chomp ? chompHeredoc(first.content) : first.content;
    if (!data.startsWith('#!')) return same({ args: [data], shell: true });
    // BuildKit mounts the script at /dev/pipes/NAME and runs it; Layerlab writes it there (a tmpfs,
    // so nothing reaches the layer) from the shell and runs it.
    const path = `/dev/pipes/${first.name.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
    const quoted = `'${data.replaceAll("'", `'\\''`)}'`;
    return {
      run: {
        args: [`mkdir -p /dev/pipes && printf '%s' ${quoted} > ${path} && chmod 755 ${path} && exec ${path}`],
        shell: true,
      },
      // What BuildKit runs, and so what its history shows.
      shown: { args: [`/dev/pipes/${first.name}`], shell: true },
    };
  }
  let text = line;
  for (const heredoc of step.heredocs) text += `\n${heredoc.content}${heredoc.name}`;
  return same({ args: [text], shell: true });
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

/** The stages `target` needs (FROM another stage, COPY --from), in Dockerfile order. */
function neededStages(
  stages: readonly Stage[],
  target: Stage,
  fromNames: (stage: Stage) => string[],
): Stage[] {
  const byName = new Map<string, Stage>();
  for (const stage of stages) {
    byName.set(String(stage.index), stage);
    if (stage.name !== undefined) byName.set(stage.name, stage);
  }
  const needed = new Set<Stage>();
  const visit = (stage: Stage) => {
    if (needed.has(stage)) return;
    needed.add(stage);
    for (const name of fromNames(stage)) {
      const dep = byName.get(name.toLowerCase());
      if (dep !== undefined && dep.index < stage.index) visit(dep);
    }
  };
  visit(target);
  return stages.filter((s) => needed.has(s));
}

/** The instructions BuildKit shows as steps of their own; the others only change the config. */
const VERTEX_KINDS: ReadonlySet<Step['kind']> = new Set(['FROM', 'RUN', 'COPY', 'ADD', 'WORKDIR']);

/** How BuildKit names a FROM's image: normalised (`docker.io/library/busybox:latest`), a stage as is. */
function fromShown(name: string, stageNames: ReadonlySet<string>): string {
  if (name === 'scratch' || stageNames.has(name.toLowerCase())) return name;
  try {
    return formatReference(parseReference(name));
  } catch {
    return name; // refused with Docker's message when the step runs
  }
}

/** A RUN step's command exited non-zero; the message is the classic builder's. */
export class RunFailedError extends BuildError {
  readonly argv: readonly string[];
  readonly exitCode: number;
  constructor(argv: readonly string[], exitCode: number) {
    super(`The command '${argv.join(' ')}' returned a non-zero code: ${exitCode}`, { input: argv.join(' ') });
    this.argv = argv;
    this.exitCode = exitCode;
  }
}

/**
 * Builds the Dockerfile in `opts.contextDir`, tags the result, and returns it with the classic
 * builder's log (`Step 1/5 : FROM busybox`, ` ---> 1a2b3c4d5e6f`, `Successfully built …`). Only the
 * stages the target needs are built, as BuildKit does.
 */
export async function build(ctx: EngineContext, opts: BuildOptions): Promise<BuildResult> {
  const parsed = parseStages(await readDockerfile(opts));
  const tags = (opts.tags ?? []).map((t) => formatReference(parseReference(t)));
  const globalArgs = new Map<string, string>();
  for (const { step } of parsed.metaArgs) {
    if (step.kind !== 'ARG') continue;
    const value =
      opts.buildArgs?.[step.name] ??
      (step.defaultValue === undefined
        ? undefined
        : expandVariables(step.defaultValue, globalArgs, parsed.escape));
    if (value !== undefined) globalArgs.set(step.name, value);
  }
  let target = parsed.stages.at(-1)!;
  if (opts.target !== undefined) {
    const found = parsed.stages.find((s) => s.name === opts.target!.toLowerCase());
    if (found === undefined) {
      throw new BuildError(`target stage "${opts.target}" could not be found`, { input: opts.target });
    }
    target = found;
  }
  const stages = neededStages(parsed.stages, target, (stage) => [
    expandVariables(stage.from.step.image, globalArgs, parsed.escape),
    ...stage.instructions.flatMap(({ step }) =>
      (step.kind === 'COPY' || step.kind === 'ADD') && step.from !== undefined ? [step.from] : [],
    ),
  ]);
  const total = parsed.metaArgs.length + stages.reduce((n, stage) => n + 1 + stage.instructions.length, 0);
  const builder = new Builder(ctx, opts, total);
  builder.ignored = await loadDockerignore(opts.contextDir);
  for (const instruction of parsed.metaArgs) {
    builder.begin(instruction);
    builder.end(null);
  }
  const named = parsed.stages.length > 1;
  const stageNames = new Set(parsed.stages.flatMap((s) => (s.name === undefined ? [] : [s.name])));
  const results: StageResults = new Map();
  let image: Image | null = null;
  for (const stage of stages) {
    const state: BuildState = {
      image: null,
      args: new Map(),
      globalArgs,
      argNames: [],
      cmdSet: false,
      resetOnBuild: false,
      escape: parsed.escape,
    };
    // BuildKit numbers a stage's filesystem steps, FROM first: `[build 2/3]`.
    const vertexTotal = 1 + stage.instructions.filter((i) => VERTEX_KINDS.has(i.step.kind)).length;
    let vertexIndex = 1;
    const vertex = (index: number): BuildVertex => ({
      ...(named ? { stage: stage.name ?? `stage-${stage.index}` } : {}),
      index,
      total: vertexTotal,
    });
    builder.checkCancelled();
    const fromName = expandVariables(stage.from.step.image, globalArgs, parsed.escape);
    builder.begin(stage.from, { vertex: vertex(1), from: fromShown(fromName, stageNames) });
    await builder.from(state, stage.from.step, results);
    builder.end(state.image);
    for (const instruction of stage.instructions) {
      builder.checkCancelled();
      const isVertex = VERTEX_KINDS.has(instruction.step.kind);
      builder.begin(instruction, isVertex ? { vertex: vertex(++vertexIndex) } : {});
      await builder.dispatch(state, instruction, results);
      builder.end(state.image);
    }
    if (state.image === null) {
      // `FROM scratch` and nothing else: an image with no layers, as Docker makes it.
      state.image = await mutateConfig(
        ctx,
        null,
        { Env: [DEFAULT_PATH_ENV] },
        {},
        { created: rfc3339(buildEpoch(opts) ?? new Date()) },
      );
    }
    results.set(String(stage.index), state.image);
    if (stage.name !== undefined) results.set(stage.name, state.image);
    image = state.image;
  }
  const built = image!;
  for (const full of tags) await tagImage(ctx, built.id, full);
  builder.emit({ type: 'build.done', imageId: built.id, tags });
  return { ...built, log: builder.log };
}
