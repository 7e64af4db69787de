// `rmi` and `image prune` with Docker's rules, and the garbage collection they share: blobs and
// unpacked layers are shared between images, so only what nothing else references is deleted.

import { readAllRecords } from '../container/record.ts';
import { reconcile } from '../container/state.ts';
import type { EngineContext } from '../context.ts';
import { ConflictError } from '../errors.ts';
import { type Digest, shortId } from '../oci/digest.ts';
import { type Image, imageBlobs, imageLayers } from '../oci/types.ts';
import { familiarName, formatReference, parseReference } from '../reference/reference.ts';
import { removeBlob } from '../store/blobs.ts';
import { deleteImageRecord, getImageRecord, listImages, loadImage, untagImage } from '../store/images.ts';
import { layerDiffDir, layerExists, removeLayer } from '../store/layers.ts';
import { withLock } from '../store/lock.ts';

/** The lock store/images.ts takes for every change to the names and records; held across a removal. */
export const IMAGES_LOCK = 'images';

function normalise(ref: string): string {
  return formatReference(parseReference(ref));
}

function display(fullRef: string): string {
  return familiarName(parseReference(fullRef));
}

/** Whether `input` names one of `tags` (else it is an id or id prefix). */
function namedTag(input: string, tags: string[]): string | undefined {
  try {
    const full = normalise(input);
    return tags.map(normalise).includes(full) ? full : undefined;
  } catch {
    return undefined;
  }
}

/** Everything remaining images and containers still use, so a deletion can spare it. */
async function referenced(ctx: EngineContext, except: Set<Digest>) {
  const blobs = new Set<Digest>();
  const layerDirs = new Set<string>();
  for (const record of await listImages(ctx)) {
    if (except.has(record.id)) continue;
    const image = await loadImage(ctx, record.id);
    for (const digest of imageBlobs(image)) blobs.add(digest);
    for (const layer of imageLayers(image)) layerDirs.add(layerDiffDir(ctx, layer.diffId));
  }
  // A container keeps its lower layers even after `rmi -f` took its image away, as Docker does.
  for (const container of await readAllRecords(ctx))
    for (const dir of container.lowerDirs) layerDirs.add(dir);
  return { blobs, layerDirs };
}

/**
 * Deletes the records of `images` and every blob and unpacked layer no other image or container
 * references. Returns Docker's `Deleted: …` lines. Call with the images lock held.
 */
async function deleteImages(ctx: EngineContext, images: Image[]): Promise<string[]> {
  const lines: string[] = [];
  for (const image of images) {
    await deleteImageRecord(ctx, image.id);
    lines.push(`Deleted: ${image.id}`);
  }
  // A server session shares blobs and layers with other sessions: only the records go here, and
  // the server's collectGarbage (engine/gc.ts) deletes content once no session references it.
  if (ctx.paths.sharedContent !== undefined) return lines;
  const keep = await referenced(ctx, new Set(images.map((i) => i.id)));
  const doneBlobs = new Set<Digest>();
  for (const image of images) {
    for (const digest of imageBlobs(image)) {
      if (keep.blobs.has(digest) || doneBlobs.has(digest)) continue;
      doneBlobs.add(digest);
      await removeBlob(ctx, digest);
    }
    for (const layer of imageLayers(image)) {
      if (!keep.layerDirs.has(layerDiffDir(ctx, layer.diffId)) && (await layerExists(ctx, layer.diffId))) {
        await removeLayer(ctx, layer.diffId);
        lines.push(`Deleted: ${layer.diffId}`);
      }
    }
  }
  return lines;
}

/**
 * The untagged images `id` was built on that nothing else needs: no other child, no container. Docker
 * deletes these intermediate images (a build's steps) together with the image.
 */
async function unusedAncestors(ctx: EngineContext, id: Digest): Promise<Image[]> {
  const records = await listImages(ctx);
  const used = new Set((await readAllRecords(ctx)).map((c) => c.imageId));
  const byId = new Map(records.map((r) => [r.id, r]));
  const chain: Image[] = [];
  let current = byId.get(id);
  while (current?.parent !== undefined) {
    const parentId = current.parent;
    const parent = byId.get(parentId);
    const children = records.filter((r) => r.parent === parentId && r.id !== current?.id);
    if (!parent || parent.repoTags.length > 0 || used.has(parentId) || children.length > 0) break;
    chain.push(await loadImage(ctx, parentId));
    current = parent;
  }
  return chain;
}

/**
 * `docker rmi`: a name with other names beside it is only untagged; the last name (or an id) deletes
 * the image and what only it used. Containers, also stopped ones, keep their image: without `force`
 * the removal is refused, with it the last name is only untagged (by id, a stopped container's
 * image is deleted when forced; a running container's never is).
 */
export async function removeImage(
  ctx: EngineContext,
  ref: string,
  opts: { force?: boolean } = {},
): Promise<string[]> {
  return withLock(ctx, IMAGES_LOCK, async () => {
    const image = await loadImage(ctx, ref);
    const record = await getImageRecord(ctx, image.id);
    const tags = (record?.repoTags ?? []).map(normalise);
    const byTag = namedTag(ref, tags);
    // Reconciled, so a container whose shim died counts as exited rather than blocking rmi as running.
    const users = await Promise.all(
      (await readAllRecords(ctx)).filter((c) => c.imageId === image.id).map((c) => reconcile(ctx, c)),
    );
    const running = users.find((c) => c.state.status === 'running');
    const lines: string[] = [];
    const untag = async (full: string) => {
      await untagImage(ctx, full);
      lines.push(`Untagged: ${display(full)}`);
    };

    if (byTag !== undefined) {
      if (tags.length > 1) {
        await untag(byTag);
        return lines;
      }
      if (users.length > 0 && !opts.force) {
        const name = display(byTag).replace(/:latest$/, '');
        throw new ConflictError(
          `conflict: unable to remove repository reference "${name}" (must force) - container ${shortId(users[0]!.id)} is using its referenced image ${shortId(image.id)}`,
          ref,
        );
      }
      await untag(byTag);
      // Forced, the last name goes but a container's image stays, dangling (Docker's image store
      // keeps it for the container, running or stopped): `ps -a` shows it by id.
      if (running || users.length > 0) return lines;
    } else {
      if (running) {
        throw new ConflictError(
          `conflict: unable to delete ${shortId(image.id)} (cannot be forced) - image is being used by running container ${shortId(running.id)}`,
          ref,
        );
      }
      if (users.length > 0 && !opts.force) {
        throw new ConflictError(
          `conflict: unable to delete ${shortId(image.id)} (must be forced) - image is being used by stopped container ${shortId(users[0]!.id)}`,
          ref,
        );
      }
      if (tags.length > 1 && !opts.force) {
        throw new ConflictError(
          `conflict: unable to delete ${shortId(image.id)} (must be forced) - image is referenced in multiple repositories`,
          ref,
        );
      }
      for (const full of tags) await untag(full);
    }
    lines.push(...(await deleteImages(ctx, [image, ...(await unusedAncestors(ctx, image.id))])));
    return lines;
  });
}

/**
 * `docker image prune`: deletes dangling images (no tag, not the parent of another image), or with
 * `all` every image no container uses. Returns the deleted ids and the bytes reclaimed.
 */
export async function pruneImages(
  ctx: EngineContext,
  opts: { all?: boolean } = {},
): Promise<{ deleted: string[]; untagged: string[]; spaceReclaimed: number }> {
  return withLock(ctx, IMAGES_LOCK, async () => {
    const used = new Set((await readAllRecords(ctx)).map((c) => c.imageId));
    const records = await listImages(ctx);
    const parents = new Set(records.map((r) => r.parent));
    const victims = records.filter((r) => {
      if (used.has(r.id)) return false;
      if (opts.all) return true;
      return r.repoTags.length === 0 && !parents.has(r.id);
    });
    const images = await Promise.all(victims.map((r) => loadImage(ctx, r.id)));
    const untagged: string[] = [];
    for (const record of victims) {
      for (const full of record.repoTags) {
        await untagImage(ctx, normalise(full));
        untagged.push(`untagged: ${display(full)}`);
      }
    }
    const spaceReclaimed = victims.reduce((sum, r) => sum + r.size, 0);
    const lines = await deleteImages(ctx, images);
    return { deleted: lines.map((l) => l.replace(/^Deleted: /, 'deleted: ')), untagged, spaceReclaimed };
  });
}
