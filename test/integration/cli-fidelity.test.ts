// CLI behaviours the issue-12 audit found apart from Docker's and fixed, each checked against what
// Docker 20.10 printed for the same commands (a private dockerd, side by side): `pause` outliving the
// next command's start-up recovery, `{{json .}}` of a list row, ps's IMAGE once the tag went, and
// `--env-file` errors.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFreezeMarker } from '../../engine/container/pause.ts';
import type { EngineContext } from '../../engine/context.ts';
import { humanSize } from '../../engine/format/text.ts';
import { isFrozen, setFrozen } from '../../engine/host/cgroups.ts';
import { recoverRoot } from '../../engine/recover.ts';
import { loadImage } from '../../engine/store/images.ts';
import { listLayers } from '../../engine/store/layers.ts';
import { type CliResult, runCli } from '../support/cli.ts';
import { busyboxContext, disposeContainers } from '../support/containers.ts';
import { freshContext, type TestContext } from '../support/context.ts';

let t: TestContext;
let ctx: EngineContext;
let dir: string;

beforeAll(async () => {
  t = await busyboxContext();
  ctx = t.ctx;
  dir = mkdtempSync(join(tmpdir(), 'layerlab-cli-fidelity-'));
}, 120_000);

afterAll(async () => {
  await disposeContainers(t);
  rmSync(dir, { recursive: true, force: true });
});

function cli(...args: string[]): Promise<CliResult> {
  return runCli(args, ctx, { env: {}, hostFiles: true });
}

async function ok(...args: string[]): Promise<string> {
  const r = await cli(...args);
  expect(r.status, `${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

describe('pause', () => {
  it('stays paused through the next command’s start-up recovery; a commit’s own freeze is thawed', async () => {
    await ok('run', '-d', '--name', 'paused', 'busybox', 'sleep', '300');
    const id = (await ok('inspect', '-f', '{{.Id}}', 'paused')).trim();
    await ok('pause', 'paused');
    // What every new CLI process runs first when no other engine process is alive on the root.
    expect((await recoverRoot(ctx)).resumed).toEqual([]);
    expect(isFrozen(id)).toBe(true);
    expect(await ok('ps', '--format', '{{.Status}}', '--filter', 'name=paused')).toMatch(/\(Paused\)$/m);
    await ok('unpause', 'paused');
    // A commit that died while it held the container frozen leaves its marker: that freeze is undone.
    writeFileSync(commitFreezeMarker(ctx, id), '');
    expect(await setFrozen(id, true)).toBe(true);
    expect((await recoverRoot(ctx)).resumed).toEqual([id]);
    expect(isFrozen(id)).toBe(false);
    await ok('rm', '-f', 'paused');
  });
});

describe('--format json of list rows', () => {
  it('sorts the keys and escapes <, > and & as Go’s json.Marshal of the row’s map does', async () => {
    await ok('tag', 'busybox', 'fmt:x');
    const line = (await ok('images', '--format', '{{json .}}', 'fmt')).trim();
    // Docker 20.10: {"Containers":"N/A","CreatedAt":…,"Digest":"\u003cnone\u003e","ID":…,
    // "Repository":…,"SharedSize":"N/A","Size":"1.98MB","Tag":…,"UniqueSize":"N/A","VirtualSize":"1.985MB"}
    expect(line).toContain('"Digest":"\\u003cnone\\u003e"');
    const keys = Object.keys(JSON.parse(line) as Record<string, unknown>);
    expect(keys).toEqual([...keys].sort());
    expect(keys).toEqual([
      'Containers',
      'CreatedAt',
      'CreatedSince',
      'Digest',
      'ID',
      'Repository',
      'SharedSize',
      'Size',
      'Tag',
      'UniqueSize',
      'VirtualSize',
    ]);
    // A value of a row is marshalled as it is: only the row itself is a Go map.
    expect(await ok('images', '--format', '{{json .Digest}}', 'fmt')).toBe('"<none>"\n');
    await ok('rmi', 'fmt:x');
  });
});

describe('ps IMAGE', () => {
  it('shows the image id once the name the container was made from no longer names its image', async () => {
    await ok('tag', 'busybox', 'gone:1');
    await ok('create', '--name', 'from-gone', 'gone:1', 'true');
    expect(await ok('ps', '-a', '--filter', 'name=from-gone', '--format', '{{.Image}}')).toBe('gone:1\n');
    expect(await ok('rmi', '-f', 'gone:1')).toBe('Untagged: gone:1\n');
    const id = (await ok('image', 'inspect', '-f', '{{.Id}}', 'busybox')).trim();
    expect(await ok('ps', '-a', '--filter', 'name=from-gone', '--format', '{{.Image}}')).toBe(
      `${id.slice(7, 19)}\n`,
    );
    expect(await ok('ps', '-a', '--no-trunc', '--filter', 'name=from-gone', '--format', '{{.Image}}')).toBe(
      `${id}\n`,
    );
    // A whole row marshalled asks for the sizes, as Docker 20.10's `ps --format '{{json .}}'` does.
    const row = JSON.parse(await ok('ps', '-a', '--filter', 'name=from-gone', '--format', '{{json .}}')) as {
      Size: string;
    };
    expect(row.Size).toMatch(/^0B \(virtual \d/);
    await ok('rm', 'from-gone');
  });
});

describe('load', () => {
  it('sizes a loaded image by its unpacked files, not by its compressed blobs', async () => {
    const archive = join(dir, 'busybox.tar');
    await ok('save', '-o', archive, 'busybox');
    const other = freshContext();
    try {
      const loaded = await runCli(['load', '-i', archive], other.ctx, { env: {}, hostFiles: true });
      expect(loaded.status, loaded.stderr).toBe(0);
      const there = await runCli(['images', '--format', '{{.Size}}', 'busybox'], other.ctx, { env: {} });
      const diffIds = (await loadImage(other.ctx, 'busybox')).config.rootfs.diff_ids;
      const sizes = new Map((await listLayers(other.ctx)).map((l) => [l.diffId, l.size]));
      const files = diffIds.reduce((sum, id) => sum + (sizes.get(id) ?? Number.NaN), 0);
      expect(there.stdout).toBe(`${humanSize(files, 3)}\n`);
    } finally {
      other.cleanup();
    }
  });
});

describe('--env-file', () => {
  it('refuses a name with blanks or no name in Docker’s words, status 125', async () => {
    const blanks = join(dir, 'blanks.env');
    writeFileSync(blanks, 'A=1\nB = two\n');
    const r = await cli('run', '--rm', '--env-file', blanks, 'busybox', 'true');
    expect(r.status).toBe(125);
    expect(r.stderr).toBe(
      "layerlab: poorly formatted environment: variable 'B ' contains whitespaces.\nSee 'layerlab run --help'.\n",
    );
    const noName = join(dir, 'no-name.env');
    writeFileSync(noName, '=x\n');
    const n = await cli('create', '--env-file', noName, 'busybox', 'true');
    expect(n.status).toBe(125);
    expect(n.stderr).toMatch(/^layerlab: poorly formatted environment: no variable name on line '=x'\.\n/);
  });
});
