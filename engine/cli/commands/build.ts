// `layerlab build [-t NAME] [-f Dockerfile] DIR`: the classic builder's transcript (Step N/M, cache
// hits, RUN output, Successfully built/tagged) rendered from the engine's `build.*` events.
import { resolve } from 'node:path';
import { build } from '../../builder/build.ts';
import { InvalidArgumentError } from '../../errors.ts';
import type { EngineEvent } from '../../events.ts';
import { parseReference } from '../../reference/reference.ts';
import { bool, list, str } from '../args.ts';
import type { Command, Environment } from '../cli.ts';

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
      { name: 'target', type: 'string', description: 'Set the target build stage to build' },
      {
        name: 'quiet',
        short: 'q',
        type: 'bool',
        description: 'Suppress the build output and print image ID on success',
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
    const quiet = bool(parsed, 'quiet');
    const ctx = cli.context(quiet ? undefined : (event) => renderBuildEvent(cli.stdout, event));
    // Docker reads -f relative to the current directory; the engine reads it relative to the context.
    const file = str(parsed, 'file');
    const image = await build(ctx, {
      contextDir,
      ...(file !== undefined ? { dockerfile: resolve(file) } : {}),
      tags,
      buildArgs,
      noCache: bool(parsed, 'no-cache'),
      ...(str(parsed, 'target') !== undefined ? { target: str(parsed, 'target')! } : {}),
      ...sourceDateEpoch(cli.env),
    });
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

function renderBuildEvent(out: NodeJS.WritableStream, event: EngineEvent): void {
  if (event.type === 'build.step') {
    out.write(`Step ${event.step}/${event.total} : ${event.instruction}\n`);
  } else if (event.type === 'build.output') {
    out.write(event.data);
  }
}
