// `docker pull`'s transcript around the engine's pull: the header, per-layer progress from `pull.*`
// events, then the digest, the status line and the full reference. Shared by pull, run and create.

import type { Digest } from '../oci/digest.ts';
import type { Image } from '../oci/types.ts';
import { pull } from '../pull.ts';
import { familiarName, formatReference, parseReference, type Reference } from '../reference/reference.ts';
import { parsePlatform } from '../registry/platform.ts';
import { loadImage } from '../store/images.ts';
import type { Cli } from './cli.ts';
import { LineBoard, type ProgressStream, pullProgress } from './progress.ts';

/** True when the user named a tag or digest themselves (`busybox:1`), not just the repository. */
export function hasExplicitTag(input: string): boolean {
  const last = input.slice(input.lastIndexOf('/') + 1);
  return last.includes(':') || last.includes('@');
}

/** Header lines Docker prints before the layers. */
export function pullHeader(input: string, ref: Reference): string[] {
  const lines: string[] = [];
  if (!hasExplicitTag(input)) lines.push(`Using default tag: ${ref.tag}`);
  lines.push(`${ref.digest ?? ref.tag}: Pulling from ${ref.path}`);
  return lines;
}

/** Pulls `input`, writing Docker's transcript to `out` (stdout for pull, stderr for run). */
export async function pullWithProgress(
  cli: Cli,
  input: string,
  out: ProgressStream,
  options: { quiet?: boolean; platform?: string } = {},
): Promise<Image> {
  const ref = parseReference(input);
  const full = formatReference(ref);
  const board = new LineBoard(out);
  const previous = await loadImage(cli.context(), full).then(
    (image) => image.id,
    () => undefined,
  );
  const progress = pullProgress(options.quiet ? { write: () => true } : out);
  let manifestDigest: Digest | undefined;
  if (!options.quiet) for (const line of pullHeader(input, ref)) board.line(line);
  const ctx = cli.context((event) => {
    if (event.type === 'pull.done') manifestDigest = event.manifestDigest;
    progress.sink(event);
  });
  const platform = options.platform ? { platform: parsePlatform(options.platform) } : {};
  const image = await pull(ctx, input, platform);
  if (!options.quiet) {
    board.line(`Digest: ${ref.digest ?? manifestDigest ?? image.manifestDigest}`);
    const status = previous === image.id ? 'Image is up to date for' : 'Downloaded newer image for';
    board.line(`Status: ${status} ${familiarName(ref)}`);
  }
  board.line(full);
  return image;
}
