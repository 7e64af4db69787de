// A state root with `limits.maxContainers` (the server sets it per session) refuses the container
// past the limit with a message that says how to make room, and accepts one again after a removal.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { createContainer, removeContainer } from '../../engine/container/index.ts';
import { createContext, type EngineContext } from '../../engine/context.ts';
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
