// The line a failed pull ends with in this sandbox: which images its registry serves (the lesson
// images setup seeds) and which are already here, so `docker run ubuntu` says what would work.

import { RegistryError } from '../errors.ts';
import { familiarName, parseReference } from '../reference/reference.ts';
import { listImages } from '../store/images.ts';
import type { Cli } from './cli.ts';

/** "This sandbox's registry has: busybox, layerlab/webapp, …. Images here: busybox:latest." */
export async function availableImagesHint(cli: Cli): Promise<string> {
  // Loaded only on this path: seed.ts brings in the builder.
  const { LESSON_IMAGES } = await import('../seed.ts');
  const offered = LESSON_IMAGES.map((i) => i.repository.replace(/^library\//, ''));
  const here = await listImages(cli.context()).then(
    (records) => records.flatMap((r) => r.repoTags).map((t) => familiarName(parseReference(t))),
    () => [],
  );
  const local = here.length > 0 ? [...new Set(here)].sort().join(', ') : 'none yet';
  return `This sandbox pulls only from its own registry, which has: ${offered.join(', ')}. Images here: ${local}.`;
}

/** Whether `err` is a registry's "no such image" (not found, or denied as Docker Hub words it). */
export function isMissingImage(err: unknown): boolean {
  if (!(err instanceof RegistryError)) return false;
  return /not found|manifest unknown|pull access denied|repository does not exist|name unknown/i.test(
    err.message,
  );
}
