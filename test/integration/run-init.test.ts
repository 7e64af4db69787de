// `run --init` / `create --init` as Docker has it: docker-init (native/init.c) as PID 1 with the
// command as its child, signals forwarded, orphans reaped, the command's exit status (or 128 + the
// signal) as the container's, HostConfig.Init in inspect, and the mount point never in diff or commit
// (made in the init layer, through an image's /sbin symlink too). Docker's side of these is in the
// differential cases init-* (test/differential/cases/).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineContext } from '../../engine/context.ts';
import { type CliResult, runCli } from '../support/cli.ts';
import { busyboxContext, disposeContainers } from '../support/containers.ts';
import type { TestContext } from '../support/context.ts';

let t: TestContext;
let ctx: EngineContext;
const dirs: string[] = [];

beforeAll(async () => {
  t = await busyboxContext();
  ctx = t.ctx;
}, 120_000);

afterAll(async () => {
  await disposeContainers(t);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<CliResult> {
  return runCli(args, ctx, { env: {} });
}

async function ok(...args: string[]): Promise<string> {
  const r = await cli(...args);
  expect(r.status, `${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Builds `dockerfile` (a context with only it) as `tag`. */
async function buildImage(tag: string, dockerfile: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'layerlab-init-ctx-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  await ok('build', '-q', '-t', tag, dir);
}

/** The paths in the top layer of `image` (a save of one image). */
async function topLayerPaths(image: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'layerlab-init-save-'));
  dirs.push(dir);
  const archive = join(dir, 'image.tar');
  await ok('save', '-o', archive, image);
  const files = await readTar(Readable.from([readFileSync(archive)]));
  const [manifest] = JSON.parse(files.get('manifest.json')!.toString()) as { Layers: string[] }[];
  const top = await readTar(Readable.from([files.get(manifest!.Layers.at(-1)!)!]));
  return [...top.keys()];
}

async function readTar(source: Readable): Promise<Map<string, Buffer>> {
  const extract = tar.extract();
  source.pipe(extract as unknown as NodeJS.WritableStream);
  const out = new Map<string, Buffer>();
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    out.set(entry.header.name.replace(/^\.?\/+/, '').replace(/\/$/, ''), Buffer.concat(chunks));
  }
  return out;
}

describe('run --init', () => {
  it('runs docker-init as PID 1 with the command as its child, as Docker’s ps shows it', async () => {
    const out = await ok('run', '--rm', '--init', 'busybox', 'ps', '-o', 'pid,ppid,args');
    const rows = out
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/));
    expect(rows[0]?.slice(0, 5)).toEqual(['1', '0', '/sbin/docker-init', '--', 'ps']);
    expect(rows[1]?.[1]).toBe('1');
    expect(rows[1]?.slice(2, 3)).toEqual(['ps']);
  });

  it('records HostConfig.Init (true, false, or null when not asked) and the command as Path and Args', async () => {
    await ok('create', '--init', '--name', 'with-init', 'busybox', 'sleep', '5');
    await ok('create', '--init=false', '--name', 'init-false', 'busybox', 'true');
    await ok('create', '--name', 'no-init', 'busybox', 'true');
    expect(await ok('inspect', '-f', '{{json .HostConfig.Init}} {{.Path}} {{json .Args}}', 'with-init')).toBe(
      'true sleep ["5"]\n',
    );
    expect(await ok('inspect', '-f', '{{json .HostConfig.Init}}', 'init-false')).toBe('false\n');
    expect(await ok('inspect', '-f', '{{json .HostConfig.Init}}', 'no-init')).toBe('null\n');
    await ok('rm', 'with-init', 'init-false', 'no-init');
  });

  it('create --init then start: top shows docker-init and the command as its child; stop exits 143', async () => {
    await ok('create', '--init', '--name', 'stoppable', 'busybox', 'sleep', '300');
    await ok('start', 'stoppable');
    const rows = (await ok('top', 'stoppable'))
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/));
    const init = rows.find((r) => r.slice(7).join(' ') === '/sbin/docker-init -- sleep 300');
    const sleep = rows.find((r) => r.slice(7).join(' ') === 'sleep 300');
    expect(init, JSON.stringify(rows)).toBeDefined();
    expect(sleep?.[2]).toBe(init?.[1]); // sleep's PPID is docker-init's PID
    // sleep has no SIGTERM handler; as PID 1 it would ignore it and be SIGKILLed (137) after the
    // timeout. Under the init it gets the signal and dies of it: 128 + 15.
    await ok('stop', '-t', '60', 'stoppable');
    expect(await ok('inspect', '-f', '{{.State.ExitCode}}', 'stoppable')).toBe('143\n');
    await ok('rm', 'stoppable');
  });

  it('exits with the command’s status, 128 + a signal that killed it, 127 for a missing command', async () => {
    expect((await cli('run', '--rm', '--init', 'busybox', 'sh', '-c', 'exit 7')).status).toBe(7);
    expect((await cli('run', '--rm', '--init', 'busybox', 'sh', '-c', 'kill -KILL $$')).status).toBe(137);
    const missing = await cli('run', '--rm', '--init', 'busybox', 'no-such-command');
    expect(missing.status).toBe(127);
    expect(missing.stderr).toMatch(
      /\[FATAL tini \(\d+\)\] exec no-such-command failed: No such file or directory/,
    );
  });

  it('reaps orphans: no zombie is left when a process’s parent exits first', async () => {
    const out = await ok(
      'run',
      '--rm',
      '--init',
      'busybox',
      'sh',
      '-c',
      '(sleep 0.1 &); sleep 1; ps -o stat,comm',
    );
    expect(out).not.toMatch(/^Z/m);
    expect(out).toMatch(/docker-init/);
  });

  it('keeps the mount point out of diff, commit and the builds on top; the binary is read-only', async () => {
    const r = await cli(
      'run',
      '--init',
      '--name',
      'changed',
      'busybox',
      'sh',
      '-c',
      'echo x > /f; echo y > /sbin/docker-init',
    );
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(await ok('diff', 'changed')).toBe('A /f\n');
    await ok('commit', 'changed', 'after-init');
    expect(await topLayerPaths('after-init')).toEqual(['f']);
    expect((await cli('run', '--rm', 'after-init', 'ls', '/sbin/docker-init')).status).not.toBe(0);
    await ok('rm', 'changed');
  });

  it('mounts through an image’s /sbin symlink (usr-merged), keeping the directory as the image has it', async () => {
    await buildImage(
      'usr-merged',
      'FROM busybox\nRUN rm -rf /sbin && mkdir -p /usr/sbin && chmod 750 /usr/sbin && ln -s usr/sbin /sbin && touch /usr/sbin/tool\n',
    );
    const out = await ok(
      'run',
      '--name',
      'merged',
      '--init',
      'usr-merged',
      'sh',
      '-c',
      'readlink /sbin; stat -c %a /usr/sbin; ls /usr/sbin/docker-init /usr/sbin/tool; ps -o pid,args | grep -c "^ *1 /sbin/docker-init"',
    );
    expect(out).toBe('usr/sbin\n750\n/usr/sbin/docker-init\n/usr/sbin/tool\n1\n');
    expect(await ok('diff', 'merged')).toBe('');
    await ok('rm', 'merged');
  });

  it('runs in an image with nothing but a static binary (scratch)', async () => {
    await buildImage(
      'only-busybox',
      'FROM busybox AS b\nFROM scratch\nCOPY --from=b /bin/busybox /busybox\n',
    );
    const out = await ok(
      'run',
      '--name',
      'bare',
      '--init',
      'only-busybox',
      '/busybox',
      'ps',
      '-o',
      'pid,args',
    );
    expect(out).toMatch(/^\s*1 \/sbin\/docker-init -- \/busybox ps/m);
    expect(await ok('diff', 'bare')).toBe('');
    await ok('rm', 'bare');
  });
});
