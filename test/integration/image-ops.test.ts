// Image operations with Docker's rules: tag, rmi (untag vs delete, containers that hold an image),
// shared layers surviving a delete, history, images, prune, system df and inspect.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createContainer, removeContainer, runContainer } from '../../engine/container/lifecycle.ts';
import { containerDir } from '../../engine/container/state.ts';
import type { EngineContext } from '../../engine/context.ts';
import { appendLayer, mutateConfig } from '../../engine/image/mutate.ts';
import { pruneImages, removeImage } from '../../engine/image/remove.ts';
import { tag } from '../../engine/image/tag.ts';
import { validateImage } from '../../engine/image/validate.ts';
import { imageHistory, inspectImage, listImagesView, systemDf } from '../../engine/image/views.ts';
import { shortId } from '../../engine/oci/digest.ts';
import { type Image, imageLayers } from '../../engine/oci/types.ts';
import { rootfsPaths } from '../../engine/runtime/overlay.ts';
import { hasBlob } from '../../engine/store/blobs.ts';
import { listImages, loadImage } from '../../engine/store/images.ts';
import { ensureLayer, layerDiffDir } from '../../engine/store/layers.ts';
import { makeBusyboxImage } from '../support/busybox-image.ts';
import { freshContext, type TestContext } from '../support/context.ts';
import { buildTar } from '../support/hostile-tars.ts';

const contexts: TestContext[] = [];
afterEach(() => {
  for (const t of contexts.splice(0)) t.cleanup();
});
function fresh(): TestContext {
  const t = freshContext({ mirrors: {} });
  contexts.push(t);
  return t;
}

async function child(ctx: EngineContext, base: Image, file: string, tagName?: string): Promise<Image> {
  const layer = await buildTar([{ name: file, type: 'file', mode: 0o644, data: file }]);
  const image = await appendLayer(ctx, base, Readable.from([layer]), {
    history: { created_by: `COPY ${file} /` },
    created: '2024-02-01T00:00:00Z',
    ...(tagName ? { tag: tagName } : {}),
  });
  await validateImage(ctx, image);
  return image;
}

describe('tag and rmi', () => {
  it('untags while other names remain, then deletes the image but keeps shared layers', async () => {
    const { ctx } = fresh();
    const busybox = await makeBusyboxImage(ctx);
    for (const layer of imageLayers(busybox)) await ensureLayer(ctx, layer);
    const app = await child(ctx, busybox, 'app.txt', 'app:1');
    await tag(ctx, 'app:1', 'app:latest');
    expect(await removeImage(ctx, 'app:latest')).toEqual(['Untagged: app:latest']);
    expect((await loadImage(ctx, 'app:1')).id).toBe(app.id);

    const appLayer = app.manifest.layers[1]!;
    const appDiff = app.config.rootfs.diff_ids[1]!;
    const lines = await removeImage(ctx, 'app:1');
    expect(lines).toEqual(['Untagged: app:1', `Deleted: ${app.id}`, `Deleted: ${appDiff}`]);
    await expect(loadImage(ctx, app.id)).rejects.toThrow(/No such image/);
    expect(await hasBlob(ctx, appLayer.digest)).toBe(false);
    expect(await hasBlob(ctx, app.manifestDigest)).toBe(false);
    // busybox's layer is still busybox's.
    expect(await hasBlob(ctx, busybox.manifest.layers[0]!.digest)).toBe(true);
    expect(existsSync(layerDiffDir(ctx, busybox.config.rootfs.diff_ids[0]!))).toBe(true);
    await validateImage(ctx, await loadImage(ctx, 'busybox'));
  });

  it('refuses to remove an image a container uses, unless forced', async () => {
    const { ctx } = fresh();
    const busybox = await makeBusyboxImage(ctx);
    const container = await createContainer(ctx, { image: 'busybox', cmd: ['true'] });
    await expect(removeImage(ctx, 'busybox')).rejects.toThrow(
      `conflict: unable to remove repository reference "busybox" (must force) - container ${shortId(container.id)} is using its referenced image ${shortId(busybox.id)}`,
    );
    await expect(removeImage(ctx, busybox.id)).rejects.toThrow(
      `conflict: unable to delete ${shortId(busybox.id)} (must be forced) - image is being used by stopped container ${shortId(container.id)}`,
    );
    // Forced by name, Docker only untags: the container keeps its (now dangling) image.
    expect(await removeImage(ctx, 'busybox', { force: true })).toEqual(['Untagged: busybox:latest']);
    expect((await loadImage(ctx, busybox.id)).id).toBe(busybox.id);
    // Forced by id, a stopped container's image goes; the container keeps its layers.
    const lines = await removeImage(ctx, busybox.id, { force: true });
    expect(lines[0]).toBe(`Deleted: ${busybox.id}`);
    expect(existsSync(layerDiffDir(ctx, busybox.config.rootfs.diff_ids[0]!))).toBe(true);
    await removeContainer(ctx, container.id);
  });

  it('never deletes the image of a running container, even forced', async () => {
    const { ctx } = fresh();
    const busybox = await makeBusyboxImage(ctx);
    const run = await runContainer(ctx, { image: 'busybox', cmd: ['sleep', '30'], detach: true });
    try {
      await expect(removeImage(ctx, busybox.id, { force: true })).rejects.toThrow(
        /\(cannot be forced\) - image is being used by running container/,
      );
      expect(await removeImage(ctx, 'busybox', { force: true })).toEqual(['Untagged: busybox:latest']);
      expect((await loadImage(ctx, busybox.id)).id).toBe(busybox.id);
    } finally {
      await removeContainer(ctx, run.record.id, { force: true });
    }
  });
});

describe('rmi of a built image', () => {
  it('also deletes the untagged intermediate images it was built on, but not tagged ones', async () => {
    const { ctx } = fresh();
    const busybox = await makeBusyboxImage(ctx);
    const middle = await mutateConfig(ctx, busybox, { Env: ['A=1'] }, { created_by: 'ENV A=1' });
    const top = await child(ctx, middle, 'top.txt', 'top:1');
    const history = await imageHistory(ctx, 'top:1');
    expect(history.map((r) => r.image)).toEqual([top.id, middle.id, busybox.id]);
    const lines = await removeImage(ctx, 'top:1');
    expect(lines).toEqual([
      'Untagged: top:1',
      `Deleted: ${top.id}`,
      `Deleted: ${middle.id}`,
      `Deleted: ${top.config.rootfs.diff_ids[1]}`,
    ]);
    expect((await listImages(ctx)).map((r) => r.id)).toEqual([busybox.id]);
  });
});

describe('views', () => {
  it('lists images with <none> for dangling ones and hides intermediate parents', async () => {
    const { ctx } = fresh();
    const busybox = await makeBusyboxImage(ctx);
    const middle = await mutateConfig(ctx, busybox, { Env: ['A=1'] }, { created_by: 'ENV A=1' });
    const top = await child(ctx, middle, 'top.txt', 'top:1');
    const dangling = await child(ctx, busybox, 'loose.txt');
    const rows = await listImagesView(ctx);
    expect(rows.map((r) => `${r.repository}:${r.tag}`).sort()).toEqual([
      '<none>:<none>',
      'busybox:latest',
      'top:1',
    ]);
    expect(rows.find((r) => r.repository === '<none>')?.id).toBe(dangling.id);
    expect((await listImagesView(ctx, { all: true })).map((r) => r.id)).toContain(middle.id);
    expect((await listImagesView(ctx, { danglingOnly: true })).map((r) => r.id)).toEqual([dangling.id]);

    const pruned = await pruneImages(ctx);
    expect(pruned.deleted[0]).toBe(`deleted: ${dangling.id}`);
    expect((await listImages(ctx)).map((r) => r.id).sort()).toEqual([busybox.id, middle.id, top.id].sort());
  });

  it('shows history newest first with <missing> below the top, sizes and empty layers', async () => {
    const { ctx } = fresh();
    const busybox = await makeBusyboxImage(ctx);
    const withEnv = await mutateConfig(
      ctx,
      busybox,
      { Env: ['A=1'] },
      { created_by: 'ENV A=1' },
      { tag: 'env:1' },
    );
    const rows = await imageHistory(ctx, 'env:1');
    expect(rows.map((r) => [r.image, r.createdBy, r.emptyLayer])).toEqual([
      [withEnv.id, 'ENV A=1', true],
      // The row busybox ends shows its id: env:1 was made from it here.
      [busybox.id, 'test/support/busybox-image.ts', false],
    ]);
    expect(rows[0]?.size).toBe(0);
    expect(rows[1]?.size).toBeGreaterThan(1_000_000);
  });

  it('reports disk use and inspects like Docker', async () => {
    const { ctx } = fresh();
    const busybox = await makeBusyboxImage(ctx);
    await child(ctx, busybox, 'x.txt', 'x:1');
    const container = await createContainer(ctx, { image: 'busybox', cmd: ['true'] });
    const df = await systemDf(ctx);
    expect(df.map((r) => r.type)).toEqual(['Images', 'Containers', 'Local Volumes', 'Build Cache']);
    expect(df[0]).toMatchObject({ total: 2, active: 1 });
    // Only x.txt's layer is reclaimable: busybox's is in use.
    expect(df[0]?.reclaimable).toBe(5);
    expect(df[1]).toMatchObject({ total: 1, active: 0, size: 0 });
    // A write in the container's writable layer counts, and a stopped container's is reclaimable.
    writeFileSync(join(rootfsPaths(containerDir(ctx, container.id)).upper, 'note.txt'), '12345678');
    expect((await systemDf(ctx))[1]).toMatchObject({ size: 8, reclaimable: 8 });

    const inspect = await inspectImage(ctx, 'x:1');
    expect(inspect).toMatchObject({
      RepoTags: ['x:1'],
      Os: 'linux',
      RootFS: { Type: 'layers', Layers: expect.any(Array) },
      Config: { Cmd: ['sh'] },
    });
    expect((inspect.RootFS as { Layers: string[] }).Layers).toHaveLength(2);
    await removeContainer(ctx, container.id);
  });
});
