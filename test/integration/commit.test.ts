// docker commit end to end: layers shared with the parent, --change, author and message, opaque
// directories and hard links through the OCI tar, and reproducible layers with a fixed mtime.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commit } from '../../engine/commit.ts';
import { containerLogs, removeContainer, runContainer } from '../../engine/container/index.ts';
import type { EngineContext } from '../../engine/context.ts';
import { loadImage } from '../../engine/store/images.ts';
import { busyboxContext, disposeContainers } from '../support/containers.ts';
import type { TestContext } from '../support/context.ts';
import { assertImageSchemas } from '../support/oci-validate.ts';

let t: TestContext;
let ctx: EngineContext;

beforeAll(async () => {
  t = await busyboxContext();
  ctx = t.ctx;
});

afterAll(() => disposeContainers(t));

async function run(image: string, cmd?: string[]): Promise<{ id: string; code: number; logs: string }> {
  const { record, exited } = await runContainer(ctx, { image, detach: true, ...(cmd ? { cmd } : {}) });
  const code = await exited;
  let logs = '';
  for await (const r of await containerLogs(ctx, record.id)) logs += r.data.toString();
  return { id: record.id, code, logs };
}

describe('commit', () => {
  it('stacks commits, replaces a directory opaquely, keeps hard links and applies changes', async () => {
    const first = await run('busybox', [
      'sh',
      '-c',
      'mkdir -p /data/sub && echo 1 > /data/sub/f && ln /data/sub/f /data/hl',
    ]);
    expect(first.code).toBe(0);
    const base = await loadImage(ctx, 'busybox');
    const one = await commit(ctx, first.id, { repoTag: 'stack:one' });
    expect(one.manifest.layers.slice(0, 1)).toEqual(base.manifest.layers);
    expect((await run('stack:one', ['stat', '-c', '%h', '/data/hl'])).logs).toBe('2\n');

    const second = await run('stack:one', [
      'sh',
      '-c',
      'rm -rf /data && mkdir /data && echo new > /data/only',
    ]);
    const two = await commit(ctx, second.id, {
      repoTag: 'stack:two',
      author: 'Ada <ada@example.com>',
      message: 'replace data',
      changes: ['CMD ["sh", "-c", "ls /data; cat only; echo $MODE"]', 'ENV MODE=test', 'WORKDIR /data'],
    });
    expect(two.manifest.layers.slice(0, 2)).toEqual(one.manifest.layers);
    expect(two.config.author).toBe('Ada <ada@example.com>');
    expect(two.config.history?.at(-1)).toMatchObject({
      comment: 'replace data',
      created_by: 'sh -c rm -rf /data && mkdir /data && echo new > /data/only',
    });
    expect(two.config.config).toMatchObject({ WorkingDir: '/data' });
    expect(two.config.config?.Env).toContain('MODE=test');

    const third = await run('stack:two');
    expect(third.code).toBe(0);
    expect(third.logs).toBe('only\nnew\ntest\n');
    for (const image of [one, two]) await assertImageSchemas(ctx, image);
  });

  it('pauses a running container that keeps writing while its layer is read', async () => {
    const { record } = await runContainer(ctx, {
      image: 'busybox',
      cmd: ['sh', '-c', 'while true; do echo 0123456789abcdef >> /grow; done'],
      detach: true,
    });
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 3; i++) {
      const image = await commit(ctx, record.id);
      expect(image.manifest.layers).toHaveLength(2);
    }
    const after = await run((await commit(ctx, record.id)).id, ['sh', '-c', 'test -s /grow && echo ok']);
    expect(after.logs).toBe('ok\n');
    await removeContainer(ctx, record.id, { force: true });
  });

  it('writes the same layer twice with a fixed mtime', async () => {
    const c = await run('busybox', ['sh', '-c', 'echo same > /same; mkdir /d; touch /d/x']);
    const epoch = new Date(0);
    const a = await commit(ctx, c.id, { mtime: epoch });
    const b = await commit(ctx, c.id, { mtime: epoch });
    expect(a.config.rootfs.diff_ids.at(-1)).toBe(b.config.rootfs.diff_ids.at(-1));
    expect(a.manifest.layers.at(-1)?.digest).toBe(b.manifest.layers.at(-1)?.digest);
  });
});
