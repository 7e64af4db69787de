// `run --rm` as the resident engine runs it (`reportBeforeReleased`): the status comes once the
// container is out of every listing with its name free and its filesystem unmounted, and `released`
// once nothing of it is left (shim, runtime state, cgroups, run dir). Also the cgroup warm-up that a
// start begins: it leaves this process in the cgroups it was in.

import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createContainer,
  listContainers,
  removeContainer,
  resolveContainer,
  runContainer,
} from '../../engine/container/index.ts';
import { warmCgroupMigration } from '../../engine/host/cgroup-warmup.ts';
import { containerCgroupDirs } from '../../engine/host/cgroups.ts';
import { detectRuntime, runtimeStateDir } from '../../engine/runtime/detect.ts';
import { containerRunPath } from '../../engine/store/paths.ts';
import { busyboxContext, disposeContainers, mountsUnder, shimsOf } from '../support/containers.ts';
import type { TestContext } from '../support/context.ts';

let t: TestContext;

beforeAll(async () => {
  t = await busyboxContext();
});

afterAll(() => disposeContainers(t));

describe('run --rm reported before the runtime has deleted the container', () => {
  it('is unlisted, its name free and its filesystem gone at the status; nothing is left once released', {
    timeout: 120_000,
  }, async () => {
    const runtimeState = runtimeStateDir(t.ctx, await detectRuntime(t.ctx));
    for (const code of [0, 3, 0, 7]) {
      const name = `early-rm-${code}`;
      const { record, exited, released } = await runContainer(t.ctx, {
        image: 'busybox',
        cmd: ['sh', '-c', `exit ${code}`],
        name,
        autoRemove: true,
        detach: true,
        reportBeforeReleased: true,
      });
      expect(await exited).toBe(code);
      // What a following `ps -a`, `rm` or `run --name` sees.
      await expect(resolveContainer(t.ctx, record.id)).rejects.toThrow('No such container');
      await expect(resolveContainer(t.ctx, name)).rejects.toThrow('No such container');
      expect((await listContainers(t.ctx, { all: true })).map((c) => c.id)).not.toContain(record.id);
      expect(existsSync(`${t.root}/containers/${record.id}`)).toBe(false);
      expect(mountsUnder(`${t.root}/containers/${record.id}`)).toEqual([]);
      const again = await createContainer(t.ctx, { image: 'busybox', cmd: ['true'], name });
      await removeContainer(t.ctx, again.id);

      await released;
      expect(containerCgroupDirs(record.id)).toEqual([]);
      expect(existsSync(containerRunPath(t.ctx.paths, record.id))).toBe(false);
      expect(existsSync(`${runtimeState}/${record.id}`)).toBe(false);
    }
    expect(shimsOf(t.root)).toEqual([]);
  });

  it('without the option, the status comes with everything removed, as before', {
    timeout: 60_000,
  }, async () => {
    const { record, exited, released } = await runContainer(t.ctx, {
      image: 'busybox',
      cmd: ['true'],
      autoRemove: true,
      detach: true,
    });
    expect(await exited).toBe(0);
    expect(containerCgroupDirs(record.id)).toEqual([]);
    expect(existsSync(containerRunPath(t.ctx.paths, record.id))).toBe(false);
    await released;
  });
});

describe('the cgroup warm-up', () => {
  it('leaves this process in the cgroups it was in, and a start after it runs as before', {
    timeout: 60_000,
  }, async () => {
    const before = readFileSync('/proc/self/cgroup', 'utf8');
    for (let i = 0; i < 5; i++) warmCgroupMigration();
    const { exited } = await runContainer(t.ctx, {
      image: 'busybox',
      cmd: ['true'],
      autoRemove: true,
      detach: true,
    });
    expect(await exited).toBe(0);
    expect(readFileSync('/proc/self/cgroup', 'utf8')).toBe(before);
  });
});
