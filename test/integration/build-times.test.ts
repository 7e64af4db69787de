// Build and commit times: the real time by default (Docker's), SOURCE_DATE_EPOCH from the caller's
// environment for a reproducible build (every `created` that time, every layer mtime clamped to it),
// and the cache still hitting either way.
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commit } from '../../engine/commit.ts';
import { runContainer } from '../../engine/container/index.ts';
import type { EngineContext } from '../../engine/context.ts';
import type { Image } from '../../engine/oci/types.ts';
import { openBlob } from '../../engine/store/blobs.ts';
import { loadImage } from '../../engine/store/images.ts';
import { runCli } from '../support/cli.ts';
import { busyboxContext, disposeContainers } from '../support/containers.ts';
import type { TestContext } from '../support/context.ts';

let t: TestContext;
let ctx: EngineContext;
let contextDir: string;
/** The copied file's mtime: well before any build, and after the epoch used below. */
const FILE_TIME = new Date('2024-03-01T12:00:00Z');
const EPOCH = 1_700_000_000; // 2023-11-14T22:13:20Z

beforeAll(async () => {
  t = await busyboxContext();
  ctx = t.ctx;
  contextDir = mkdtempSync(join(tmpdir(), 'layerlab-times-'));
  writeFileSync(join(contextDir, 'a.txt'), 'a\n');
  utimesSync(join(contextDir, 'a.txt'), FILE_TIME, FILE_TIME);
  writeFileSync(
    join(contextDir, 'Dockerfile'),
    'FROM busybox\nCOPY a.txt /copied/a.txt\nRUN echo made > /made.txt\nWORKDIR /new/dir\nCMD ["cat", "/made.txt"]\n',
  );
});

afterAll(async () => {
  await disposeContainers(t);
  rmSync(contextDir, { recursive: true, force: true });
});

/** name → mtime (ms) of every entry of the image's layers above busybox's one. */
async function builtMtimes(image: Image): Promise<Map<string, number>> {
  const times = new Map<string, number>();
  for (const layer of image.manifest.layers.slice(1)) {
    const extract = tar.extract();
    extract.on('entry', (header, body, next) => {
      times.set(header.name, header.mtime?.getTime() ?? Number.NaN);
      body.resume();
      body.on('end', () => next());
    });
    openBlob(ctx, layer.digest).pipe(extract);
    await new Promise<void>((ok, fail) => {
      extract.on('finish', () => ok());
      extract.on('error', fail);
    });
  }
  return times;
}

async function cliBuild(
  tag: string,
  env: Record<string, string> = {},
): Promise<{ image: Image; out: string }> {
  const result = await runCli(['build', '-t', tag, contextDir], ctx, { env, progress: true });
  expect(result.status, result.stderr).toBe(0);
  return { image: await loadImage(ctx, tag), out: result.stdout };
}

describe('build times', () => {
  it('are the real time by default: created now, copied files keep theirs, RUN files now', async () => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    const { image } = await cliBuild('times:now');
    const after = Date.now();
    const created = Date.parse(image.config.created ?? '');
    expect(created).toBeGreaterThanOrEqual(before);
    expect(created).toBeLessThanOrEqual(after);
    for (const entry of image.config.history?.slice(-4) ?? []) {
      expect(Date.parse(entry.created ?? '')).toBeGreaterThanOrEqual(before);
    }
    const mtimes = await builtMtimes(image);
    // tar keeps whole seconds.
    expect(mtimes.get('copied/a.txt')).toBe(FILE_TIME.getTime());
    expect(mtimes.get('made.txt')).toBeGreaterThanOrEqual(before);
    expect(mtimes.get('made.txt')).toBeLessThanOrEqual(after);
    expect(mtimes.get('new/dir/')).toBeGreaterThanOrEqual(before);

    // The cache hits although the times differ from a fresh build's.
    const again = await cliBuild('times:again');
    expect(again.image.id).toBe(image.id);
    expect(again.out.match(/^#\d+ CACHED$/gm)).toHaveLength(3);
  });

  it('are SOURCE_DATE_EPOCH exactly when the caller sets it, the same image every time', async () => {
    const env = { SOURCE_DATE_EPOCH: String(EPOCH) };
    const { image, out } = await cliBuild('times:epoch', env);
    // Not the real-time image from the cache: the epoch is part of every step's key.
    expect(out).not.toMatch(/^#\d+ CACHED$/m);
    expect(image.config.created).toBe('2023-11-14T22:13:20Z');
    for (const entry of image.config.history?.slice(-4) ?? [])
      expect(entry.created).toBe(image.config.created);
    const mtimes = await builtMtimes(image);
    expect(mtimes.size).toBeGreaterThan(3);
    for (const [name, mtime] of mtimes) expect(mtime, name).toBeLessThanOrEqual(EPOCH * 1000);
    // Later than the epoch, so clamped to it; RUN's new file too.
    expect(mtimes.get('copied/a.txt')).toBe(EPOCH * 1000);
    expect(mtimes.get('made.txt')).toBe(EPOCH * 1000);

    const cached = await cliBuild('times:epoch2', env);
    expect(cached.image.id).toBe(image.id);
    expect(cached.out.match(/^#\d+ CACHED$/gm)).toHaveLength(3);
    const rebuilt = await runCli(['build', '--no-cache', '-t', 'times:epoch3', contextDir], ctx, { env });
    expect(rebuilt.status, rebuilt.stderr).toBe(0);
    expect((await loadImage(ctx, 'times:epoch3')).id).toBe(image.id);
  });

  it('refuses a SOURCE_DATE_EPOCH that is not a number of seconds', async () => {
    const result = await runCli(['build', contextDir], ctx, { env: { SOURCE_DATE_EPOCH: 'yesterday' } });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('SOURCE_DATE_EPOCH: not a number of seconds: yesterday');
  });
});

describe('commit times', () => {
  it('are the real time, as docker commit’s', async () => {
    const { record, exited } = await runContainer(ctx, {
      image: 'busybox',
      cmd: ['sh', '-c', 'echo x > /x'],
      detach: true,
    });
    expect(await exited).toBe(0);
    const before = Math.floor(Date.now() / 1000) * 1000;
    const image = await commit(ctx, record.id, { repoTag: 'times:commit' });
    expect(Date.parse(image.config.created ?? '')).toBeGreaterThanOrEqual(before);
    expect(Date.parse(image.config.history?.at(-1)?.created ?? '')).toBeGreaterThanOrEqual(before);
    const mtimes = await builtMtimes(image);
    expect(mtimes.get('x')).toBeGreaterThan(Date.parse('2020-01-01T00:00:00Z'));
  });
});
