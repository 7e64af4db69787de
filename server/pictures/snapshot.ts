// The session's engine state as one JSON document for the pictures: images with their layers (and
// which other images share each one), containers with their overlay stack and writable layer, and
// the `ps -s` story in totals. Reads records, manifests, configs and upper dirs; never an image walk.

import { readAllRecords } from '../../engine/container/record.ts';
import { containerDir, reconcile } from '../../engine/container/state.ts';
import type { EngineContext } from '../../engine/context.ts';
import type { Digest } from '../../engine/oci/digest.ts';
import { type Image, imageLayers } from '../../engine/oci/types.ts';
import { familiarName, parseReference } from '../../engine/reference/reference.ts';
import { rootfsPaths } from '../../engine/runtime/overlay.ts';
import { type ImageRecord, imageFromManifest, listImages } from '../../engine/store/images.ts';
import { readLayerInfo } from '../../engine/store/layers.ts';
import { containerStack, emptyHistory, layerHistory } from './layers.ts';
import { DEFAULT_MAX_ENTRIES, listUpper, type UpperTree } from './upper-tree.ts';

export interface SnapshotLayer {
  /** The compressed blob's digest (what a registry serves). */
  digest: Digest;
  /** The digest of the uncompressed tar: the layer's identity once unpacked. */
  diffId: Digest;
  /** Compressed bytes, as pulled. */
  size: number;
  /** Bytes of file content once unpacked, when the layer is unpacked here. */
  unpackedSize?: number;
  createdBy?: string;
  /** Other images of this session with the same layer (same diff_id): stored once, used by all. */
  sharedWith: Digest[];
}

export interface SnapshotImage {
  id: Digest;
  /** Familiar names: `busybox:latest`, `layerlab/webapp:latest`. */
  repoTags: string[];
  created: string;
  /** What `docker images` shows: the unpacked size of all its layers. */
  size: number;
  /** Base layer first, as in `rootfs.diff_ids`. */
  layers: SnapshotLayer[];
  /** History steps that made no layer (`ENV`, `CMD`, …). */
  emptyHistory: { createdBy?: string; created?: string; comment?: string }[];
}

export interface SnapshotContainer {
  id: string;
  name: string;
  /** The image as the user typed it, its id, and a current familiar name for it (if still tagged). */
  image: string;
  imageId: Digest;
  imageName?: string;
  state: 'created' | 'running' | 'exited';
  exitCode: number;
  created: string;
  /** Bytes in the writable layer (`ps -s` SIZE). */
  sizeRw: number;
  /** sizeRw plus the image (`ps -s` "virtual"). */
  virtualSize: number;
  /** The image layers under the container, top first. */
  lowerLayers: Digest[];
  upper: UpperTree;
}

export interface SnapshotTotals {
  /** Per image: how many of its bytes it shares with other images of the session. */
  images: { id: Digest; size: number; sharedSize: number; uniqueSize: number }[];
  /** Unpacked bytes of every distinct layer the session's images use: what is really on disk. */
  layerBytes: number;
  /** The sum of the images' sizes, as if nothing were shared. */
  imageBytesIfUnshared: number;
  /** All writable layers together. */
  containerBytes: number;
  /** The sum of the containers' virtual sizes: what it would cost if each had a copy of its image. */
  virtualBytes: number;
}

export interface SessionSnapshot {
  images: SnapshotImage[];
  containers: SnapshotContainer[];
  totals: SnapshotTotals;
}

export interface SnapshotOptions {
  /** Cap on upper-dir entries listed per container. */
  maxUpperEntries?: number;
}

function familiar(full: string): string {
  try {
    return familiarName(parseReference(full));
  } catch {
    return full;
  }
}

/** The session's images and containers, with layer sharing worked out, for `GET /api/state`. */
export async function snapshotState(
  ctx: EngineContext,
  options: SnapshotOptions = {},
): Promise<SessionSnapshot> {
  const records = await listImages(ctx);
  const loaded = await Promise.all(
    records.map(async (record) => ({ record, image: await imageFromManifest(ctx, record.manifestDigest) })),
  );
  const unpacked = await unpackedSizes(ctx, loaded);

  // diff_id → the images that have it, for `sharedWith`.
  const users = new Map<Digest, Digest[]>();
  for (const { image } of loaded) {
    for (const diffId of new Set(image.config.rootfs.diff_ids)) {
      users.set(diffId, [...(users.get(diffId) ?? []), image.id]);
    }
  }

  const images = loaded.map(({ record, image }) => imageEntry(record, image, unpacked, users));
  const byId = new Map(images.map((i) => [i.id, i]));
  const known = new Map(loaded.map(({ image }) => [image.id, image]));
  const containers = await containerEntries(ctx, byId, known, options.maxUpperEntries ?? DEFAULT_MAX_ENTRIES);

  const layerBytes = [...users.keys()].reduce((sum, d) => sum + (unpacked.get(d) ?? 0), 0);
  const totals: SnapshotTotals = {
    images: images.map((img) => {
      const sharedSize = img.layers
        .filter((l) => l.sharedWith.length > 0)
        .reduce((sum, l) => sum + (l.unpackedSize ?? l.size), 0);
      return { id: img.id, size: img.size, sharedSize, uniqueSize: img.size - sharedSize };
    }),
    layerBytes,
    imageBytesIfUnshared: images.reduce((sum, i) => sum + i.size, 0),
    containerBytes: containers.reduce((sum, c) => sum + c.sizeRw, 0),
    virtualBytes: containers.reduce((sum, c) => sum + c.virtualSize, 0),
  };
  return { images, containers, totals };
}

/** Unpacked size per diff_id, read once per distinct layer (one small JSON file each). */
async function unpackedSizes(
  ctx: EngineContext,
  loaded: readonly { image: Image }[],
): Promise<Map<Digest, number>> {
  const ids = new Set<Digest>();
  for (const { image } of loaded) for (const d of image.config.rootfs.diff_ids) ids.add(d);
  const sizes = new Map<Digest, number>();
  await Promise.all(
    [...ids].map(async (diffId) => {
      const info = await readLayerInfo(ctx, diffId).catch(() => undefined);
      if (info) sizes.set(diffId, info.size);
    }),
  );
  return sizes;
}

function imageEntry(
  record: ImageRecord,
  image: Image,
  unpacked: Map<Digest, number>,
  users: Map<Digest, Digest[]>,
): SnapshotImage {
  const history = layerHistory(image);
  const layers = imageLayers(image).map((layer, i): SnapshotLayer => {
    const unpackedSize = unpacked.get(layer.diffId);
    const createdBy = history[i]?.created_by;
    return {
      digest: layer.descriptor.digest,
      diffId: layer.diffId,
      size: layer.descriptor.size,
      ...(unpackedSize !== undefined ? { unpackedSize } : {}),
      ...(createdBy !== undefined ? { createdBy } : {}),
      sharedWith: (users.get(layer.diffId) ?? []).filter((id) => id !== image.id),
    };
  });
  return {
    id: image.id,
    repoTags: record.repoTags.map(familiar),
    created: record.created,
    size: record.size,
    layers,
    emptyHistory: emptyHistory(image).map((h) => ({
      ...(h.created_by !== undefined ? { createdBy: h.created_by } : {}),
      ...(h.created !== undefined ? { created: h.created } : {}),
      ...(h.comment !== undefined ? { comment: h.comment } : {}),
    })),
  };
}

async function containerEntries(
  ctx: EngineContext,
  images: Map<Digest, SnapshotImage>,
  known: ReadonlyMap<Digest, Image>,
  maxEntries: number,
): Promise<SnapshotContainer[]> {
  const records = (await readAllRecords(ctx)).filter((r) => !r.external).reverse();
  return Promise.all(
    records.map(async (stored): Promise<SnapshotContainer> => {
      const record = await reconcile(ctx, stored);
      const stack = await containerStack(ctx, record, known);
      const lowers = stack
        .slice(1)
        .map((s) => (s.source === 'layer' ? { dir: s.dir, diffId: s.layer.diffId } : { dir: s.dir }));
      const upper = listUpper(rootfsPaths(containerDir(ctx, record.id)).upper, lowers, { maxEntries });
      const image = images.get(record.imageId);
      const imageName = image?.repoTags[0];
      return {
        id: record.id,
        name: record.name,
        image: record.image,
        imageId: record.imageId,
        ...(imageName !== undefined ? { imageName } : {}),
        state: record.state.status,
        exitCode: record.state.exitCode,
        created: record.created,
        sizeRw: upper.size,
        virtualSize: upper.size + (image?.size ?? 0),
        lowerLayers: stack.flatMap((s) => (s.source === 'layer' ? [s.layer.diffId] : [])),
        upper,
      };
    }),
  );
}
