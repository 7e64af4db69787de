// Resetting a session to a declared starting state on the real engine: containers gone (running ones
// too), undeclared images and tags gone, missing images pulled, declared containers running again.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listContainers, runContainer } from '../../engine/container/index.ts';
import { tag } from '../../engine/image/tag.ts';
import { pull } from '../../engine/pull.ts';
import { listImages } from '../../engine/store/images.ts';
import { parseRequestInput } from '../../server/api/session-api.ts';
import { resetState, resolveResetTarget } from '../../server/reset/reset.ts';
import { disposeContainers, mountsUnder } from '../support/containers.ts';
import { freshContext, type TestContext } from '../support/context.ts';

let t: TestContext;

beforeAll(async () => {
  t = freshContext();
  await pull(t.ctx, 'busybox');
  await pull(t.ctx, 'layerlab/webapp');
});

afterAll(() => disposeContainers(t));

const lessonStart = resolveResetTarget({
  images: ['busybox'],
  containers: [{ name: 'box', image: 'busybox', cmd: ['sleep', '1000'], detach: true }],
});

describe('resetState', () => {
  it('clears a messy session down to the declared start', async () => {
    await tag(t.ctx, 'busybox', 'my-image:v1');
    await runContainer(t.ctx, { image: 'busybox', name: 'box', cmd: ['sleep', '1000'], detach: true });
    await runContainer(t.ctx, { image: 'layerlab/webapp', cmd: ['sleep', '1000'], detach: true });
    const { exited } = await runContainer(t.ctx, { image: 'busybox', cmd: ['true'], detach: true });
    await exited;

    const report = await resetState(t.ctx, lessonStart);
    expect(report).toMatchObject({
      removedContainers: 3,
      removedImages: 1,
      untagged: ['docker.io/library/my-image:v1'],
      pulled: [],
    });
    const images = await listImages(t.ctx);
    expect(images.map((i) => i.repoTags)).toEqual([['docker.io/library/busybox:latest']]);
    const containers = await listContainers(t.ctx, { all: true });
    expect(containers.map((c) => [c.name, c.status])).toEqual([['box', 'running']]);
    expect(report.containers).toEqual([containers[0]!.id]);
    // Every removed container's mounts are gone: only the new one's tmpfs and overlay remain.
    expect(mountsUnder(t.ctx.paths.containers)).toHaveLength(2);
  });

  it('is well under a second from the usual lesson state', async () => {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const report = await resetState(t.ctx, lessonStart);
      times.push(performance.now() - started);
      expect(report.removedContainers).toBe(1);
      console.log(`reset (busybox present, one running container → same): ${report.ms} ms`, report.phases);
    }
    times.sort((a, b) => a - b);
    // A generous bound, as the issue asks for "well under a second"; the numbers go to the report.
    expect(times[2]).toBeLessThan(2000);
  });

  it('pulls declared images that are missing and creates containers without starting them', async () => {
    const report = await resetState(
      t.ctx,
      resolveResetTarget({
        images: ['busybox', 'layerlab/webapp'],
        containers: [
          { name: 'web', image: 'layerlab/webapp' },
          { name: 'box', image: 'busybox', cmd: ['sleep', '1000'], detach: true },
        ],
      }),
    );
    expect(report.pulled).toEqual(['layerlab/webapp']);
    const containers = await listContainers(t.ctx, { all: true });
    expect(Object.fromEntries(containers.map((c) => [c.name, c.status]))).toEqual({
      web: 'created',
      box: 'running',
    });
  });

  it('resets to nothing by default', async () => {
    const report = await resetState(t.ctx, resolveResetTarget(undefined));
    expect(report.removedContainers).toBe(2);
    expect(await listImages(t.ctx)).toEqual([]);
    expect(await listContainers(t.ctx, { all: true })).toEqual([]);
    expect(mountsUnder(t.ctx.paths.containers)).toEqual([]);
  });
});

describe('resolveResetTarget', () => {
  it('takes a name or an object, and refuses anything else clearly', () => {
    expect(resolveResetTarget('busybox')).toEqual({ images: ['busybox'] });
    expect(resolveResetTarget({ images: ['alpine'] })).toEqual({ images: ['alpine'] });
    expect(() => resolveResetTarget('lesson-42')).toThrow(
      /unknown starting state "lesson-42" \(known: empty, busybox/,
    );
    // JSON text is a name like any other string: the target travels as data, never as JSON in a string.
    expect(() => resolveResetTarget('{"images":["alpine"]}')).toThrow(/unknown starting state/);
    // What a page sends is checked by the request table before it gets here.
    expect(() => parseRequestInput('reset', { to: { images: 'busybox' } })).toThrow(/^reset: to/);
    expect(() => resolveResetTarget({ containers: [{ name: '../x', image: 'busybox' }] })).toThrow(
      /containers\.0\.name/,
    );
  });
});
