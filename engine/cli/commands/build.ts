// `layerlab build [-t NAME] [-f Dockerfile] DIR`: the transcript rendered from the engine's `build.*`
// events as Docker's default builder, BuildKit, prints it (`--progress=plain`), or as the classic
// builder does when the caller's environment has `DOCKER_BUILDKIT=0`; a failure worded by the same.
import { resolve } from 'node:path';
import { build, RunFailedError } from '../../builder/build.ts';
import { DockerfileParseError } from '../../builder/dockerfile-syntax.ts';
import { type BuildTranscript, buildkitTranscript, classicTranscript } from '../../builder/progress.ts';
import { CancelledError, InvalidArgumentError, LayerlabError } from '../../errors.ts';
import { parseReference } from '../../reference/reference.ts';
import { bool, list, str } from '../args.ts';
import { type Command, CommandFailure, type Environment } from '../cli.ts';

export const command: Command = {
  spec: {
    name: 'build',
    usage: '[OPTIONS] PATH',
    description: 'Build an image from a Dockerfile',
    minArgs: 1,
    maxArgs: 1,
    aliases: ['image build'],
    flags: [
      {
        name: 'tag',
        short: 't',
        type: 'list',
        description: 'Name and optionally a tag in the "name:tag" format',
      },
      {
        name: 'file',
        short: 'f',
        type: 'string',
        description: "Name of the Dockerfile (default: 'PATH/Dockerfile')",
      },
      { name: 'build-arg', type: 'list', description: 'Set build-time variables' },
      { name: 'no-cache', type: 'bool', description: 'Do not use cache when building the image' },
      { name: 'force-rm', type: 'bool', description: 'Always remove intermediate containers' },
      { name: 'target', type: 'string', description: 'Set the target build stage to build' },
      {
        name: 'quiet',
        short: 'q',
        type: 'bool',
        description: 'Suppress the build output and print image ID on success',
      },
      {
        name: 'progress',
        type: 'string',
        description:
          'Set type of progress output ("auto", "plain", "tty", "quiet"). Use plain to show container output',
      },
    ],
  },
  async run(cli, parsed) {
    const contextDir = parsed.args[0]!;
    const tags = list(parsed, 'tag');
    for (const t of tags) parseReference(t); // refuse a bad -t before doing any work
    const buildArgs: Record<string, string> = {};
    for (const arg of list(parsed, 'build-arg')) {
      const eq = arg.indexOf('=');
      // Docker takes `--build-arg NAME` (no value) from the caller's environment (a visitor's shell
      // in the browser terminal, never the server process's).
      const value = eq === -1 ? (Object.hasOwn(cli.env, arg) ? cli.env[arg] : undefined) : arg.slice(eq + 1);
      if (value === undefined)
        throw new InvalidArgumentError(`build-arg ${arg}: no value and not set in the environment`);
      buildArgs[eq === -1 ? arg : arg.slice(0, eq)] = value;
    }
    const progress = str(parsed, 'progress') ?? 'auto';
    if (!['auto', 'plain', 'tty', 'quiet', 'rawjson'].includes(progress)) {
      throw new InvalidArgumentError(`invalid progress mode: ${progress}`, progress);
    }
    const classic = legacyBuilder(cli.env);
    if (classic) cli.err(LEGACY_WARNING);
    const quiet = bool(parsed, 'quiet') || progress === 'quiet';
    // BuildKit's tty view redraws a screen; its plain form is what a terminal without one shows.
    const transcript = classic ? classicTranscript() : buildkitTranscript();
    const ctx = cli.context((event) => {
      if (!quiet && event.type.startsWith('build.')) {
        cli.stdout.write(transcript.render(event as Parameters<BuildTranscript['render']>[0]));
      }
    });
    // Docker reads -f relative to the current directory; the engine reads it relative to the context.
    const file = str(parsed, 'file');
    let image: Awaited<ReturnType<typeof build>>;
    try {
      image = await build(ctx, {
        contextDir,
        ...(file !== undefined ? { dockerfile: resolve(file) } : {}),
        tags,
        buildArgs,
        noCache: bool(parsed, 'no-cache'),
        forceRm: bool(parsed, 'force-rm'),
        ...(str(parsed, 'target') !== undefined ? { target: str(parsed, 'target')! } : {}),
        ...sourceDateEpoch(cli.env),
        builder: classic ? 'classic' : 'buildkit',
      });
    } catch (err) {
      throw failure(err, classic, quiet ? undefined : (text) => cli.stdout.write(text), transcript);
    }
    // The engine's own transcript ends with "Successfully built/tagged"; quiet prints only the id.
    if (quiet) cli.out(image.id);
    return 0;
  },
};

/** `SOURCE_DATE_EPOCH` from the caller's environment, as reproducible-build tools read it. */
function sourceDateEpoch(env: Environment): { sourceDateEpoch?: number } {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return {};
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 0) {
    throw new InvalidArgumentError(`SOURCE_DATE_EPOCH: not a number of seconds: ${raw}`, raw);
  }
  return { sourceDateEpoch: seconds };
}

/** What Docker's CLI prints on stderr when the classic builder is chosen. */
const LEGACY_WARNING = `DEPRECATED: The legacy builder is deprecated and will be removed in a future release.
            BuildKit is currently disabled; enable it by removing the DOCKER_BUILDKIT=0
            environment-variable.
`;

/** `DOCKER_BUILDKIT=0` (or `false`) in the caller's environment chooses the classic builder. */
function legacyBuilder(env: Environment): boolean {
  const value = env.DOCKER_BUILDKIT?.trim().toLowerCase();
  return value === '0' || value === 'false';
}

/**
 * A failed build as the chosen builder reports it. The classic one prints the RUN failure as it is
 * and exits with the command's status; BuildKit marks the step `ERROR` and ends with
 * `ERROR: failed to solve: …`, status 1. Cancellation (Ctrl-C) is left to the usual report.
 */
function failure(
  err: unknown,
  classic: boolean,
  write: ((text: string) => void) | undefined,
  transcript: BuildTranscript,
): unknown {
  if (!(err instanceof LayerlabError) || err instanceof CancelledError) return err;
  if (classic) return err instanceof RunFailedError ? new CommandFailure(err.message, err.exitCode) : err;
  if (err instanceof DockerfileParseError) {
    // Before any step: the frontend could not turn the Dockerfile into build steps. Worded as the
    // recorded Docker (20.10's BuildKit) words it; newer ones say `dockerfile parse error on line N`.
    return new CommandFailure(
      `failed to solve with frontend dockerfile.v0: failed to create LLB definition: dockerfile parse error line ${err.line}: ${err.reason}`,
      1,
    );
  }
  const message =
    err instanceof RunFailedError
      ? `process "${err.argv.join(' ')}" did not complete successfully: exit code: ${err.exitCode}`
      : err.message;
  write?.(transcript.fail(message));
  return new CommandFailure(`ERROR: failed to solve: ${message}`, 1);
}
