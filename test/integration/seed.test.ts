// seedRegistry: the lesson images built from content/images/ and pushed under Docker Hub's names;
// seeding twice pushes nothing; pulling busybox through the mirror gives the image that was built.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runContainer } from '../../engine/container/lifecycle.ts';
import { validateImage } from '../../engine/image/validate.ts';
import { pull } from '../../engine/pull.ts';
import { type SeedProgress, seedRegistry } from '../../engine/seed.ts';
import { loadImage } from '../../engine/store/images.ts';
import { freshContext, type TestContext } from '../support/context.ts';
import { startTestRegistry, type TestRegistry } from '../support/registry.ts';

let registry: TestRegistry;
let seeder: TestContext;
beforeAll(async () => {
  registry = await startTestRegistry();
  seeder = freshContext({ mirrors: {} });
});
afterAll(async () => {
  seeder.cleanup();
  await registry.stop();
});

describe('seedRegistry', () => {
  it('builds and pushes every lesson image, then skips them all when run again', async () => {
    const progress: SeedProgress[] = [];
    const refs = await seedRegistry(seeder.ctx, {
      registryUrl: registry.url,
      onProgress: (p) => progress.push(p),
    });
    expect(refs).toEqual([
      `${registry.host}/library/busybox:latest`,
      `${registry.host}/layerlab/webapp:latest`,
      `${registry.host}/layerlab/deleted-file:latest`,
      `${registry.host}/layerlab/big-layer:latest`,
      `${registry.host}/layerlab/motd:latest`,
    ]);
    expect(progress.filter((p) => p.state === 'pushed')).toHaveLength(5);
    for (const name of [
      'busybox',
      'layerlab/webapp',
      'layerlab/deleted-file',
      'layerlab/big-layer',
      'layerlab/motd',
    ]) {
      await validateImage(seeder.ctx, await loadImage(seeder.ctx, name));
    }
    // Every lesson image shares busybox's one layer at the bottom.
    const busybox = await loadImage(seeder.ctx, 'busybox');
    expect(busybox.manifest.layers).toHaveLength(1);
    const webapp = await loadImage(seeder.ctx, 'layerlab/webapp');
    expect(webapp.manifest.layers[0]).toEqual(busybox.manifest.layers[0]);
    expect(webapp.manifest.layers).toHaveLength(3);

    const again: SeedProgress[] = [];
    await seedRegistry(seeder.ctx, { registry: registry.host, onProgress: (p) => again.push(p) });
    expect(again.filter((p) => p.state === 'exists')).toHaveLength(5);
    expect(again.filter((p) => p.state === 'pushed')).toHaveLength(0);
  });

  it('serves busybox through the docker.io mirror with the same image id, and it runs', async () => {
    const learner = freshContext({ mirrors: { 'docker.io': [registry.url] } });
    try {
      const pulled = await pull(learner.ctx, 'busybox');
      expect(pulled.id).toBe((await loadImage(seeder.ctx, 'busybox')).id);
      const run = await runContainer(learner.ctx, {
        image: 'busybox',
        cmd: ['sh', '-c', 'echo $((6*7)); id -un'],
        autoRemove: true,
      });
      const chunks: Buffer[] = [];
      run.connection?.onData((_s, data) => chunks.push(data));
      expect(await run.exited).toBe(0);
      expect(Buffer.concat(chunks).toString()).toBe('42\nroot\n');
    } finally {
      learner.cleanup();
    }
  });
});
