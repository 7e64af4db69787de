// Lesson 10's goal on the real engine, whatever earlier lessons left: no stopped container, no
// dangling image (untagged and nobody's parent, as `image prune` sees it), layerlab/motd gone and
// app:dev kept; images and running containers of other lessons do not matter.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { commit } from '../../engine/commit.ts';
import { createContainer, removeContainer, runContainer } from '../../engine/container/index.ts';
import { pruneImages } from '../../engine/image/remove.ts';
import { tag } from '../../engine/image/tag.ts';
import { evaluateCondition } from '../../server/checks/evaluate.ts';
import { lessonCheck } from '../../server/checks/lessons.ts';
import { busyboxContext, disposeContainers } from '../support/containers.ts';
import type { TestContext } from '../support/context.ts';

let t: TestContext;

beforeAll(async () => {
  t = await busyboxContext();
});

afterAll(() => disposeContainers(t));

const clean = () => evaluateCondition(t.ctx, lessonCheck({ lesson: '10-cleanup', check: 'clean' }));

it('passes once stopped containers and dangling images are pruned, with other lessons’ state kept', async () => {
  // From earlier lessons: another image and a running container.
  await tag(t.ctx, 'busybox', 'my-page:v1');
  await runContainer(t.ctx, { image: 'busybox', name: 'keeps-running', cmd: ['sleep', '600'], detach: true });
  // The lesson's mess: two commits under one tag leave the first dangling.
  const one = await createContainer(t.ctx, { image: 'busybox', name: 'draft-1', cmd: ['true'] });
  await commit(t.ctx, one.id, { repoTag: 'app:dev', message: 'one' });
  const two = await createContainer(t.ctx, { image: 'busybox', name: 'draft-2', cmd: ['true'] });
  await commit(t.ctx, two.id, { repoTag: 'app:dev', message: 'two' });

  expect(await clean()).toMatchObject({ pass: false });
  await removeContainer(t.ctx, 'draft-1');
  await removeContainer(t.ctx, 'draft-2');
  const dangling = await evaluateCondition(t.ctx, { kind: 'image', dangling: true });
  expect(dangling).toMatchObject({ pass: true });
  expect(await clean()).toMatchObject({
    pass: false,
    detail: 'the opposite of what this step wants is true',
  });

  await pruneImages(t.ctx);
  expect(await evaluateCondition(t.ctx, { kind: 'image', dangling: true })).toMatchObject({
    pass: false,
    detail: 'no dangling image matches',
  });
  expect(await clean()).toMatchObject({ pass: true });
});
