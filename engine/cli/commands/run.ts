// `layerlab run [OPTIONS] IMAGE [COMMAND] [ARG...]`: pull if needed, create, start, attach, and exit
// with the container's status (125/126/127 when it could not run, as Docker).
import { killContainer, runContainer } from '../../container/lifecycle.ts';
import { InvalidReferenceError, LayerlabError, redact } from '../../errors.ts';
import { bool } from '../args.ts';
import { availableImagesHint, isMissingImage } from '../available-images.ts';
import { type Cli, type Command, CommandFailure } from '../cli.ts';
import { CREATE_FLAGS, containerOptions, ensureImage } from '../container-flags.ts';
import { runFailureStatus } from '../report.ts';
import { runSession } from '../session.ts';

export const command: Command = {
  spec: {
    name: 'run',
    usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
    description: 'Create and run a new container from an image',
    minArgs: 1,
    stopAtPositional: true,
    aliases: ['container run'],
    flags: [
      ...CREATE_FLAGS,
      {
        name: 'detach',
        short: 'd',
        type: 'bool',
        description: 'Run container in background and print container ID',
      },
    ],
  },
  async run(cli, parsed) {
    const opts = await containerOptions(cli, parsed, 'run');
    const detach = bool(parsed, 'detach');
    // Docker refuses before anything is created: -it needs a terminal to read from.
    if (!detach && opts.tty && opts.openStdin && cli.stdin.isTTY !== true) {
      throw new CommandFailure('the input device is not a TTY', 1);
    }
    const ctx = cli.context();
    let result: Awaited<ReturnType<typeof runContainer>>;
    try {
      await ensureImage(cli, opts.image);
      const size = opts.tty && cli.stdout.isTTY ? { rows: cli.stdout.rows, cols: cli.stdout.columns } : {};
      result = await runContainer(ctx, {
        ...opts,
        ...size,
        detach,
        // Through the resident engine the status goes out as soon as `--rm` has taken the container
        // out of every listing; the engine finishes the removal (the runtime's delete) meanwhile.
        reportBeforeReleased: cli.afterStatus !== undefined,
      });
    } catch (err) {
      throw await runFailure(cli, err);
    }
    if (detach || !result.connection) {
      cli.out(result.record.id);
      return 0;
    }
    const id = result.record.id;
    const end = await runSession(cli, result.connection, {
      tty: opts.tty ?? false,
      interactive: opts.openStdin ?? false,
      exited: result.exited,
      onSignal: (signal) => void killContainer(ctx, id, signal).catch(() => {}),
    });
    if (end.kind !== 'exited') return 0; // detached: the container runs on
    if (cli.afterStatus) cli.afterStatus(result.released);
    else await result.released;
    return end.code;
  },
};

/**
 * Docker's wording for a run that failed before the container ran: `docker: …`, then a hint. An image
 * no registry here has gets a line naming the images that would work.
 */
export async function runFailure(cli: Cli, err: unknown, command = 'run'): Promise<Error> {
  if (!(err instanceof LayerlabError)) return err as Error;
  const message = redact(err.message).replace(/\.$/, '');
  const daemon = err instanceof InvalidReferenceError ? '' : 'Error response from daemon: ';
  const stack = cli.debug && err.stack ? `\n${err.stack}` : '';
  const hint = isMissingImage(err) ? `\n${await availableImagesHint(cli)}` : '';
  return new CommandFailure(
    `layerlab: ${daemon}${message}.${hint}\nSee 'layerlab ${command} --help'.${stack}`,
    runFailureStatus(err),
  );
}
