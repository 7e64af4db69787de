// What `images`, `history`, `system df` and `image inspect` show, as data: the CLI formats the
// tables (Docker's columns), the server sends the same rows to the page.

import { buildCacheEntries } from '../builder/cache.ts';
import { readAllRecords } from '../container/record.ts';
import { reconcile } from '../container/state.ts';
import { writableSize } from '../container/views.ts';
import type { EngineContext } from '../context.ts';
import type { Digest } from '../oci/digest.ts';
import { type Image, imageLayers } from '../oci/types.ts';
import { familiarName, familiarRepository, parseReference } from '../reference/reference.ts';
import { getImageRecord, listImages, loadImage } from '../store/images.ts';
import { layerDiffDir, listLayers, readLayerInfo } from '../store/layers.ts';

export interface HistoryRow {
  /** The image id on the top row, `<missing>` below it (Docker has no ids for pulled steps). */
  image: string;
  created: string | undefined;
  createdBy: string;
  /** Uncompressed size of the step's layer; 0 for metadata-only steps. */
  size: number;
  comment: string;
  emptyLayer: boolean;
}

/**
 * The local images `image` was built on, by the number of history entries each has: the rows of
 * `history` that such an image ends get its id, the rest (steps pulled from elsewhere) `<missing>`.
 */
async function ancestorsByDepth(ctx: EngineContext, image: Image): Promise<Map<number, Digest>> {
  const byDepth = new Map<number, Digest>();
  let record = await getImageRecord(ctx, image.id);
  const seen = new Set<Digest>();
  while (record.parent !== undefined && !seen.has(record.parent)) {
    seen.add(record.parent);
    try {
      const parent = await loadImage(ctx, record.parent);
      byDepth.set(parent.config.history?.length ?? 0, parent.id);
      record = await getImageRecord(ctx, parent.id);
    } catch {
      break; // the parent was deleted: older rows stay <missing>
    }
  }
  return byDepth;
}

/** `docker history`: one row per history entry, newest first. */
export async function imageHistory(ctx: EngineContext, ref: string): Promise<HistoryRow[]> {
  const image = await loadImage(ctx, ref);
  const ancestors = await ancestorsByDepth(ctx, image);
  const layers = imageLayers(image);
  const rows: HistoryRow[] = [];
  let layerIndex = 0;
  for (const entry of image.config.history ?? []) {
    const empty = entry.empty_layer === true;
    let size = 0;
    if (!empty) {
      const layer = layers[layerIndex++];
      if (layer) size = (await readLayerInfo(ctx, layer.diffId))?.size ?? layer.descriptor.size;
    }
    rows.push({
      image: ancestors.get(rows.length + 1) ?? '<missing>',
      created: entry.created,
      createdBy: entry.created_by ?? '',
      size,
      comment: entry.comment ?? '',
      emptyLayer: empty,
    });
  }
  rows.reverse();
  if (rows[0]) rows[0].image = image.id;
  return rows;
}

export interface ImageRow {
  repository: string;
  tag: string;
  /** The manifest digest this repository knows the image by (`sha256:…`), or `<none>`. */
  digest: string;
  id: Digest;
  created: string;
  size: number;
  parent?: Digest;
}

/** The digest of `repository` among an image's `repo@sha256:…` references, as `images --digests` shows it. */
function digestFor(repoDigests: readonly string[], repository: string): string {
  for (const full of repoDigests) {
    const ref = parseReference(full);
    if (familiarRepository(ref) === repository && ref.digest) return ref.digest;
  }
  return '<none>';
}

/**
 * `docker images`: one row per tag, `<none>` for an untagged image. Untagged images that others were
 * built on are left out unless `all`; `danglingOnly` keeps only the untagged ones (`-f dangling=true`).
 */
export async function listImagesView(
  ctx: EngineContext,
  opts: { all?: boolean; danglingOnly?: boolean } = {},
): Promise<ImageRow[]> {
  const records = await listImages(ctx);
  // Untagged images others were built on are "intermediate images": Docker shows them only with -a.
  const parents = new Set(records.map((r) => r.parent));
  const rows: ImageRow[] = [];
  for (const record of records) {
    const base = {
      id: record.id,
      created: record.created,
      size: record.size,
      ...(record.parent ? { parent: record.parent } : {}),
    };
    if (record.repoTags.length === 0) {
      if (!opts.all && parents.has(record.id)) continue;
      const first = record.repoDigests[0];
      const repository = first ? familiarRepository(parseReference(first)) : '<none>';
      rows.push({
        repository,
        tag: '<none>',
        digest: digestFor(record.repoDigests, repository),
        ...base,
      });
      continue;
    }
    if (opts.danglingOnly) continue;
    for (const full of record.repoTags) {
      const ref = parseReference(full);
      const repository = familiarRepository(ref);
      rows.push({
        repository,
        tag: ref.tag ?? '<none>',
        digest: digestFor(record.repoDigests, repository),
        ...base,
      });
    }
  }
  // Newest first, then by name, as Docker lists them.
  return rows.sort(
    (a, b) =>
      b.created.localeCompare(a.created) ||
      a.repository.localeCompare(b.repository) ||
      a.tag.localeCompare(b.tag),
  );
}

export interface DfRow {
  type: 'Images' | 'Containers' | 'Local Volumes' | 'Build Cache';
  total: number;
  active: number;
  size: number;
  reclaimable: number;
}

/** `docker system df`: what the store holds and what pruning would free. */
export async function systemDf(ctx: EngineContext): Promise<DfRow[]> {
  const allRecords = await listImages(ctx);
  // Reconciled with their shims: a record still says `running` when its shim died without telling.
  const containers = await Promise.all((await readAllRecords(ctx)).map((r) => reconcile(ctx, r)));
  const usedImages = new Set(containers.map((c) => c.imageId));
  // A build step's image (untagged, in the build cache, another image built on it) is what BuildKit
  // keeps as build cache, not an image: Docker's `system df` counts it there.
  const cache = await buildCacheEntries(ctx);
  const cached = new Set<string>(cache.map((e) => e.imageId));
  const parents = new Set(allRecords.map((r) => r.parent));
  const isStep = (r: (typeof allRecords)[number]) =>
    r.repoTags.length === 0 && cached.has(r.id) && parents.has(r.id) && !usedImages.has(r.id);
  const records = allRecords.filter((r) => !isStep(r));
  const steps = allRecords.filter(isStep);
  const containerSizes = await Promise.all(containers.map((c) => writableSize(ctx, c.id).catch(() => 0)));
  const layerSizes = new Map((await listLayers(ctx)).map((l) => [l.diffId, l.size]));
  // Shared layers count once, and are reclaimable only if no image in use holds them.
  const activeLayers = new Set<Digest>();
  const allLayers = new Set<Digest>();
  for (const record of records) {
    const image = await loadImage(ctx, record.id);
    for (const diffId of image.config.rootfs.diff_ids) {
      allLayers.add(diffId);
      if (usedImages.has(record.id)) activeLayers.add(diffId);
    }
  }
  const stepLayers = new Set<Digest>();
  for (const record of steps) {
    const image = await loadImage(ctx, record.id);
    for (const diffId of image.config.rootfs.diff_ids) if (!allLayers.has(diffId)) stepLayers.add(diffId);
  }
  const sum = (ids: Iterable<Digest>) => [...ids].reduce((n, id) => n + (layerSizes.get(id) ?? 0), 0);
  const imagesSize = sum(allLayers);
  const cacheSize = sum(stepLayers);
  const stepIds = new Set<string>(steps.map((r) => r.id));
  return [
    {
      type: 'Images',
      total: records.length,
      active: records.filter((r) => usedImages.has(r.id)).length,
      size: imagesSize,
      reclaimable: imagesSize - sum(activeLayers),
    },
    {
      type: 'Containers',
      total: containers.length,
      active: containers.filter((c) => c.state.status === 'running').length,
      // Writable layers, as `ps -s` sizes them; a stopped container's is what `container prune` frees.
      size: containerSizes.reduce((a, b) => a + b, 0),
      reclaimable: containerSizes
        .filter((_, i) => containers[i]!.state.status !== 'running')
        .reduce((a, b) => a + b, 0),
    },
    { type: 'Local Volumes', total: 0, active: 0, size: 0, reclaimable: 0 },
    {
      type: 'Build Cache',
      total: cache.filter((e) => stepIds.has(e.imageId)).length,
      active: 0,
      size: cacheSize,
      reclaimable: cacheSize,
    },
  ];
}

/** `docker image inspect`, in Docker's field names. */
export async function inspectImage(ctx: EngineContext, ref: string): Promise<Record<string, unknown>> {
  const image: Image = await loadImage(ctx, ref);
  const record = await getImageRecord(ctx, image.id);
  const config = image.config;
  const layers = imageLayers(image);
  return {
    Id: image.id,
    RepoTags: (record?.repoTags ?? []).map((t) => familiarName(parseReference(t))),
    RepoDigests: (record?.repoDigests ?? []).map((d) => familiarName(parseReference(d))),
    Parent: record?.parent ?? '',
    Comment: config.history?.at(-1)?.comment ?? '',
    Created: config.created ?? record?.created ?? '',
    Author: config.author ?? '',
    Config: {
      User: config.config?.User ?? '',
      ExposedPorts: config.config?.ExposedPorts,
      Env: config.config?.Env ?? null,
      Cmd: config.config?.Cmd ?? null,
      Entrypoint: config.config?.Entrypoint ?? null,
      Volumes: config.config?.Volumes ?? null,
      WorkingDir: config.config?.WorkingDir ?? '',
      Labels: config.config?.Labels ?? null,
      ...(config.config?.StopSignal ? { StopSignal: config.config.StopSignal } : {}),
    },
    Architecture: config.architecture,
    ...(config.variant ? { Variant: config.variant } : {}),
    Os: config.os,
    Size: record?.size ?? 0,
    ManifestDigest: image.manifestDigest,
    GraphDriver: {
      Name: 'overlay2',
      Data: {
        LowerDir: layers
          .slice(0, -1)
          .reverse()
          .map((l) => layerDiffDir(ctx, l.diffId))
          .join(':'),
        UpperDir: layers.length > 0 ? layerDiffDir(ctx, layers.at(-1)!.diffId) : '',
      },
    },
    RootFS: { Type: 'layers', Layers: [...config.rootfs.diff_ids] },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
  };
}
