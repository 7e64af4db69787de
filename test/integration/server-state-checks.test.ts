// The check kinds that stand in for "the reader typed X" with real state: a container's process seen
// in the host's /proc, a file's line count, the builder an image came from, a saved archive in the
// workspace, a file in a named volume. Each fails before the step and passes after it, and none
// can be fooled by what a container or a visitor plants (symlinks, other files, other images).
// Also the classic builder's working containers, which `ps` lists as Docker's does; and a push to
// the session's own registry, confirmed by that registry and by no other session's push.

import { randomBytes } from 'node:crypto';
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
import { createContext, type EngineContext } from '../../engine/context.ts';
import { tag } from '../../engine/image/tag.ts';
import { push } from '../../engine/push.ts';
import { RegistryClient } from '../../engine/registry/client.ts';
import { sessionPolicy } from '../../engine/registry/session-access.ts';
import { loadImage, recordImage } from '../../engine/store/images.ts';
import { createVolume } from '../../engine/volume/volumes.ts';
import { evaluateCondition } from '../../server/checks/evaluate.ts';
import { type CheckInput, parseCheck } from '../../server/checks/schema.ts';
import { sessionWorkspace } from '../../server/sessions/workspace.ts';
import { busyboxContext, disposeContainers } from '../support/containers.ts';
import { type TestContext, testRegistryCredentials, testRegistryHost } from '../support/context.ts';

let t: TestContext;
const dirs: string[] = [];

beforeAll(async () => {
  t = await busyboxContext();
});

afterAll(async () => {
  await disposeContainers(t);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function check(input: CheckInput, ctx: EngineContext = t.ctx) {
  const parsed = parseCheck(input);
  if (!parsed.ok) throw new Error(parsed.message);
  return evaluateCondition(ctx, parsed.check);
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

describe("a push to the session's own registry", () => {
  /** A root as a server session has it: the local registry's credential, and a namespace of its own. */
  function sessionContext(root: TestContext, credentials = testRegistryCredentials()): EngineContext {
    const policy = sessionPolicy(root.ctx.config, randomBytes(16).toString('hex'));
    return createContext(root.root, { config: root.ctx.config, registry: { credentials, policy } });
  }

  it('passes only once this session pushed the tag, and the registry serves what it holds', async () => {
    const host = testRegistryHost();
    if (!host) throw new Error('LAYERLAB_TEST_REGISTRY is not set: run through the integration project');
    const other = await busyboxContext();
    const a = sessionContext(t);
    const b = sessionContext(other);
    // The registry is named by the session's policy (the test registry's random port), never a literal.
    expect(a.registry?.policy?.own?.host).toBe(host);
    const v1: CheckInput = { kind: 'pushed', repository: 'hello', tag: 'v1' };
    const v2: CheckInput = { kind: 'pushed', repository: 'hello', tag: 'v2' };
    try {
      expect(await check(v1, a)).toEqual({ pass: false, detail: `no image tagged ${host}/hello:v1 yet` });

      // Tagged, not pushed.
      await tag(a, 'busybox', `${host}/hello:v1`);
      expect(await check(v1, a)).toEqual({ pass: false, detail: `${host}/hello:v1 has not been pushed yet` });

      // A push that fails (the registry refuses a session without its credential) records nothing.
      await expect(push(sessionContext(t, {}), `${host}/hello:v1`)).rejects.toThrow(/denied/);
      expect(await check(v1, a)).toEqual({ pass: false, detail: `${host}/hello:v1 has not been pushed yet` });

      // Another session pushes the same image under the same name: its own namespace, not A's.
      await tag(b, 'busybox', `${host}/hello:v1`);
      const theirs = await push(b, `${host}/hello:v1`);
      expect(await check(v1, b)).toEqual({ pass: true, detail: `${host}/hello:v1: pushed` });
      expect((await check(v1, a)).pass).toBe(false);
      // Even a record claiming that push's digest (as a load or a forged record could) is not a push
      // of A's: A's registry has no such tag.
      await recordImage(a, {
        manifestDigest: (await loadImage(a, 'busybox')).manifestDigest,
        repoDigest: `${host}/hello@${theirs.digest}`,
      });
      expect(await check(v1, a)).toEqual({
        pass: false,
        detail: `your registry has no ${host}/hello:v1 yet`,
      });

      await push(a, `${host}/hello:v1`);
      expect(await check(v1, a)).toEqual({ pass: true, detail: `${host}/hello:v1: pushed` });

      // v2, another image: tagged only, then pushed.
      const dir = context('FROM busybox\nCOPY version.txt /app/version.txt\n');
      writeFileSync(join(dir, 'version.txt'), 'version 2\n');
      await build(a, { contextDir: dir, tags: [`${host}/hello:v2`] });
      expect(await check(v2, a)).toEqual({ pass: false, detail: `${host}/hello:v2 has not been pushed yet` });
      await push(a, `${host}/hello:v2`);
      expect(await check({ all: [v1, v2] }, a)).toEqual({ pass: true });

      // The name moved to an image pushed under another tag only: the registry's v2 is not it.
      await tag(a, `${host}/hello:v1`, `${host}/hello:v2`);
      expect(await check(v2, a)).toEqual({
        pass: false,
        detail: `your registry's ${host}/hello:v2 is not the image you have under that name`,
      });
      // And a tag never pushed at all, on an image that was pushed as v1.
      await tag(a, `${host}/hello:v1`, `${host}/hello:v3`);
      expect(await check({ kind: 'pushed', repository: 'hello', tag: 'v3' }, a)).toEqual({
        pass: false,
        detail: `your registry has no ${host}/hello:v3 yet`,
      });
    } finally {
      await new RegistryClient(a).deleteOwnNamespace();
      await new RegistryClient(b).deleteOwnNamespace();
      await disposeContainers(other);
    }
  });
});
