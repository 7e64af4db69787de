// The check kinds that stand in for "the reader typed X" with real state: a container's process seen
// in the host's /proc, a file's line count, the builder an image came from, a saved archive in the
// workspace, a file in a named volume. Each fails before the step and passes after it, and none
// can be fooled by what a container or a visitor plants (symlinks, other files, other images).
// Also the classic builder's working containers, which `ps` lists as Docker's does.

import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { save } from '../../engine/archive/save.ts';
import { build } from '../../engine/builder/build.ts';
import {
  listContainers,
  removeContainer,
  runContainer,
  startContainer,
  stopContainer,
  waitContainer,
} from '../../engine/container/index.ts';
import { tag } from '../../engine/image/tag.ts';
import { createVolume } from '../../engine/volume/volumes.ts';
import { evaluateCondition } from '../../server/checks/evaluate.ts';
import { type CheckInput, parseCheck } from '../../server/checks/schema.ts';
import { sessionWorkspace } from '../../server/sessions/workspace.ts';
import { busyboxContext, disposeContainers } from '../support/containers.ts';
import type { TestContext } from '../support/context.ts';

let t: TestContext;
const dirs: string[] = [];

beforeAll(async () => {
  t = await busyboxContext();
});

afterAll(async () => {
  await disposeContainers(t);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function check(input: CheckInput) {
  const parsed = parseCheck(input);
  if (!parsed.ok) throw new Error(parsed.message);
  return evaluateCondition(t.ctx, parsed.check);
}

function context(dockerfile: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'layerlab-state-check-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

describe('a container seen from the host', () => {
  it('passes while its process runs the command, and not once it has stopped', async () => {
    const want: CheckInput = { kind: 'container', name: 'proc', process: { command: 'sleep' } };
    expect(await check(want)).toMatchObject({ pass: false, detail: 'no container named proc yet' });
    await runContainer(t.ctx, { image: 'busybox', cmd: ['sleep', '3600'], name: 'proc', detach: true });
    expect(await check(want)).toEqual({ pass: true, detail: '1 matching container' });
    const other = await check({ kind: 'container', name: 'proc', process: { command: 'httpd' } });
    expect(other.pass).toBe(false);
    expect(other.detail).toContain('its process runs "sleep 3600"');
    await stopContainer(t.ctx, 'proc', { timeout: 0 });
    expect((await check(want)).detail).toContain('its process is not running on the host');
    await removeContainer(t.ctx, 'proc', { force: true });
  });
});

describe("a file's lines", () => {
  it('counts the lines a second run appended', async () => {
    const { exited } = await runContainer(t.ctx, {
      image: 'busybox',
      cmd: ['sh', '-c', 'echo one >> /log.txt'],
      name: 'log',
      detach: true,
    });
    expect(await exited).toBe(0);
    const want: CheckInput = {
      kind: 'container',
      name: 'log',
      file: { path: '/log.txt', lines: { min: 2 } },
    };
    expect((await check(want)).detail).toContain('/log.txt has 1 line');
    // Started again, the same container appends to its own file.
    await startContainer(t.ctx, 'log');
    expect(await waitContainer(t.ctx, 'log')).toBe(0);
    expect(await check(want)).toEqual({ pass: true, detail: '1 matching container' });
    await removeContainer(t.ctx, 'log', { force: true });
  });
});

describe('the builder an image came from, and its working containers', () => {
  it('tells the classic builder from BuildKit by the newest history entry', async () => {
    const dir = context('FROM busybox\nRUN echo built > /built.txt\nCMD ["cat", "/built.txt"]\n');
    await build(t.ctx, { contextDir: dir, tags: ['kit'] });
    await build(t.ctx, { contextDir: dir, tags: ['classic'], builder: 'classic' });
    const classic: CheckInput = {
      kind: 'image',
      tag: 'classic',
      topLayerAdds: '/built.txt',
      builtBy: 'classic',
    };
    expect(await check(classic)).toEqual({ pass: true, detail: 'image classic:latest: ok' });
    expect(await check({ kind: 'image', tag: 'kit', builtBy: 'buildkit' })).toMatchObject({ pass: true });
    expect(await check({ kind: 'image', tag: 'kit', builtBy: 'classic' })).toEqual({
      pass: false,
      detail: 'image kit:latest: BuildKit built it, not the classic builder',
    });
  });

  it("lists a failed classic step's container, as Docker does; BuildKit and --force-rm leave none", async () => {
    const fails = context('FROM busybox\nRUN echo trying > /tried.txt && exit 3\n');
    const named = () =>
      listContainers(t.ctx, { all: true }).then((rows) => rows.filter((r) => r.command.includes('trying')));
    await expect(build(t.ctx, { contextDir: fails, builder: 'classic' })).rejects.toThrow(/non-zero code: 3/);
    const left = await named();
    expect(left).toHaveLength(1);
    expect(left[0]!.status).toBe('exited');
    // BuildKit makes none that ps lists, and --force-rm leaves none behind.
    await expect(build(t.ctx, { contextDir: fails, noCache: true })).rejects.toThrow();
    await expect(build(t.ctx, { contextDir: fails, builder: 'classic', forceRm: true })).rejects.toThrow();
    expect(await named()).toHaveLength(1);
    expect(
      (await listContainers(t.ctx, { all: true, external: true })).filter((r) =>
        r.command.includes('trying'),
      ),
    ).toHaveLength(1);
    // It is the reader's container now: checks see it, and rm takes it away.
    expect(
      await check({
        kind: 'container',
        image: 'busybox',
        state: 'exited',
        exitCode: 3,
        diff: { has: ['/tried.txt'] },
      }),
    ).toMatchObject({ pass: true });
    await removeContainer(t.ctx, left[0]!.id);
    expect(await named()).toEqual([]);
  });
});

describe('a file in the workspace', () => {
  it('is an archive holding the image as it is now, opened without following a symlink', async () => {
    const dir = sessionWorkspace(t.ctx).dir;
    mkdirSync(dir, { recursive: true });
    const want: CheckInput = { kind: 'workspace-file', path: 'busybox.tar', holdsImage: 'busybox' };
    expect(await check(want)).toEqual({
      pass: false,
      detail: 'there is no busybox.tar in your workspace yet',
    });
    await save(t.ctx, ['busybox'], join(dir, 'busybox.tar'));
    expect(await check(want)).toEqual({ pass: true, detail: 'busybox.tar: ok' });
    expect(await check({ kind: 'workspace-file', path: 'busybox.tar', minBytes: 1 << 30 })).toMatchObject({
      pass: false,
    });
    // Another image under the name: the archive no longer holds what the name means.
    await tag(t.ctx, 'classic', 'busybox-alias');
    expect(
      (await check({ kind: 'workspace-file', path: 'busybox.tar', holdsImage: 'busybox-alias' })).detail,
    ).toBe('busybox.tar does not hold the config of busybox-alias:latest as it is now');
    // A visitor's symlink to the real archive (or to a host file) is not a file of the workspace.
    symlinkSync(join(dir, 'busybox.tar'), join(dir, 'link.tar'));
    expect((await check({ kind: 'workspace-file', path: 'link.tar' })).pass).toBe(false);
    writeFileSync(join(dir, 'junk.tar'), 'not a tar at all\n'.repeat(100));
    expect((await check({ kind: 'workspace-file', path: 'junk.tar', holdsImage: 'busybox' })).pass).toBe(
      false,
    );
    expect((await check({ kind: 'workspace-file', path: 'junk.tar' })).pass).toBe(true);
  });
});

describe('a file in a named volume', () => {
  it('outlives the container that wrote it; a symlink planted there is not read through', async () => {
    const want: CheckInput = {
      kind: 'volume',
      name: 'keep',
      file: { path: '/data.txt', contains: 'precious' },
    };
    expect(await check(want)).toEqual({ pass: false, detail: 'no volume keep yet' });
    await createVolume(t.ctx, { name: 'keep' });
    expect((await check(want)).detail).toBe('volume keep: it has no /data.txt');
    const mounts = [
      { type: 'volume' as const, source: 'keep', target: '/data', readonly: false, createSource: false },
    ];
    const writer = await runContainer(t.ctx, {
      image: 'busybox',
      cmd: ['sh', '-c', 'echo "precious data" > /data/data.txt && ln -s /etc/passwd /data/passwd.txt'],
      name: 'writer',
      mounts,
      detach: true,
    });
    expect(await writer.exited).toBe(0);
    await removeContainer(t.ctx, 'writer');
    expect(await check(want)).toEqual({ pass: true, detail: 'volume keep: ok' });
    const planted = await check({
      kind: 'volume',
      name: 'keep',
      file: { path: '/passwd.txt', contains: 'root' },
    });
    expect(planted).toMatchObject({ pass: false, detail: 'volume keep: /passwd.txt is not a text file' });
  });
});
