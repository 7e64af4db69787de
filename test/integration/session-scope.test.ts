// Session scoping in the engine: two session roots share pulled blobs and layers on disk but not
// images, names or containers; one session's rmi never breaks another's; collectGarbage frees
// shared content only once no session references it.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeContainer, resolveContainer, runContainer } from '../../engine/container/index.ts';
import { createContext, type EngineContext } from '../../engine/context.ts';
import type { EngineEvent } from '../../engine/events.ts';
import { collectGarbage } from '../../engine/gc.ts';
import { removeImage } from '../../engine/image/remove.ts';
import { imageLayers } from '../../engine/oci/types.ts';
import { pull } from '../../engine/pull.ts';
import { listImages, loadImage } from '../../engine/store/images.ts';
import { blobPath, layerPath, sessionRoot } from '../../engine/store/paths.ts';
import { freshContext, testRegistryCredentials } from '../support/context.ts';

const base = freshContext();
afterAll(() => base.cleanup());

function sessionContext(id: string, events: EngineEvent[] = []): EngineContext {
  return createContext(sessionRoot(base.root, id), {
    config: base.ctx.config,
    events: (e) => events.push(e),
    sharedContent: base.root,
    registry: { credentials: testRegistryCredentials() },
  });
}

describe('session roots', () => {
  const aEvents: EngineEvent[] = [];
  const bEvents: EngineEvent[] = [];
  const a = sessionContext('a'.repeat(32), aEvents);
  const b = sessionContext('b'.repeat(32), bEvents);

  it('lays out records per session and content shared', () => {
    expect(a.paths.images).toBe(join(base.root, 'sessions', 'a'.repeat(32), 'images'));
    expect(a.paths.containers).toBe(join(base.root, 'sessions', 'a'.repeat(32), 'containers'));
    expect(a.paths.blobs).toBe(join(base.root, 'blobs'));
    expect(a.paths.layers).toBe(join(base.root, 'layers'));
    expect(a.paths.tmp).toBe(join(base.root, 'tmp'));
    expect(a.paths.sharedContent).toBe(base.root);
    expect(base.ctx.paths.sharedContent).toBeUndefined();
  });

  it('shares a pulled layer on disk, keeps images apart, and survives the other session’s rmi', async () => {
    const imageA = await pull(a, 'busybox');
    expect(await listImages(b)).toEqual([]);
    const imageB = await pull(b, 'busybox');
    expect(imageB.id).toBe(imageA.id);
    const layer = imageLayers(imageA)[0]!;
    // B found the blob A had pulled: the layer was not downloaded again.
    expect(bEvents.some((e) => e.type === 'pull.layer' && e.state === 'exists')).toBe(true);
    expect(bEvents.some((e) => e.type === 'pull.layer' && e.state === 'downloading')).toBe(false);
    expect(existsSync(layerPath(base.ctx.paths, layer.diffId))).toBe(true);

    const { record } = await runContainer(a, {
      image: 'busybox',
      name: 'web',
      cmd: ['sleep', '60'],
      detach: true,
    });
    // B cannot name A's container, by name or by id.
    await expect(resolveContainer(b, 'web')).rejects.toThrow(/No such container: web/);
    await expect(resolveContainer(b, record.id)).rejects.toThrow(/No such container/);
    await expect(resolveContainer(b, record.id.slice(0, 12))).rejects.toThrow(/No such container/);
    await expect(removeContainer(b, record.id, { force: true })).rejects.toThrow(/No such container/);
    await removeContainer(a, record.id, { force: true });

    const lines = await removeImage(a, 'busybox');
    expect(lines).toContain(`Deleted: ${imageA.id}`);
    await expect(loadImage(a, 'busybox')).rejects.toThrow(/No such image/);
    // The content stays: B still uses it.
    expect(existsSync(blobPath(base.ctx.paths, layer.descriptor.digest))).toBe(true);
    expect(existsSync(layerPath(base.ctx.paths, layer.diffId))).toBe(true);
    const run = await runContainer(b, { image: 'busybox', cmd: ['ls', '/bin/sh'], autoRemove: true });
    expect(await run.exited).toBe(0);

    // GC while B holds the image keeps everything.
    const kept = await collectGarbage(base.root, { graceMs: 0 });
    expect(kept.layers).toEqual([]);
    expect(kept.blobs).not.toContain(layer.descriptor.digest);

    await removeImage(b, 'busybox');
    const freed = await collectGarbage(base.root, { graceMs: 0 });
    expect(freed.layers).toContain(layer.diffId);
    expect(freed.blobs).toContain(layer.descriptor.digest);
    expect(freed.blobs).toContain(imageA.manifestDigest);
    expect(existsSync(layerPath(base.ctx.paths, layer.diffId))).toBe(false);
    expect(existsSync(blobPath(base.ctx.paths, layer.descriptor.digest))).toBe(false);
  });

  it('keeps content a container still uses as a lower dir, and young content by the grace period', async () => {
    const image = await pull(a, 'busybox');
    const layer = imageLayers(image)[0]!;
    const { record } = await runContainer(a, { image: 'busybox', cmd: ['sleep', '60'], detach: true });
    await removeImage(a, 'busybox', { force: true });
    expect((await collectGarbage(base.root, { graceMs: 0 })).layers).not.toContain(layer.diffId);
    expect(existsSync(layerPath(base.ctx.paths, layer.diffId))).toBe(true);
    await removeContainer(a, record.id, { force: true });
    // A running container's image is only untagged by rmi -f; now the dangling record can go.
    await removeImage(a, image.id);
    // Within the default grace period, unreferenced content is left for a pull that may be recording it.
    expect((await collectGarbage(base.root)).layers).toEqual([]);
    expect((await collectGarbage(base.root, { graceMs: 0 })).layers).toContain(layer.diffId);
  });
});
