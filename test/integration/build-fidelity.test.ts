// Dockerfile features built as Docker builds them (issue #12, "Dockerfile"): multi-stage builds with
// COPY --from and --target, ADD of local tars, HEALTHCHECK/ONBUILD/MAINTAINER/SHELL in the config,
// heredocs that really run, Docker's quoting, WORKDIR in a layer, EXPOSE ranges, COPY --chown on the
// directories it creates, and Docker's error texts. Expected values are Docker's (sources cited).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { build } from '../../engine/builder/build.ts';
import type { EngineContext } from '../../engine/context.ts';
import { readImageFile } from '../../engine/image/read-file.ts';
import { validateImage } from '../../engine/image/validate.ts';
import type { Image } from '../../engine/oci/types.ts';
import { openBlob } from '../../engine/store/blobs.ts';
import { makeBusyboxImage } from '../support/busybox-image.ts';
import { freshContext, type TestContext } from '../support/context.ts';

const $ = '$';
const contexts: TestContext[] = [];
const dirs: string[] = [];
afterAll(() => {
  for (const t of contexts) t.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function withBusybox(): Promise<EngineContext> {
  const t = freshContext({ mirrors: {} });
  contexts.push(t);
  await makeBusyboxImage(t.ctx);
  return t.ctx;
}

function buildContext(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'layerlab-fidelity-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

async function layerHeaders(ctx: EngineContext, image: Image, index = -1): Promise<tar.Header[]> {
  const headers: tar.Header[] = [];
  const extract = tar.extract();
  extract.on('entry', (header, body, next) => {
    headers.push(header);
    body.resume();
    body.on('end', () => next());
  });
  const layer = image.manifest.layers.at(index)!;
  const blob = openBlob(ctx, layer.digest);
  (layer.mediaType.endsWith('gzip') ? blob.pipe(createGunzip()) : blob).pipe(extract);
  await new Promise<void>((ok) => extract.on('finish', () => ok()));
  return headers;
}

describe('multi-stage builds', () => {
  it('copies from a named stage, an index and an image, and skips stages the target does not need', async () => {
    const ctx = await withBusybox();
    const contextDir = buildContext({
      Dockerfile: `FROM busybox AS build
RUN mkdir -p /out && echo built > /out/app && echo extra > /out/extra
FROM busybox AS unused
RUN echo this stage is skipped && false
FROM scratch
COPY --from=build /out/app /app
COPY --from=0 /out/extra /extra
COPY --from=busybox /bin/busybox /busybox
`,
    });
    const image = await build(ctx, { contextDir });
    await validateImage(ctx, image);
    expect(await readImageFile(ctx, image, '/app')).toBe('built\n');
    expect(await readImageFile(ctx, image, '/extra')).toBe('extra\n');
    expect((await layerHeaders(ctx, image)).map((h) => h.name)).toEqual(['busybox']);
    // BuildKit builds only what the target needs: the failing `unused` stage never ran.
    expect(image.log).not.toContain('this stage is skipped');
  });

  it('builds the --target stage only, and names a missing one as Docker does', async () => {
    const ctx = await withBusybox();
    const contextDir = buildContext({
      Dockerfile: `FROM busybox AS base
ENV STAGE=base
FROM base AS test
ENV STAGE=test
FROM base
RUN false
`,
    });
    const image = await build(ctx, { contextDir, target: 'test' });
    expect(image.config.config?.Env).toContain('STAGE=test');
    await expect(build(ctx, { contextDir, target: 'nope' })).rejects.toThrow(
      'target stage "nope" could not be found',
    );
  });
});

describe('ADD of a local archive', () => {
  it.each([
    ['plain', 'files.tar', [] as string[]],
    ['gzip', 'files.tar.gz', ['-z']],
    ['xz', 'files.tar.xz', ['-J']],
    ['bzip2', 'files.tar.bz2', ['-j']],
    ['zstd', 'files.tar.zst', ['--zstd']],
  ])('extracts a %s tar into the destination, as Docker does', async (_kind, name, flags) => {
    const ctx = await withBusybox();
    const contextDir = buildContext({
      Dockerfile: `FROM busybox\nADD ${name} /srv\n`,
      'src/dir/a.txt': 'A\n',
    });
    execFileSync('tar', ['-c', ...flags, '-f', join(contextDir, name), '-C', join(contextDir, 'src'), 'dir']);
    const image = await build(ctx, { contextDir });
    await validateImage(ctx, image);
    expect(await readImageFile(ctx, image, '/srv/dir/a.txt')).toBe('A\n');
    expect(await readImageFile(ctx, image, `/srv/${name}`)).toBeUndefined();
  });

  it('refuses a remote URL with a clear message (the sandbox has no network)', async () => {
    const ctx = await withBusybox();
    const contextDir = buildContext({ Dockerfile: 'FROM busybox\nADD https://example.com/x.tar /x\n' });
    await expect(build(ctx, { contextDir })).rejects.toThrow(/remote URLs in ADD are not supported/);
  });
});

describe('config instructions', () => {
  it('records HEALTHCHECK, ONBUILD, MAINTAINER, SHELL and EXPOSE ranges as Docker does', async () => {
    const ctx = await withBusybox();
    const contextDir = buildContext({
      Dockerfile: `FROM busybox
MAINTAINER Jane Doe <jane@example.com>
SHELL ["/bin/sh", "-ec"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=2 CMD wget -q -O- localhost || exit 1
ONBUILD RUN echo triggered > /triggered
EXPOSE 8000-8002 53/udp
`,
    });
    const image = await build(ctx, { contextDir, tags: ['parent:1'] });
    // docker inspect: .Author, .Config.Shell, .Config.Healthcheck (ns), .Config.OnBuild, .Config.ExposedPorts
    expect(image.config.author).toBe('Jane Doe <jane@example.com>');
    expect(image.config.config).toMatchObject({
      Shell: ['/bin/sh', '-ec'],
      Healthcheck: {
        Test: ['CMD-SHELL', 'wget -q -O- localhost || exit 1'],
        Interval: 30_000_000_000,
        Timeout: 3_000_000_000,
        StartPeriod: 5_000_000_000,
        Retries: 2,
      },
      OnBuild: ['RUN echo triggered > /triggered'],
      ExposedPorts: { '8000/tcp': {}, '8001/tcp': {}, '8002/tcp': {}, '53/udp': {} },
    });

    // A child runs the parent's triggers right after FROM and does not inherit them (both builders).
    const child = buildContext({ Dockerfile: 'FROM parent:1\nHEALTHCHECK NONE\n' });
    const built = await build(ctx, { contextDir: child });
    expect(await readImageFile(ctx, built, '/triggered')).toBe('triggered\n');
    expect(built.log).toContain('# Executing 1 build trigger');
    expect(built.config.config?.OnBuild ?? null).toBeNull();
    expect(built.config.config?.Healthcheck).toEqual({ Test: ['NONE'] });
  });

  it('processes quotes and variables as Docker does', async () => {
    const ctx = await withBusybox();
    const contextDir = buildContext({
      Dockerfile: `FROM busybox
ENV A=old
ENV A=new B=${$}{A:-x} C='${$}A' D=\\${$}A E="${$}A x"
ENV F ${$}{UNSET-dash}
`,
    });
    const image = await build(ctx, { contextDir });
    // Docker expands all words of one ENV against the env before it (B sees the old A).
    expect(image.config.config?.Env).toEqual(
      expect.arrayContaining(['A=new', 'B=old', `C=${$}A`, `D=${$}A`, 'E=old x', 'F=dash']),
    );
  });
});

describe('files and layers', () => {
  it('runs RUN heredocs (plain, shebang, and shell heredocs) and writes COPY heredocs', async () => {
    const ctx = await withBusybox();
    const contextDir = buildContext({
      Dockerfile: [
        'FROM busybox',
        'ARG WHO=world',
        'RUN <<EOF',
        'echo one > /one',
        'echo two >> /one',
        'EOF',
        'RUN <<EOF',
        '#!/bin/sh',
        'echo script > /script',
        'EOF',
        'RUN cat > /three <<-END',
        '\tthree',
        '\tEND',
        "COPY <<EOF <<'RAW' /etc/",
        `hello ${$}WHO`,
        'EOF',
        `keep ${$}WHO`,
        'RAW',
        'COPY <<EOF /greeting',
        'hi',
        'EOF',
        '',
      ].join('\n'),
    });
    const image = await build(ctx, { contextDir });
    await validateImage(ctx, image);
    expect(await readImageFile(ctx, image, '/one')).toBe('one\ntwo\n');
    expect(await readImageFile(ctx, image, '/script')).toBe('script\n');
    expect(await readImageFile(ctx, image, '/three')).toBe('three\n');
    // BuildKit: an unquoted delimiter expands the body, a quoted one keeps it literal.
    expect(await readImageFile(ctx, image, '/etc/EOF')).toBe('hello world\n');
    expect(await readImageFile(ctx, image, '/etc/RAW')).toBe(`keep ${$}WHO\n`);
    expect(await readImageFile(ctx, image, '/greeting')).toBe('hi\n');
  });

  it('makes a missing WORKDIR in a layer, and COPY --chown owns the directories it creates', async () => {
    const ctx = await withBusybox();
    const contextDir = buildContext({
      'a.txt': 'a',
      Dockerfile:
        'FROM busybox\nWORKDIR /srv/app\nCOPY --chown=1000:1000 a.txt /opt/new/dir/\nWORKDIR /tmp\n',
    });
    const image = await build(ctx, { contextDir });
    await validateImage(ctx, image);
    // Layers: busybox, WORKDIR /srv/app, COPY, and WORKDIR /tmp: BuildKit's `mkdir -p` layer even
    // for a directory that exists, with nothing in it (the classic builder makes none).
    expect(image.manifest.layers).toHaveLength(4);
    expect(await layerHeaders(ctx, image, 3)).toEqual([]);
    const workdir = await layerHeaders(ctx, image, 1);
    expect(workdir.map((h) => [h.name, h.type, h.mode])).toEqual([
      ['srv/', 'directory', 0o755],
      ['srv/app/', 'directory', 0o755],
    ]);
    const copied = await layerHeaders(ctx, image, 2);
    expect(copied.map((h) => [h.name, h.uid, h.gid])).toEqual([
      ['opt/', 1000, 1000],
      ['opt/new/', 1000, 1000],
      ['opt/new/dir/', 1000, 1000],
      ['opt/new/dir/a.txt', 1000, 1000],
    ]);
    expect(image.config.config?.WorkingDir).toBe('/tmp');
  });
});

describe('errors as Docker words them', () => {
  it.each([
    // builder/dockerfile/copy.go (classic builder)
    [
      'FROM busybox\nCOPY a.txt b.txt /dest\n',
      'When using COPY with more than one source file, the destination must be a directory and end with a /',
    ],
    // instructions/bflag.go
    ['FROM busybox\nCOPY --xyz=1 a.txt /dest\n', 'Unknown flag: xyz'],
    // the classic builder's RUN failure, exit status kept
    ['FROM busybox\nRUN exit 3\n', "The command '/bin/sh -c exit 3' returned a non-zero code: 3"],
    // shell/lex.go
    [`FROM busybox\nENV A=${$}{B?required}\n`, 'B: required'],
  ])('%j fails with %j', async (dockerfile, message) => {
    const ctx = await withBusybox();
    const contextDir = buildContext({ Dockerfile: dockerfile, 'a.txt': 'a', 'b.txt': 'b' });
    await expect(build(ctx, { contextDir })).rejects.toThrow(message);
  });
});
