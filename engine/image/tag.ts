// `tag`: another name for an image already in the store, as `docker tag SOURCE TARGET`.

import type { EngineContext } from '../context.ts';
import { InvalidReferenceError } from '../errors.ts';
import type { Image } from '../oci/types.ts';
import { formatReference, parseReference } from '../reference/reference.ts';
import { loadImage, tagImage } from '../store/images.ts';

/** Points `target` (`myname:v1`) at the image `source` names; returns that image. */
export async function tag(ctx: EngineContext, source: string, target: string): Promise<Image> {
  const image = await loadImage(ctx, source);
  const ref = parseReference(target);
  if (ref.digest !== undefined) {
    throw new InvalidReferenceError(target, 'refusing to create a tag with a digest reference');
  }
  const full = formatReference(ref);
  await tagImage(ctx, image.id, full);
  return image;
}
