// Lesson checks against real engine state: each of the three examples fails before the
// learner's step and passes after it, and the combinators and hints behave as lessons expect.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commit } from '../../engine/commit.ts';
import { runContainer } from '../../engine/container/lifecycle.ts';
import { pull } from '../../engine/pull.ts';
import { evaluateCondition } from '../../server/checks/evaluate.ts';
import { type CheckInput, parseCheck } from '../../server/checks/schema.ts';
import { disposeContainers } from '../support/containers.ts';
import { freshContext, type TestContext } from '../support/context.ts';

let t: TestContext;

beforeAll(async () => {
  t = freshContext();
  await pull(t.ctx, 'busybox');
  await pull(t.ctx, 'layerlab/motd');
});

afterAll(() => disposeContainers(t));

async function check(input: CheckInput, commands: { command: string; exitCode: number }[] = []) {
  const parsed = parseCheck(input);
  if (!parsed.ok) throw new Error(parsed.message);
  return evaluateCondition(t.ctx, parsed.check, { commands });
}

async function run(image: string, script: string, name?: string): Promise<string> {
  const { record, exited } = await runContainer(t.ctx, {
    image,
    cmd: ['sh', '-c', script],
    detach: true,
    ...(name ? { name } : {}),
  });
  expect(await exited).toBe(0);
  return record.id;
}

describe('the issue examples', () => {
  it('"a container from busybox has /hello.txt in its diff"', async () => {
    const step: CheckInput = {
      kind: 'container',
      image: 'busybox',
      diff: { has: ['/hello.txt'] },
      hint: 'Run a busybox container that writes /hello.txt.',
    };
    expect(await check(step)).toEqual({
      pass: false,
      hint: 'Run a busybox container that writes /hello.txt.',
      detail: 'no container from busybox yet',
    });
    await run('busybox', 'echo hi > /other.txt', 'wrong-file');
    const notYet = await check(step);
    expect(notYet.pass).toBe(false);
    expect(notYet.detail).toContain('/hello.txt is not in its diff');
    await run('busybox:latest', 'echo hello > /hello.txt', 'hello');
    expect(await check(step)).toEqual({ pass: true, detail: '1 matching container' });
    // Wanting it as a change (C) rather than an add does not pass.
    expect(
      (
        await check({
          kind: 'container',
          image: 'busybox',
          diff: { has: [{ path: '/hello.txt', kind: 'C' }] },
        })
      ).pass,
    ).toBe(false);
  });

  it('"an image tagged my-image whose top layer adds /hello.txt"', async () => {
    const step: CheckInput = {
      kind: 'image',
      tag: 'my-image',
      topLayerAdds: '/hello.txt',
      hint: 'Commit it as my-image.',
    };
    expect(await check(step)).toEqual({
      pass: false,
      hint: 'Commit it as my-image.',
      detail: 'no image tagged my-image:latest yet',
    });
    await commit(t.ctx, 'wrong-file', { repoTag: 'my-image' });
    expect(await check(step)).toMatchObject({
      pass: false,
      detail: 'image my-image:latest: its top layer does not add /hello.txt',
    });
    await commit(t.ctx, 'hello', { repoTag: 'my-image' });
    expect(await check(step)).toMatchObject({ pass: true });
    expect(
      await check({ kind: 'image', tag: 'my-image', sharesLayersWith: 'busybox', layers: { min: 2 } }),
    ).toMatchObject({
      pass: true,
    });
    expect(await check({ kind: 'image', tag: 'my-image', sharesLayersWith: 'layerlab/motd' })).toMatchObject({
      pass: true, // motd is FROM busybox too
    });
    expect(await check({ kind: 'image', tag: 'busybox', topLayerAdds: '/hello.txt' })).toMatchObject({
      pass: false,
    });
  });

  it('"two containers from the same image with different /etc/motd"', async () => {
    const step: CheckInput = { kind: 'containers-differ', image: 'layerlab/motd', path: '/etc/motd' };
    expect(await check(step)).toMatchObject({
      pass: false,
      detail: 'no container from layerlab/motd yet; two are needed',
    });
    await run('layerlab/motd', 'cat /etc/motd');
    expect(await check(step)).toMatchObject({
      pass: false,
      detail: 'only one container from layerlab/motd yet; two are needed',
    });
    await run('layerlab/motd', 'cat /etc/motd >/dev/null');
    expect(await check(step)).toMatchObject({
      pass: false,
      detail: 'all 2 containers from layerlab/motd have the same /etc/motd',
    });
    await run('layerlab/motd', 'echo "welcome, learner" > /etc/motd', 'motd-changed');
    expect(await check(step)).toEqual({ pass: true, detail: '2 different versions of /etc/motd' });
    expect(
      await check({
        kind: 'container',
        name: 'motd-changed',
        file: { path: '/etc/motd', equals: 'welcome, learner' },
      }),
    ).toMatchObject({ pass: true });
    expect(
      await check({
        kind: 'container',
        name: 'motd-changed',
        diff: { has: [{ path: '/etc/motd', kind: 'C' }] },
      }),
    ).toMatchObject({ pass: true });
  });
});

describe('conditions and combinators', () => {
  it('counts containers by state and exit code', async () => {
    expect(await check({ kind: 'container', state: 'exited', count: { min: 5 } })).toMatchObject({
      pass: true,
    });
    expect(await check({ kind: 'container', state: 'running' })).toMatchObject({ pass: false });
    expect(await check({ kind: 'container', image: 'busybox', count: { max: 1 } })).toMatchObject({
      pass: false,
    });
    expect(await check({ kind: 'container', name: 'hello', exitCode: 0 })).toMatchObject({ pass: true });
    expect(await check({ kind: 'container', name: 'hello', exitCode: 1 })).toMatchObject({
      pass: false,
      detail: expect.stringContaining('exited with 0'),
    });
    expect(
      await check({ kind: 'container', name: 'hello', file: { path: '/etc/passwd', contains: 'root:' } }),
    ).toMatchObject({
      pass: true,
    });
    expect(
      await check({ kind: 'container', name: 'hello', file: { path: '/bin/vi', exists: false } }),
    ).toMatchObject({
      pass: false,
    });
  });

  it('combines with all, any and not; the outer hint wins', async () => {
    const has = { kind: 'container', name: 'hello' } as const;
    const lacks = { kind: 'container', name: 'nobody', hint: 'inner' } as const;
    expect(await check({ all: [has, lacks], hint: 'outer' })).toMatchObject({ pass: false, hint: 'outer' });
    expect(await check({ all: [has, lacks] })).toMatchObject({ pass: false, hint: 'inner' });
    expect(await check({ any: [lacks, has] })).toEqual({ pass: true });
    expect(await check({ not: lacks })).toEqual({ pass: true });
    expect(await check({ not: has, hint: 'remove it' })).toMatchObject({ pass: false, hint: 'remove it' });
  });

  it('matches commands run in the terminals', async () => {
    const commands = [
      { command: 'docker run busybox echo hi', exitCode: 0 },
      { command: 'docker run --rm busybox false', exitCode: 1 },
    ];
    expect(await check({ kind: 'command-ran', pattern: 'docker run * busybox *' }, commands)).toMatchObject({
      pass: true,
    });
    expect(
      await check({ kind: 'command-ran', pattern: 'docker run*false', exitCode: 0 }, commands),
    ).toMatchObject({
      pass: false,
    });
    expect(await check({ kind: 'command-ran', pattern: 'docker commit *' }, commands)).toMatchObject({
      pass: false,
    });
  });
});
