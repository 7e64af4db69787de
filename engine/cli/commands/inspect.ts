// `layerlab inspect NAME...`: containers first, then images, as Docker looks them up; `-f` renders
// a Go-style template per object, `--type` narrows the lookup.
import { inspectContainer } from '../../container/views.ts';
import { InvalidArgumentError, InvalidReferenceError, NotFoundError } from '../../errors.ts';
import { inspectJson } from '../../format/text.ts';
import { inspectImage } from '../../image/views.ts';
import { str } from '../args.ts';
import type { Cli, Command } from '../cli.ts';
import { INSPECT_FORMAT_FLAG } from '../format-flags.ts';
import { forCaller } from '../host-paths.ts';
import { parseTemplate } from '../template.ts';

type Kind = 'container' | 'image';

export function inspectCommand(name: string, only?: Kind): Command {
  return {
    spec: {
      name,
      usage: only
        ? `[OPTIONS] ${only.toUpperCase()} [${only.toUpperCase()}...]`
        : '[OPTIONS] NAME|ID [NAME|ID...]',
      description: only
        ? `Display detailed information on one or more ${only}s`
        : 'Return low-level information on Layerlab objects',
      minArgs: 1,
      flags: [
        INSPECT_FORMAT_FLAG,
        ...(only
          ? []
          : [
              {
                name: 'type',
                type: 'string' as const,
                description: 'Return JSON for specified type (container or image)',
              },
            ]),
      ],
    },
    async run(cli, parsed) {
      const type = only ?? str(parsed, 'type');
      if (type !== undefined && type !== 'container' && type !== 'image') {
        throw new InvalidArgumentError(`"${type}" is not a valid value for --type`, type);
      }
      const given = str(parsed, 'format');
      // `--format json` is the default output, as in Docker 24 and later.
      const format = given === '' || given?.trim() === 'json' ? undefined : given;
      const template = format === undefined ? undefined : parseTemplate(format, { missingKeyError: true });
      const found: unknown[] = [];
      let status = 0;
      for (const target of parsed.args) {
        const value = await lookup(cli, target, type);
        if (value === undefined) {
          cli.err(`Error: No such ${type ?? 'object'}: ${target}`);
          status = 1;
          continue;
        }
        // Each rendering ends in a newline of its own, even after `println`, as Docker's does.
        if (template) cli.stdout.write(`${template.execute(value)}\n`);
        else found.push(value);
      }
      if (!template) cli.stdout.write(inspectJson(found));
      return status;
    },
  };
}

async function lookup(cli: Cli, target: string, type: Kind | undefined): Promise<unknown> {
  const ctx = cli.context();
  const attempts: (() => Promise<unknown>)[] = [];
  if (type !== 'image') attempts.push(async () => forCaller(cli, ctx, await inspectContainer(ctx, target)));
  if (type !== 'container') attempts.push(async () => forCaller(cli, ctx, await inspectImage(ctx, target)));
  for (const attempt of attempts) {
    try {
      return await attempt();
    } catch (err) {
      if (
        !(
          err instanceof NotFoundError ||
          err instanceof InvalidArgumentError ||
          err instanceof InvalidReferenceError
        )
      )
        throw err;
    }
  }
  return undefined;
}

export const command: Command = inspectCommand('inspect');
