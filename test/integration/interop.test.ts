// Interoperability with the tools learners will meet next: skopeo and podman pull and run what Layerlab
// pushes (skopeo validates strictly), Layerlab pulls and runs what podman built, and podman loads
// `layerlab save --format docker`. podman and skopeo get private storage and config under a temp dir.

import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { save } from '../../engine/archive/save.ts';
import { build } from '../../engine/builder/build.ts';
import { containerLogs, runContainer } from '../../engine/container/index.ts';
import type { EngineContext } from '../../engine/context.ts';
import { pull } from '../../engine/pull.ts';
import { push } from '../../engine/push.ts';
import { umount2 } from '../../engine/sys/libc.ts';
import { busyboxContext, disposeContainers, mountsUnder } from '../support/containers.ts';
import { type TestContext, testRegistryCredentials, testRegistryHost } from '../support/context.ts';
import { assertImageSchemas, assertLayoutSchemas, readLayoutDir } from '../support/oci-validate.ts';

const execFileAsync = promisify(execFile);

let t: TestContext;
let ctx: EngineContext;
let host: string;
let dir: string;
let podmanGlobal: string[];
let env: NodeJS.ProcessEnv;

/**
 * Private configuration for podman and skopeo: the test registry as an insecure registry and no
 * search registries, a policy that accepts unsigned images, runc with nofile and nproc limits within
 * this machine's hard limits (rootful podman's defaults ask for more, which runc may not set),
 * cgroupfs, no network, and vfs storage so nothing stays mounted.
 */
function toolConfig(base: string, registry: string): { global: string[]; env: NodeJS.ProcessEnv } {
  const conf = (name: string, text: string) => {
    writeFileSync(join(base, name), text);
    return join(base, name);
  };
  const containersConf = conf(
    'containers.conf',
    [
      '[containers]',
      'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
      'netns = "none"',
      '[engine]',
      'runtime = "runc"',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      '',
    ].join('\n'),
  );
  const registriesConf = conf(
    'registries.conf',
    `unqualified-search-registries = []\n[[registry]]\nlocation = "${registry}"\ninsecure = true\n`,
  );
  const policy = conf('policy.json', JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  // The test registry wants its credential for every request, as setup's does.
  const auths = Object.fromEntries(
    Object.entries(testRegistryCredentials()).map(([h, c]) => [
      h,
      { auth: Buffer.from(`${c.username}:${c.password}`).toString('base64') },
    ]),
  );
  const authFile = conf('auth.json', JSON.stringify({ auths }));
  const storageConf = conf(
    'storage.conf',
    `[storage]\ndriver = "vfs"\nrunroot = "${join(base, 'runroot')}"\ngraphroot = "${join(base, 'root')}"\n`,
  );
  mkdirSync(join(base, 'tmp'));
  return {
    global: [
      '--root',
      join(base, 'root'),
      '--runroot',
      join(base, 'runroot'),
      '--storage-driver',
      'vfs',
      '--runtime',
      'runc',
      '--tmpdir',
      join(base, 'tmp'),
      '--events-backend',
      'file',
      '--cgroup-manager',
      'cgroupfs',
    ],
    env: {
      ...process.env,
      CONTAINERS_CONF: containersConf,
      CONTAINERS_REGISTRIES_CONF: registriesConf,
      CONTAINERS_STORAGE_CONF: storageConf,
      CONTAINERS_POLICY_JSON: policy,
      REGISTRY_AUTH_FILE: authFile,
      TMPDIR: join(base, 'tmp'),
    },
  };
}

/** Runs a tool to completion (bounded), returning stdout; a failure carries its stderr. */
async function tool(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, args, { env, timeout: 90_000, maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

const podman = (...args: string[]) => tool('podman', [...podmanGlobal, ...args]);
const skopeo = (...args: string[]) =>
  tool('skopeo', [
    '--policy',
    join(dir, 'policy.json'),
    '--registries-conf',
    join(dir, 'registries.conf'),
    ...args,
  ]);

/** Runs `cmd` in a Layerlab container from `image` and returns what it printed. */
async function layerlabRun(image: string, cmd: string[]): Promise<{ code: number; output: string }> {
  const { record, exited } = await runContainer(ctx, { image, cmd, detach: true });
  const code = await exited;
  let output = '';
  for await (const r of await containerLogs(ctx, record.id)) output += r.data.toString();
  return { code, output };
}

beforeAll(async () => {
  const registry = testRegistryHost();
  if (!registry) throw new Error('LAYERLAB_TEST_REGISTRY is not set: run through the integration project');
  host = registry;
  t = await busyboxContext();
  ctx = t.ctx;
  dir = mkdtempSync(join(tmpdir(), 'layerlab-interop-'));
  ({ global: podmanGlobal, env } = toolConfig(dir, host));
});

afterAll(async () => {
  if (dir !== undefined) {
    await podman('rm', '--all', '--force').catch(() => '');
    await podman('rmi', '--all', '--force').catch(() => '');
    for (const mountPoint of mountsUnder(dir)) {
      try {
        umount2(mountPoint, 2);
      } catch {
        // Gone with an outer mount.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
  await disposeContainers(t);
});

describe('other tools use what Layerlab pushes', () => {
  it('skopeo inspects and copies it, and podman pulls and runs it', async () => {
    const context = join(dir, 'layerlab-context');
    mkdirSync(context);
    writeFileSync(join(context, 'greeting.txt'), 'hello from layerlab\n');
    writeFileSync(
      join(context, 'Dockerfile'),
      'FROM busybox\nCOPY greeting.txt /greeting.txt\nCMD ["cat", "/greeting.txt"]\n',
    );
    const ref = `${host}/interop/from-layerlab:1`;
    await build(ctx, { contextDir: context, tags: [ref] });
    const pushed = await push(ctx, ref);

    const inspected = JSON.parse(await skopeo('inspect', '--tls-verify=false', `docker://${ref}`));
    expect(inspected.Digest).toBe(pushed.digest);
    expect(inspected.Layers).toHaveLength(2);

    const layout = join(dir, 'skopeo-layout');
    await skopeo('copy', '--src-tls-verify=false', `docker://${ref}`, `oci:${layout}:1`);
    expect(assertLayoutSchemas(readLayoutDir(layout))).toBe(1);

    await podman('pull', '--tls-verify=false', ref);
    expect(await podman('run', '--rm', '--network', 'none', ref, 'cat', '/greeting.txt')).toBe(
      'hello from layerlab\n',
    );
    // The image's own CMD, as podman reads it from the config Layerlab wrote.
    expect(await podman('run', '--rm', '--network', 'none', ref)).toBe('hello from layerlab\n');
  });

  it('podman loads `save --format docker` and runs the image', async () => {
    const archive = join(dir, 'busybox-docker.tar');
    await save(ctx, ['busybox'], archive, { format: 'docker' });
    expect(await podman('load', '--input', archive)).toMatch(/Loaded image.*busybox:latest/);
    expect(
      await podman('run', '--rm', '--network', 'none', 'docker.io/library/busybox:latest', 'echo', 'loaded'),
    ).toBe('loaded\n');
  });
});

describe('Layerlab uses what other tools push', () => {
  /** A build context whose Dockerfile copies a busybox tree onto scratch, as podman builds it. */
  function scratchContext(): string {
    const context = join(dir, 'podman-context');
    const bin = join(context, 'rootfs', 'bin');
    mkdirSync(bin, { recursive: true });
    cpSync('/bin/busybox', join(bin, 'busybox'));
    for (const applet of ['sh', 'cat', 'echo', 'ls']) symlinkSync('busybox', join(bin, applet));
    writeFileSync(join(context, 'rootfs', 'made-by.txt'), 'podman\n');
    writeFileSync(
      join(context, 'Containerfile'),
      'FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nCMD ["cat", "/made-by.txt"]\n',
    );
    return context;
  }

  it('pulls and runs an image podman built FROM scratch and pushed as OCI and as Docker schema 2', async () => {
    const context = scratchContext();
    const local = 'localhost/interop/from-podman:1';
    await podman(
      'build',
      '--format',
      'oci',
      '--network',
      'none',
      '-t',
      local,
      '-f',
      join(context, 'Containerfile'),
      context,
    );
    for (const [format, tag] of [
      ['oci', 'oci'],
      ['v2s2', 'docker'],
    ] as const) {
      const ref = `${host}/interop/from-podman:${tag}`;
      await podman('push', '--tls-verify=false', '--format', format, local, `docker://${ref}`);
      const image = await pull(ctx, ref);
      expect(image.manifest.mediaType).toBe(
        tag === 'oci'
          ? 'application/vnd.oci.image.manifest.v1+json'
          : 'application/vnd.docker.distribution.manifest.v2+json',
      );
      await assertImageSchemas(ctx, image);
      expect(await layerlabRun(ref, [])).toEqual({ code: 0, output: 'podman\n' });
      expect(await layerlabRun(ref, ['sh', '-c', 'echo $PATH; ls /bin'])).toEqual({
        code: 0,
        output: '/bin\nbusybox\ncat\necho\nls\nsh\n',
      });
    }
    expect(readFileSync(join(context, 'rootfs', 'made-by.txt'), 'utf8')).toBe('podman\n');
  });
});
