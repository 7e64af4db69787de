// COPY layers straight from the build context: Docker's placement rules and a deterministic tar.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { copyLayerTar, planCopy } from '../../engine/builder/copy-layer.ts';
import { parseDockerignore } from '../../engine/builder/dockerignore.ts';

const context = mkdtempSync(join(tmpdir(), 'layerlab-copy-'));
afterAll(() => rmSync(context, { recursive: true, force: true }));
writeFileSync(join(context, 'a.txt'), 'a');
writeFileSync(join(context, 'b.txt'), 'b');
mkdirSync(join(context, 'site/css'), { recursive: true });
writeFileSync(join(context, 'site/index.html'), '<h1>hi</h1>');
writeFileSync(join(context, 'site/css/x.css'), 'x');
symlinkSync('index.html', join(context, 'site/home.html'));

async function entries(stream: Readable) {
  const extract = tar.extract();
  const out: { name: string; type: string; uid: number; mtime: number; body: string }[] = [];
  extract.on('entry', (header, body, next) => {
    const chunks: Buffer[] = [];
    body.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    body.on('end', () => {
      out.push({
        name: header.name,
        type: header.type ?? '',
        uid: header.uid ?? -1,
        mtime: header.mtime?.getTime() ?? -1,
        body: Buffer.concat(chunks).toString(),
      });
      next();
    });
  });
  stream.pipe(extract);
  await new Promise<void>((ok) => extract.on('finish', () => ok()));
  return out;
}

const opts = { uid: 0, gid: 0, mtime: new Date(0) };

describe('planCopy', () => {
  it('copies a file to a file path and makes the parent directories', async () => {
    const plan = await planCopy(context, ['a.txt'], '/opt/app/a-renamed');
    const list = await entries(copyLayerTar(plan, opts));
    expect(list.map((e) => [e.name, e.type])).toEqual([
      ['opt/', 'directory'],
      ['opt/app/', 'directory'],
      ['opt/app/a-renamed', 'file'],
    ]);
    expect(list[2]?.body).toBe('a');
  });

  it('copies a directory’s contents, relative to WORKDIR, with --chown and clamped mtimes', async () => {
    utimesSync(join(context, 'site/index.html'), new Date(5_000_000), new Date(5_000_000));
    const plan = await planCopy(context, ['site'], 'www/', { workdir: '/srv' });
    const list = await entries(copyLayerTar(plan, { uid: 1000, gid: 1000, mtime: new Date(1_000_000) }));
    expect(list.map((e) => e.name)).toEqual([
      'srv/',
      'srv/www/',
      'srv/www/css/',
      'srv/www/css/x.css',
      'srv/www/home.html',
      'srv/www/index.html',
    ]);
    expect(list.find((e) => e.name === 'srv/www/home.html')?.type).toBe('symlink');
    expect(list.filter((e) => e.name.startsWith('srv/www')).every((e) => e.uid === 1000)).toBe(true);
    expect(list.every((e) => e.mtime <= 1_000_000)).toBe(true);
  });

  it('puts several sources and globs into a directory', async () => {
    // Docker refuses several sources into a destination without a trailing / (classic builder's copy.go).
    await expect(planCopy(context, ['*.txt'], '/d')).rejects.toThrow(/must be a directory and end with a \//);
    const plan = await planCopy(context, ['*.txt'], '/d/');
    const list = await entries(copyLayerTar(plan, opts));
    expect(list.map((e) => e.name)).toEqual(['d/', 'd/a.txt', 'd/b.txt']);
  });

  it('gives the same bytes every time', async () => {
    const hash = async () => {
      const h = createHash('sha256');
      for await (const chunk of copyLayerTar(await planCopy(context, ['.'], '/x/'), opts)) h.update(chunk);
      return h.digest('hex');
    };
    expect(await hash()).toBe(await hash());
  });

  it('leaves out what .dockerignore excludes, re-including with !', async () => {
    const ignored = parseDockerignore('# comment\n*.txt\n!b.txt\nsite/css\n');
    const plan = await planCopy(context, ['.'], '/x/', { ignored });
    expect(plan.entries.map((e) => e.target)).toEqual([
      '/x',
      '/x/b.txt',
      '/x/site',
      '/x/site/home.html',
      '/x/site/index.html',
    ]);
    await expect(planCopy(context, ['a.txt'], '/x', { ignored })).rejects.toThrow(
      /excluded by .dockerignore/,
    );
    expect((await planCopy(context, ['*.txt'], '/x/', { ignored })).entries.map((e) => e.target)).toEqual([
      '/x',
      '/x/b.txt',
    ]);
  });

  it('refuses paths outside the context, missing files and URLs', async () => {
    await expect(planCopy(context, ['../../etc/passwd'], '/x')).rejects.toThrow(
      /file not found in build context/,
    );
    await expect(planCopy(context, ['nope'], '/x')).rejects.toThrow(/file not found in build context/);
    await expect(planCopy(context, ['https://example.com/x'], '/x')).rejects.toThrow(/remote URLs/);
  });
});

describe('parseDockerignore', () => {
  it('matches Docker’s patterns', () => {
    const ignored = parseDockerignore('node_modules\n**/*.log\n/tmp/?\n!keep.log\n');
    expect(ignored('node_modules')).toBe(true);
    expect(ignored('node_modules/x/y.js')).toBe(true);
    expect(ignored('a/b/c.log')).toBe(true);
    expect(ignored('c.log')).toBe(true);
    expect(ignored('keep.log')).toBe(false);
    expect(ignored('tmp/a')).toBe(true);
    expect(ignored('tmp/ab')).toBe(false);
    expect(ignored('src/main.ts')).toBe(false);
  });
});
