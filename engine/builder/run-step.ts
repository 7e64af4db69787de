// One RUN step: a working container (marked external, as Docker's build containers are) runs the
// command with its output streamed; on success its upper dir becomes the step's layer.

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
  });
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
    if (exitCode !== 0) return { exitCode };
    const upper = rootfsPaths(containerDir(ctx, record.id)).upper;
    const image = await opts.build(
      tarUpper(ctx, upper, opts.mtime === undefined ? {} : { mtime: opts.mtime }),
    );
    return { exitCode, image };
  } finally {
    await removeContainer(ctx, record.id, { force: true });
  }
}
