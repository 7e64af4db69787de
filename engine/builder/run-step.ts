// One RUN step: a working container runs the command with its output streamed; on success its upper
// dir becomes the step's layer. Every one is made as a build's (external: no volumes of its own).
// The classic builder's are listed by `ps`, as Docker's are, and a failed step's stays unless
// `--force-rm`; BuildKit's stay hidden, since Docker's BuildKit makes none that Docker lists.

import type { Readable } from 'node:stream';
import { createContainer, removeContainer, startContainer, waitContainer } from '../container/lifecycle.ts';
import { containerDir } from '../container/state.ts';
import type { EngineContext } from '../context.ts';
import { tarUpper } from '../layer/upper-tar.ts';
import type { Image } from '../oci/types.ts';
import { rootfsPaths } from '../runtime/overlay.ts';

export interface RunStepOptions {
  argv: string[];
  env: string[];
  user: string;
  workingDir: string;
  /** Listed by `ps` (the classic builder's containers); BuildKit's are hidden. */
  listed: boolean;
  /** A command that fails leaves its container behind (the classic builder without `--force-rm`). */
  keepOnFailure?: boolean;
  /** Cap for every mtime in the layer (reproducible builds); none keeps the real times. */
  mtime?: Date;
  onStart(containerId: string): void;
  onOutput(data: string): void;
  /** Turns the container's changes into the step's image (appendLayer). */
  build(layerTar: Readable): Promise<Image>;
}

/** Runs `argv` on `base`; the image is made only when the command exits 0. */
export async function runStep(
  ctx: EngineContext,
  base: Image,
  opts: RunStepOptions,
): Promise<{ exitCode: number; image?: Image }> {
  const [entrypoint, ...args] = opts.argv;
  const record = await createContainer(ctx, {
    image: base.id,
    entrypoint: [entrypoint!],
    ...(args.length > 0 ? { cmd: args } : {}),
    env: opts.env,
    ...(opts.user ? { user: opts.user } : {}),
    ...(opts.workingDir ? { workingDir: opts.workingDir } : {}),
    external: true,
    listed: opts.listed,
  });
  let keep = false;
  try {
    opts.onStart(record.id);
    const { connection } = await startContainer(ctx, record.id, { attach: true });
    let exitCode: number;
    if (connection) {
      connection.onData((_stream, data) => opts.onOutput(data.toString('utf8')));
      exitCode = await new Promise<number>((resolve) => connection.onExit(resolve));
      await connection.closed;
    } else {
      exitCode = await waitContainer(ctx, record.id);
    }
    if (exitCode !== 0) {
      keep = opts.keepOnFailure === true;
      return { exitCode };
    }
    const upper = rootfsPaths(containerDir(ctx, record.id)).upper;
    const image = await opts.build(
      tarUpper(ctx, upper, opts.mtime === undefined ? {} : { mtime: opts.mtime }),
    );
    return { exitCode, image };
  } finally {
    if (!keep) await removeContainer(ctx, record.id, { force: true });
  }
}
