// Puts a session back to a lesson step's declared starting state: every container goes, every image
// not declared goes (records only: content stays shared and cached), declared images are pulled if
// missing, declared containers are created again. Independent steps run in parallel: well under a
// second when the images are already here.

import { createContainer, removeContainer, runContainer } from '../../engine/container/lifecycle.ts';
import { readAllRecords } from '../../engine/container/record.ts';
import type { EngineContext } from '../../engine/context.ts';
import { InvalidArgumentError, NotFoundError } from '../../engine/errors.ts';
import type { Digest } from '../../engine/oci/digest.ts';
import { pull } from '../../engine/pull.ts';
import { formatReference, parseReference } from '../../engine/reference/reference.ts';
import { deleteImageRecord, listImages, resolveImageId, untagImage } from '../../engine/store/images.ts';

import { type ResetContainer, type ResetTarget, type ResetTargetInput, resetTargetSchema } from './target.ts';

export {
  type ResetTarget,
  type ResetTargetInput,
  resetContainerSchema,
  resetTargetSchema,
} from './target.ts';

export interface ResetReport {
  removedContainers: number;
  removedImages: number;
  untagged: string[];
  pulled: string[];
  /** Ids of the containers created, in the declared order. */
  containers: string[];
  /** Wall time of the reset, and of its phases (containers removed, images, pulls, containers made). */
  ms: number;
  phases: { remove: number; images: number; pull: number; create: number };
}

export interface ResetOptions {
  /** The session id, stored as the containers' owner label. */
  owner?: string;
}

/** A reference's full spelling (`docker.io/library/busybox:latest`), or undefined for an id. */
function fullRef(ref: string): string | undefined {
  if (/^(sha256:)?[a-f0-9]{6,64}$/.test(ref)) return undefined;
  return formatReference(parseReference(ref));
}

/** Resets `ctx`'s state to `to` (default: nothing at all). */
export async function resetState(
  ctx: EngineContext,
  to: ResetTarget = {},
  options: ResetOptions = {},
): Promise<ResetReport> {
  const started = performance.now();
  const wantedRefs = [...(to.images ?? [])];
  for (const c of to.containers ?? []) {
    if (!wantedRefs.includes(c.image)) wantedRefs.push(c.image);
  }
  const names = (to.containers ?? []).map((c) => c.name);
  if (new Set(names).size !== names.length)
    throw new InvalidArgumentError('reset: container names must differ');

  // 1. Containers: all of them, at once (each removal takes only its own container's lock).
  const records = await readAllRecords(ctx);
  await Promise.all(records.map((r) => removeContainer(ctx, r.id, { force: true }).catch(ignoreNotFound)));
  const removed = performance.now();

  // 2. Images: keep the declared ones under their declared names only; forget the rest.
  const keepRefs = new Set(wantedRefs.map(fullRef).filter((r): r is string => r !== undefined));
  const keepIds = new Set<Digest>();
  const missing: string[] = [];
  await Promise.all(
    wantedRefs.map(async (ref) => {
      try {
        keepIds.add(await resolveImageId(ctx, ref));
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        missing.push(ref);
      }
    }),
  );
  const untagged: string[] = [];
  let removedImages = 0;
  for (const image of await listImages(ctx)) {
    if (!keepIds.has(image.id)) {
      await deleteImageRecord(ctx, image.id);
      removedImages++;
      continue;
    }
    for (const tag of image.repoTags) {
      if (keepRefs.has(tag)) continue;
      await untagImage(ctx, tag);
      untagged.push(tag);
    }
  }

  const imagesDone = performance.now();

  // 3. Missing images: pulled in parallel (from the shared store, usually only the manifest).
  await Promise.all(missing.map((ref) => pull(ctx, ref)));
  const pulled = performance.now();

  // 4. Declared containers: created (and started) in parallel.
  const containers = await Promise.all(
    (to.containers ?? []).map((c) => makeDeclaredContainer(ctx, c, options.owner)),
  );

  return {
    removedContainers: records.length,
    removedImages,
    untagged,
    pulled: missing,
    containers,
    ms: Math.round(performance.now() - started),
    phases: {
      remove: Math.round(removed - started),
      images: Math.round(imagesDone - removed),
      pull: Math.round(pulled - imagesDone),
      create: Math.round(performance.now() - pulled),
    },
  };
}

function ignoreNotFound(err: unknown): void {
  // Removed meanwhile (an `--rm` container that exited, another request): the goal is reached.
  if (!(err instanceof NotFoundError)) throw err;
}

/** Named starting states a page may ask for by name (`reset { to: 'busybox' }`). */
const targets = new Map<string, ResetTarget>([
  ['empty', {}],
  ['busybox', { images: ['busybox'] }],
]);

/**
 * What a `reset` request's `to` names: a named starting state (`busybox`), or the state itself as
 * data (validated by the request table before it gets here). Undefined means `empty`.
 */
export function resolveResetTarget(to: string | ResetTargetInput | undefined): ResetTarget {
  if (to === undefined) return {};
  if (typeof to === 'string') {
    const named = targets.get(to);
    if (named) return named;
    throw new InvalidArgumentError(
      `reset: unknown starting state ${JSON.stringify(to.slice(0, 60))} (known: ${[...targets.keys()].join(', ')})`,
      to.slice(0, 60),
    );
  }
  const parsed = resetTargetSchema.safeParse(to);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidArgumentError(`reset: ${issue?.path.join('.') || 'to'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** One declared container of a lesson's start: created, or run in the background (`detach`); its id. */
export async function makeDeclaredContainer(
  ctx: EngineContext,
  c: ResetContainer,
  owner: string | undefined,
): Promise<string> {
  const opts = {
    image: c.image,
    name: c.name,
    ...(c.cmd ? { cmd: c.cmd } : {}),
    ...(c.env ? { env: c.env } : {}),
    ...(c.tty ? { tty: true, openStdin: true } : {}),
    ...(owner !== undefined ? { owner } : {}),
  };
  if (c.detach) return (await runContainer(ctx, { ...opts, detach: true })).record.id;
  return (await createContainer(ctx, opts)).id;
}
