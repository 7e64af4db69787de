// The container lifecycle against the real runtime: create/start/run/exec/stop/rm, diff, commit,
// ps and inspect, on a busybox image made in a fresh state root.

import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commit } from '../../engine/commit.ts';
import {
  containerDiff,
  containerLogs,
  createContainer,
  execContainer,
  formatContainerTable,
  inspectContainer,
  listContainers,
  removeContainer,
  resolveContainer,
  runContainer,
  startContainer,
  stopContainer,
  waitContainer,
} from '../../engine/container/index.ts';
import type { EngineContext } from '../../engine/context.ts';
import { formatChanges } from '../../engine/layer/diff.ts';
import type { Image } from '../../engine/oci/types.ts';
import { recoverRoot } from '../../engine/recover.ts';
import { detectRuntime, runtimeStateDir } from '../../engine/runtime/detect.ts';
import { isTempName } from '../../engine/store/atomic.ts';
import { openBlob } from '../../engine/store/blobs.ts';
import { loadImage } from '../../engine/store/images.ts';
import { containerRunPath } from '../../engine/store/paths.ts';
import { busyboxContext, disposeContainers, mountsUnder, shimsOf } from '../support/containers.ts';
import type { TestContext } from '../support/context.ts';

let t: TestContext;
let ctx: EngineContext;

beforeAll(async () => {
  t = await busyboxContext();
  ctx = t.ctx;
});

afterAll(() => disposeContainers(t));

async function output(gen: AsyncGenerator<{ data: Buffer }>): Promise<string> {
  let text = '';
  for await (const record of gen) text += record.data.toString();
  return text;
}

async function runToEnd(
  cmd: string[],
  extra: Parameters<typeof runContainer>[1] extends infer O ? Partial<O> : never = {},
) {
  const { record, exited } = await runContainer(ctx, { image: 'busybox', cmd, detach: true, ...extra });
  const code = await exited;
  return { record, code };
}

async function layerEntries(
  image: Image,
  index: number,
): Promise<{ name: string; pax?: Record<string, string> }[]> {
  const desc = image.manifest.layers[index]!;
  const extract = tar.extract();
  const source = openBlob(ctx, desc.digest);
  (desc.mediaType.endsWith('gzip') ? source.pipe(createGunzip()) : source).pipe(
    extract as unknown as NodeJS.WritableStream,
  );
  const out: { name: string; pax?: Record<string, string> }[] = [];
  for await (const entry of extract) {
    entry.resume();
    const header = entry.header as tar.Header & { pax?: Record<string, string> };
    out.push({ name: header.name, ...(header.pax ? { pax: header.pax } : {}) });
  }
  return out;
}

describe('containers', () => {
  it('diffs, commits, and runs the committed image', async () => {
    const { record, code } = await runToEnd([
      'sh',
      '-c',
      'echo hi > /hello.txt; rm /etc/motd; echo x >> /etc/passwd',
    ]);
    expect(code).toBe(0);
    expect(formatChanges(await containerDiff(ctx, record.name))).toBe(
      ['C /etc', 'D /etc/motd', 'C /etc/passwd', 'A /hello.txt', ''].join('\n'),
    );

    const parent = await loadImage(ctx, 'busybox');
    const image = await commit(ctx, record.name, { repoTag: 'mine:v1', message: 'add hello' });
    expect(image.manifest.layers).toHaveLength(parent.manifest.layers.length + 1);
    expect(image.manifest.layers[0]).toEqual(parent.manifest.layers[0]);
    expect(image.config.history?.at(-1)?.comment).toBe('add hello');

    const entries = await layerEntries(image, image.manifest.layers.length - 1);
    const names = entries.map((e) => e.name);
    expect(names).toContain('hello.txt');
    expect(names).toContain('etc/.wh.motd');
    expect(names).toContain('etc/passwd');
    for (const e of entries) {
      expect(Object.keys(e.pax ?? {}).filter((k) => k.includes('trusted.overlay'))).toEqual([]);
    }

    const again = await runToEnd(
      ['sh', '-c', 'cat /hello.txt; tail -n1 /etc/passwd; test -e /etc/motd || echo gone'],
      {
        image: 'mine:v1',
      },
    );
    expect(again.code).toBe(0);
    expect(await output(await containerLogs(ctx, again.record.id))).toBe('hi\nx\ngone\n');
    expect((await loadImage(ctx, 'mine:v1')).id).toBe(image.id);
  });

  it('keeps two containers of one image independent', async () => {
    const a = await runToEnd(['sh', '-c', 'echo a > /only-a']);
    const b = await runToEnd(['sh', '-c', 'test -e /only-a && echo leak || echo clean']);
    expect(await output(await containerLogs(ctx, b.record.id))).toBe('clean\n');
    expect((await containerDiff(ctx, a.record.id)).map((c) => c.path)).toEqual(['/only-a']);
    expect(await containerDiff(ctx, b.record.id)).toEqual([]);
  });

  it('keeps an exited container’s changes and restarts with them', async () => {
    const { record } = await runToEnd(['sh', '-c', 'echo run >> /runs; wc -l < /runs']);
    await startContainer(ctx, record.id);
    expect(await waitContainer(ctx, record.id)).toBe(0);
    expect(await output(await containerLogs(ctx, record.id))).toBe('1\n2\n');
  });

  it('shows the diff of a created container and names must be unique', async () => {
    const created = await createContainer(ctx, { image: 'busybox', name: 'web', cmd: ['true'] });
    expect(await containerDiff(ctx, 'web')).toEqual([]);
    expect((await resolveContainer(ctx, created.id.slice(0, 8))).name).toBe('web');
    await expect(createContainer(ctx, { image: 'busybox', name: 'web' })).rejects.toThrow(
      `Conflict. The container name "/web" is already in use by container "${created.id}". You have to remove (or rename) that container to be able to reuse that name.`,
    );
    await expect(resolveContainer(ctx, 'nope')).rejects.toThrow('No such container: nope');
    await removeContainer(ctx, 'web');

    // A build's working container shows only with --external; the owner label scopes a session.
    const working = await createContainer(ctx, {
      image: 'busybox',
      cmd: ['true'],
      external: true,
      owner: 's1',
    });
    expect((await listContainers(ctx, { all: true })).map((r) => r.id)).not.toContain(working.id);
    const scoped = await listContainers(ctx, { all: true, external: true, owner: 's1' });
    expect(scoped.map((r) => r.id)).toEqual([working.id]);
    await removeContainer(ctx, working.id);
    const kinds = t.events.filter((e) => 'id' in e && e.id === created.id).map((e) => e.type);
    expect(kinds).toEqual(['container.created', 'container.removed']);
  });

  it('refuses to remove a running container without force, stops with SIGTERM then SIGKILL', async () => {
    const trap = await runContainer(ctx, {
      image: 'busybox',
      name: 'trapper',
      cmd: ['sh', '-c', "trap 'exit 3' TERM; echo trapped; while true; do sleep 0.1; done"],
      detach: true,
    });
    // A SIGTERM that came before the trap would be ignored (sh is pid 1): wait until it is set.
    const deadline = Date.now() + 20_000;
    while (!(await output(await containerLogs(ctx, 'trapper'))).includes('trapped')) {
      if (Date.now() > deadline) throw new Error('the trap was never set');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await expect(removeContainer(ctx, 'trapper')).rejects.toThrow(
      'cannot remove container "/trapper": container is running: stop the container before removing or force remove',
    );
    let start = Date.now();
    const stopped = await stopContainer(ctx, 'trapper', { timeout: 5 });
    expect(stopped.state.exitCode).toBe(3);
    expect(Date.now() - start).toBeLessThan(4000);
    expect(await trap.exited).toBe(3);
    const kinds = t.events.filter((e) => 'id' in e && e.id === trap.record.id).map((e) => e.type);
    expect(kinds).toEqual(['container.created', 'container.started', 'container.exited']);

    // A shell as pid 1 without a handler ignores SIGTERM: the SIGKILL after the timeout ends it.
    await runContainer(ctx, { image: 'busybox', name: 'stubborn', cmd: ['sleep', '60'], detach: true });
    start = Date.now();
    const killed = await stopContainer(ctx, 'stubborn', { timeout: 1 });
    expect(killed.state.exitCode).toBe(137);
    expect(Date.now() - start).toBeGreaterThanOrEqual(1000);
    await removeContainer(ctx, 'stubborn');
    await removeContainer(ctx, 'trapper');
  });

  it('lists states and sizes like docker ps -a -s', async () => {
    const running = await runContainer(ctx, {
      image: 'busybox',
      name: 'sizer',
      cmd: ['sleep', '60'],
      detach: true,
    });
    const before = (await listContainers(ctx, { size: true })).find((r) => r.name === 'sizer')!;
    expect(before.status).toBe('running');
    const exec = await execContainer(ctx, 'sizer', {
      cmd: ['dd', 'if=/dev/zero', 'of=/big', 'bs=1024', 'count=1024'],
    });
    expect(await exec.exitCode).toBe(0);
    const after = (await listContainers(ctx, { size: true })).find((r) => r.name === 'sizer')!;
    expect(after.sizeRw! - before.sizeRw!).toBe(1024 * 1024);
    expect(after.sizeRootFs! - after.sizeRw!).toBeGreaterThan(1_000_000);

    const all = await listContainers(ctx, { all: true, size: true });
    expect(all.map((r) => r.status)).toContain('exited');
    expect((await listContainers(ctx)).every((r) => r.status === 'running')).toBe(true);
    const table = formatContainerTable(all, { size: true });
    expect(table.split('\n')[0]).toMatch(
      /^CONTAINER ID {3}IMAGE {5,}COMMAND +CREATED +STATUS +PORTS +NAMES +SIZE$/,
    );
    expect(table).toMatch(/"sleep 60" +\S.* ago +Up \S.*sizer +1\.05MB \(virtual \d/);
    expect(table).toMatch(/Exited \(0\) .* ago/);

    await removeContainer(ctx, running.record.id, { force: true });
    expect(await running.exited).toBe(137);
  });

  it('inspects with GraphDriver dirs that exist and the image layers', async () => {
    const { record } = await runToEnd(['true'], { name: 'inspected' });
    const info = (await inspectContainer(ctx, 'inspected')) as {
      Name: string;
      State: { Status: string; ExitCode: number };
      GraphDriver: { Name: string; Data: Record<string, string> };
      RootFS: { Layers: string[] };
      Config: { Cmd: string[] };
    };
    expect(info.Name).toBe('/inspected');
    expect(info.State).toMatchObject({ Status: 'exited', ExitCode: 0 });
    expect(info.GraphDriver.Name).toBe('overlay2');
    for (const key of ['UpperDir', 'WorkDir', 'MergedDir'])
      expect(existsSync(info.GraphDriver.Data[key]!)).toBe(true);
    for (const lower of info.GraphDriver.Data.LowerDir!.split(':')) expect(existsSync(lower)).toBe(true);
    expect(info.RootFS.Layers).toEqual((await loadImage(ctx, 'busybox')).config.rootfs.diff_ids);
    expect(info.Config.Cmd).toEqual(['true']);
    await removeContainer(ctx, record.id);
  });

  it('execs into a running container with its env, user and workdir', async () => {
    const { record } = await runContainer(ctx, {
      image: 'busybox',
      cmd: ['sleep', '60'],
      env: ['GREETING=hello'],
      workingDir: '/srv/app',
      detach: true,
    });
    const exec = await execContainer(ctx, record.id, {
      cmd: ['sh', '-c', 'echo $GREETING $(pwd) $(id -u); exit 7'],
      user: 'alice',
    });
    let text = '';
    exec.onData((_s, d) => {
      text += d.toString();
    });
    expect(await exec.exitCode).toBe(7);
    await exec.closed;
    expect(text).toBe('hello /srv/app 1000\n');
    await removeContainer(ctx, record.id, { force: true });
    await expect(execContainer(ctx, 'inspected-missing', { cmd: ['true'] })).rejects.toThrow(
      'No such container',
    );
  });

  it('leaves nothing behind with --rm', async () => {
    // The shim reports the exit before the runtime has deleted the container; removal waits for both.
    for (const code of [0, 3, 0, 7]) {
      const { record, exited } = await runContainer(ctx, {
        image: 'busybox',
        cmd: ['sh', '-c', `exit ${code}`],
        autoRemove: true,
        detach: true,
      });
      expect(await exited).toBe(code);
      await expect(resolveContainer(ctx, record.id)).rejects.toThrow('No such container');
      expect(mountsUnder(`${t.root}/containers/${record.id}`)).toEqual([]);
      for (const controller of ['memory', 'pids', 'cpu', 'devices', 'freezer', 'unified']) {
        expect(existsSync(`/sys/fs/cgroup/${controller}/layerlab/${record.id}`)).toBe(false);
      }
      expect(existsSync(`${t.root}/containers/${record.id}`)).toBe(false);
      expect(existsSync(containerRunPath(ctx.paths, record.id))).toBe(false);
      expect(existsSync(runtimeStateDir(ctx, await detectRuntime(ctx)) + `/${record.id}`)).toBe(false);
    }
    expect(shimsOf(t.root)).toEqual([]);
    // The removed dirs were renamed out of the way at once; their files are deleted in the background.
    const deadline = Date.now() + 10_000;
    while (readdirSync(t.root).some(isTempName) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(readdirSync(t.root).filter(isTempName)).toEqual([]);
  });

  it('leaves a removal cut short to start-up recovery', async () => {
    // `rm` renames the container's dir to a temp name and deletes its files in the background; a
    // process killed before that ends leaves the temp, which the next start-up's recovery removes.
    const own = await busyboxContext();
    try {
      const { record, exited } = await runContainer(own.ctx, {
        image: 'busybox',
        cmd: ['sh', '-c', 'echo hi'],
        autoRemove: true,
        detach: true,
      });
      expect(await exited).toBe(0);
      const leftover = join(own.root, `.tmp-${record.id}-cut`);
      mkdirSync(join(leftover, 'bundle'), { recursive: true });
      writeFileSync(join(leftover, 'bundle', 'config.json'), '{}');
      writeFileSync(join(leftover, 'log'), 'hi\n');
      const report = await recoverRoot(own.ctx);
      expect(report.temps).toContain(leftover);
      expect(existsSync(leftover)).toBe(false);
    } finally {
      await disposeContainers(own);
    }
  });

  it('starts an exited container again at once, with exact exit codes', async () => {
    // Each exit is reported before the last run's shim has had the runtime delete the container, so
    // the next start must wait for that shim instead of racing it for the runtime's name.
    const { record, code } = await runToEnd(['sh', '-c', 'echo x >> /n; exit $(wc -l < /n)']);
    expect(code).toBe(1);
    for (const expected of [2, 3, 4]) {
      await startContainer(ctx, record.id);
      expect(await waitContainer(ctx, record.id)).toBe(expected);
    }
    expect((await resolveContainer(ctx, record.id)).state).toMatchObject({ status: 'exited', exitCode: 4 });
    await removeContainer(ctx, record.id);
    expect(existsSync(containerRunPath(ctx.paths, record.id))).toBe(false);
  });
});
