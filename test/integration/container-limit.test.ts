// A state root with `limits.maxContainers` / `limits.maxImages` (the server sets them per session)
// refuses what is past the limit with a message that says how to make room, and accepts it again after a removal.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { commit } from '../../engine/commit.ts';
import { createContainer, removeContainer } from '../../engine/container/index.ts';
import { createContext, type EngineContext } from '../../engine/context.ts';
import { removeImage } from '../../engine/image/remove.ts';
import { tag } from '../../engine/image/tag.ts';
import { listImages } from '../../engine/store/images.ts';
import { busyboxContext, disposeContainers } from '../support/containers.ts';
import type { TestContext } from '../support/context.ts';

let t: TestContext;
let ctx: EngineContext;

beforeAll(async () => {
  t = await busyboxContext();
  ctx = createContext(t.root, {
    config: { ...t.ctx.config, limits: { ...t.ctx.config.limits, maxContainers: 2 } },
  });
});

afterAll(() => disposeContainers(t));

it('refuses a container past the limit until one is removed', async () => {
  const first = await createContainer(ctx, { image: 'busybox', name: 'one' });
  await createContainer(ctx, { image: 'busybox', name: 'two' });
  await expect(createContainer(ctx, { image: 'busybox', name: 'three' })).rejects.toThrow(
    'container limit reached: this session may keep at most 2 containers',
  );
  await removeContainer(ctx, first.id);
  const third = await createContainer(ctx, { image: 'busybox', name: 'three' });
  expect(third.name).toBe('three');
});

it('refuses a new image record past limits.maxImages, and takes it again after an rmi', async () => {
  const limited = createContext(t.root, {
    config: { ...t.ctx.config, limits: { ...t.ctx.config.limits, maxImages: 2 } },
  });
  await tag(limited, 'busybox', 'second:v1');
  const c = await createContainer(limited, { image: 'busybox', name: 'snap' });
  const one = await commit(limited, c.id, { repoTag: 'one:v1' });
  await expect(commit(limited, c.id, { repoTag: 'two:v1', message: 'another' })).rejects.toThrow(
    'image limit reached: this session may keep at most 2 images',
  );
  await removeImage(limited, 'one:v1');
  expect((await listImages(limited)).map((i) => i.id)).not.toContain(one.id);
  await commit(limited, c.id, { repoTag: 'two:v1', message: 'another' });
});
