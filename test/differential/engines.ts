// Runs one differential case on an engine — Layerlab through its CLI (in-process, as the browser
// terminal runs it) or Docker through its client — and reads the result with the one snapshot reader.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineContext } from '../../engine/context.ts';
import { runCli } from '../support/cli.ts';
import type { Dockerd } from '../support/dockerd.ts';
import { type Comparable, type DiffCase, prepareContext, removeContext } from './cases.ts';
import { type ImageSnapshot, snapshotArchive } from './snapshot.ts';

export interface Answer {
  status: number;
  stdout: string;
  stderr: string;
}

/** One engine's way of running the few commands a case needs. */
export interface Engine {
  name: 'layerlab' | 'docker';
  run(args: string[]): Promise<Answer>;
}

export interface Outcome {
  comparable: Comparable;
  snapshot?: ImageSnapshot;
  /** When the build (or the container run and commit) ran, in seconds since the epoch. */
  window: { start: number; end: number };
  /** The engine's whole output, for a failure message. */
  log: string;
}

export function layerlabEngine(ctx: EngineContext): Engine {
  return {
    name: 'layerlab',
    // An empty caller environment: no DOCKER_BUILDKIT, no SOURCE_DATE_EPOCH from this process.
    run: (args) => runCli(args, ctx, { env: {} }),
  };
}

export function dockerEngine(dockerd: Dockerd): Engine {
  return { name: 'docker', run: (args) => dockerd.docker(args) };
}

/** The last line of the error output that says something (Docker's and the CLI's own final word). */
export function errorLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines[lines.length - 1] ?? '';
}

/** Base counts for snapshots: what the busybox image itself holds (left out of every comparison). */
export interface Base {
  layers: number;
  history: number;
  diffIds: string[];
}

const now = () => Date.now() / 1000;

/**
 * The last error line of a container's run: an init's complaint carries the pid it had in the
 * container (`[FATAL tini (7)]`), which depends on how many processes the runtime started first.
 */
function runErrorLine(stderr: string): string {
  return errorLine(stderr).replace(/^\[FATAL tini \(\d+\)\]/, '[FATAL tini (PID)]');
}

/**
 * A `run` case: the container's stdout and exit status; with `stop`, started detached, stopped, and
 * the status `wait` prints.
 */
async function runContainerCase(
  step: (args: string[]) => Promise<Answer>,
  c: DiffCase,
  image: string,
  name: string,
  noNetwork: string[],
): Promise<Comparable> {
  const args = ['--name', name, ...noNetwork, ...c.spec.runFlags, image, 'sh', '-c', c.spec.script ?? 'true'];
  try {
    if (!c.spec.stop) {
      const ran = await step(['run', ...args]);
      return {
        status: ran.status,
        output: ran.stdout,
        ...(ran.status !== 0 ? { error: runErrorLine(ran.stderr) } : {}),
      };
    }
    const started = await step(['run', '-d', ...args]);
    if (started.status !== 0) return { status: started.status, error: errorLine(started.stderr) };
    const stopped = await step(['stop', name]);
    if (stopped.status !== 0) return { status: stopped.status, error: errorLine(stopped.stderr) };
    const waited = await step(['wait', name]);
    return { status: Number.parseInt(waited.stdout.trim(), 10) };
  } finally {
    await step(['rm', '-f', name]);
  }
}

/** Runs the case on `engine`: build (or run and commit), save, snapshot. Tags are per engine and case. */
export async function runCase(engine: Engine, c: DiffCase, base: Base): Promise<Outcome> {
  const tag = `difftest-${c.name}`;
  const context = prepareContext(c);
  const out = mkdtempSync(join(tmpdir(), `layerlab-diff-out-${engine.name}-`));
  const log: string[] = [];
  const step = async (args: string[]) => {
    const answer = await engine.run(args);
    log.push(`$ ${engine.name} ${args.join(' ')}\n${answer.stdout}${answer.stderr}(exit ${answer.status})`);
    return answer;
  };
  const noNetwork = engine.name === 'docker' ? ['--network', 'none'] : [];
  const start = now();
  try {
    let image = 'busybox';
    let result: Answer | undefined;
    if (c.spec.kind === 'build' || hasDockerfile(c)) {
      const args = ['build', '--no-cache', ...noNetwork, '-t', c.spec.kind === 'build' ? tag : `${tag}-base`];
      for (const [name, value] of Object.entries(c.spec.buildArgs))
        args.push('--build-arg', `${name}=${value}`);
      if (c.spec.target) args.push('--target', c.spec.target);
      result = await step([...args, context]);
      image = c.spec.kind === 'build' ? tag : `${tag}-base`;
    }
    if (c.spec.kind === 'run') {
      const comparable =
        result && result.status !== 0
          ? { status: result.status, error: errorLine(result.stderr) }
          : await runContainerCase(step, c, image, `difftest-${c.name}-${engine.name}`, noNetwork);
      return { comparable, window: { start, end: now() }, log: log.join('\n') };
    }
    if (c.spec.kind === 'commit' && (!result || result.status === 0)) {
      const name = `difftest-${c.name}-${engine.name}`;
      result = await step([
        'run',
        '--name',
        name,
        ...noNetwork,
        ...c.spec.runFlags,
        image,
        'sh',
        '-c',
        c.spec.script ?? 'true',
      ]);
      if (result.status === 0) {
        const committed = await step(['commit', name, tag]);
        if (committed.status !== 0) result = committed;
      }
      await step(['rm', '-f', name]);
    }
    const end = now();
    if (!result) throw new Error(`case ${c.name}: nothing to run`);
    if (result.status !== 0) {
      return {
        comparable: { status: result.status, error: errorLine(result.stderr) },
        window: { start, end },
        log: log.join('\n'),
      };
    }
    const archive = join(out, 'image.tar');
    const saved = await step(['save', '-o', archive, tag]);
    if (saved.status !== 0) throw new Error(`${engine.name} save ${tag} failed:\n${log.join('\n')}`);
    const snapshot = await snapshotArchive(archive, base);
    if (snapshot.diffIds.slice(0, base.layers).join() !== base.diffIds.join()) {
      throw new Error(`${engine.name}: ${tag} is not built on the busybox image both engines share`);
    }
    return {
      comparable: {
        status: 0,
        layers: snapshot.layers,
        config: snapshot.config,
        history: snapshot.history,
      },
      snapshot,
      window: { start, end },
      log: log.join('\n'),
    };
  } finally {
    removeContext(context);
    rmSync(out, { recursive: true, force: true });
  }
}

/** A commit or run case may build its starting image first (a Dockerfile beside case.json). */
function hasDockerfile(c: DiffCase): boolean {
  return c.spec.kind !== 'build' && existsSync(join(c.dir, 'Dockerfile'));
}

/** What the busybox image holds, read through the same snapshot reader. */
export async function baseOf(engine: Engine): Promise<Base> {
  const out = mkdtempSync(join(tmpdir(), 'layerlab-diff-base-'));
  try {
    const archive = join(out, 'busybox.tar');
    const saved = await engine.run(['save', '-o', archive, 'busybox']);
    if (saved.status !== 0) throw new Error(`${engine.name} save busybox failed: ${saved.stderr}`);
    const all = await snapshotArchive(archive, { layers: 0, history: 0 });
    return { layers: all.diffIds.length, history: all.history.length, diffIds: all.diffIds };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * The checks of `times` in case.json, on one engine's outcome: each listed path's mtime kept from
 * the context (`source`) or within the build (`build`), and the image's `created` within the build.
 * Returns the failures as sentences (none: all good).
 */
export function timeFailures(c: DiffCase, outcome: Outcome, fixtureMtime: number): string[] {
  const times = c.spec.times;
  if (!times || !outcome.snapshot) return [];
  const failures: string[] = [];
  const { start, end } = outcome.window;
  const during = (t: number) => t >= Math.floor(start) - 2 && t <= Math.ceil(end) + 2;
  for (const [path, want] of Object.entries(times.paths)) {
    const entry = outcome.snapshot.entries
      .flat()
      .reverse()
      .find((e) => e.path === path.replace(/^\/+/, ''));
    if (!entry) {
      failures.push(`${path}: not in any layer`);
      continue;
    }
    if (want === 'source' && entry.mtime !== fixtureMtime)
      failures.push(`${path}: mtime ${entry.mtime}, not the context file's ${fixtureMtime}`);
    if (want === 'build' && !during(entry.mtime))
      failures.push(
        `${path}: mtime ${entry.mtime}, not during the build (${Math.floor(start)}–${Math.ceil(end)})`,
      );
  }
  if (times.created === 'build' && !during(outcome.snapshot.created))
    failures.push(`created ${outcome.snapshot.created}, not during the build`);
  return failures;
}
