// build: Dockerfiles run step by step into images that pass the OCI check, with the classic builder's
// output, a cache, RUN in real containers, and the same digest from the same input in any root.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip, gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { build } from '../../engine/builder/build.ts';
import type { EngineContext } from '../../engine/context.ts';
import type { EngineEvent } from '../../engine/events.ts';
import { validateImage } from '../../engine/image/validate.ts';
import { imageHistory } from '../../engine/image/views.ts';
import { shortId } from '../../engine/oci/digest.ts';
import type { Image } from '../../engine/oci/types.ts';
import { openBlob } from '../../engine/store/blobs.ts';
import { makeBusyboxImage } from '../support/busybox-image.ts';
import { freshContext, type TestContext } from '../support/context.ts';
import { assertImageSchemas } from '../support/oci-validate.ts';

const contexts: TestContext[] = [];
const dirs: string[] = [];
afterAll(() => {
  for (const t of contexts) t.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function fresh(): TestContext {
  const t = freshContext({ mirrors: {} });
  contexts.push(t);
  return t;
}

function buildContext(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'layerlab-build-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** Names in the top layer of `image`. */
async function topLayerNames(ctx: EngineContext, image: Image): Promise<string[]> {
  return (await topLayerHeaders(ctx, image)).map((h) => h.name);
}

/** Tar headers of the top layer of `image`. */
async function topLayerHeaders(ctx: EngineContext, image: Image): Promise<tar.Header[]> {
  const names: tar.Header[] = [];
  const extract = tar.extract();
  extract.on('entry', (header, body, next) => {
    names.push(header);
    body.resume();
    body.on('end', () => next());
  });
  // Built layers are stored as plain tars (push gzips them); pulled ones are gzipped.
  const top = image.manifest.layers.at(-1)!;
  const blob = openBlob(ctx, top.digest);
  (top.mediaType.endsWith('gzip') ? blob.pipe(createGunzip()) : blob).pipe(extract);
  await new Promise<void>((ok) => extract.on('finish', () => ok()));
  return names;
}

const SCRATCH_APP = `FROM scratch
COPY hello.txt /app/
ENV GREETING=hi
WORKDIR /app
LABEL org.example.lesson=one
EXPOSE 8080
CMD ["/app/hello.txt"]
`;

describe('build without containers', () => {
  it('builds FROM scratch with COPY and metadata steps, printing the classic builder’s lines', async () => {
    const { ctx, events } = fresh();
    const contextDir = buildContext({ 'hello.txt': 'hello\n', Dockerfile: SCRATCH_APP });
    const before = Date.now();
    // The classic builder's history and layers (DOCKER_BUILDKIT=0); BuildKit's: differential suite.
    const image = await build(ctx, { contextDir, tags: ['app:1'], builder: 'classic' });
    await validateImage(ctx, image);
    await assertImageSchemas(ctx, image);
    expect(image.log[0]).toBe('Step 1/7 : FROM scratch');
    expect(image.log[1]).toBe('Step 2/7 : COPY hello.txt /app/');
    expect(image.log[2]).toMatch(/^ ---> [0-9a-f]{12}$/);
    expect(image.log.at(-2)).toBe(`Successfully built ${shortId(image.id)}`);
    expect(image.log.at(-1)).toBe('Successfully tagged app:1');
    expect(events.filter((e) => e.type === 'build.step')).toHaveLength(7);

    expect(image.manifest.layers).toHaveLength(1);
    // The real time, as Docker's (SOURCE_DATE_EPOCH fixes it: build-times.test.ts).
    expect(Date.parse(image.config.created ?? '')).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(Date.parse(image.config.created ?? '')).toBeLessThanOrEqual(Date.now());
    expect(image.config.config).toMatchObject({
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'GREETING=hi'],
      WorkingDir: '/app',
      Labels: { 'org.example.lesson': 'one' },
      ExposedPorts: { '8080/tcp': {} },
      Cmd: ['/app/hello.txt'],
    });
    expect(image.config.history?.map((h) => h.empty_layer ?? false)).toEqual([
      false,
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(await topLayerNames(ctx, image)).toEqual(['app/', 'app/hello.txt']);
    const history = await imageHistory(ctx, 'app:1');
    expect(history[0]?.createdBy).toBe('/bin/sh -c #(nop)  CMD ["/app/hello.txt"]');
    expect(history.at(-1)?.createdBy).toMatch(/^\/bin\/sh -c #\(nop\) COPY file:[0-9a-f]{64} in \/app\/ $/);
    expect(history.at(-1)?.size).toBe(6);
  });

  it('uses the cache on a second build and gives the same digest in another root, with or without it', async () => {
    const contextDir = buildContext({ 'hello.txt': 'hello\n', Dockerfile: SCRATCH_APP });
    const a = fresh();
    // Reproducible as SOURCE_DATE_EPOCH makes a build: fixed times, mtimes clamped.
    const sourceDateEpoch = 1_700_000_000;
    const first = await build(a.ctx, { contextDir, sourceDateEpoch });
    const second = await build(a.ctx, { contextDir, sourceDateEpoch });
    expect(second.id).toBe(first.id);
    expect(second.log.filter((l) => l === ' ---> Using cache')).toHaveLength(6);
    const third = await build(a.ctx, { contextDir, noCache: true, sourceDateEpoch });
    expect(third.log).not.toContain(' ---> Using cache');
    expect(third.manifestDigest).toBe(first.manifestDigest);

    const b = fresh();
    const elsewhere = await build(b.ctx, { contextDir, sourceDateEpoch });
    expect(elsewhere.manifestDigest).toBe(first.manifestDigest);

    // A changed source misses the cache from its COPY on.
    writeFileSync(join(contextDir, 'hello.txt'), 'changed\n');
    const changed = await build(a.ctx, { contextDir, sourceDateEpoch });
    expect(changed.log).not.toContain(' ---> Using cache');
    expect(changed.id).not.toBe(first.id);
  });

  it('expands ARG and ENV, honours --build-arg, and resets an inherited CMD on ENTRYPOINT', async () => {
    const { ctx } = fresh();
    const contextDir = buildContext({
      'a.txt': 'a',
      Dockerfile: `ARG BASE=scratch
FROM $BASE
ARG DEST=/default
ENV TARGET=\${DEST}/sub
COPY a.txt $TARGET/
USER 1000:1000
ENTRYPOINT ["/bin/app"]
`,
    });
    const image = await build(ctx, { contextDir, buildArgs: { DEST: '/opt' } });
    await validateImage(ctx, image);
    expect(image.config.config?.Env).toContain('TARGET=/opt/sub');
    expect(image.config.config?.User).toBe('1000:1000');
    expect(image.config.config?.Entrypoint).toEqual(['/bin/app']);
    expect(image.config.config?.Cmd).toBeNull();
    expect(await topLayerNames(ctx, image)).toEqual(['opt/', 'opt/sub/', 'opt/sub/a.txt']);
  });

  it('fails with Docker’s wording for a missing source and for RUN on scratch', async () => {
    const { ctx } = fresh();
    const missing = buildContext({ Dockerfile: 'FROM scratch\nCOPY nope /x\n' });
    await expect(build(ctx, { contextDir: missing })).rejects.toThrow(/file not found in build context/);
    const run = buildContext({ Dockerfile: 'FROM scratch\nRUN true\n' });
    await expect(build(ctx, { contextDir: run })).rejects.toThrow(/FROM scratch has no \/bin\/sh/);
  });
});

describe('COPY over a base image', () => {
  it('copies into a directory the image has and keeps that directory’s mode and owner', async () => {
    const { ctx } = fresh();
    await makeBusyboxImage(ctx);
    const contextDir = buildContext({ 'note.txt': 'note', Dockerfile: 'FROM busybox\nCOPY note.txt /tmp\n' });
    const image = await build(ctx, { contextDir });
    await validateImage(ctx, image);
    const headers = await topLayerHeaders(ctx, image);
    expect(headers.map((h) => h.name)).toEqual(['tmp/', 'tmp/note.txt']);
    expect(headers[0]?.mode).toBe(0o1777);
    expect(headers[0]?.uid).toBe(0);
  });

  // ADD now extracts real archives (test/integration/build-fidelity.test.ts); a gzip that holds no tar
  // is copied as it is, as Docker's archive.IsArchivePath decides.
  it('copies ADD of a gzip that is not a tar as a plain file, as Docker does', async () => {
    const { ctx } = fresh();
    await makeBusyboxImage(ctx);
    const contextDir = buildContext({ Dockerfile: 'FROM busybox\nADD files.tar.gz /srv/\n' });
    writeFileSync(join(contextDir, 'files.tar.gz'), gzipSync(Buffer.from('not really a tar')));
    const image = await build(ctx, { contextDir });
    expect(await topLayerNames(ctx, image)).toEqual(['srv/', 'srv/files.tar.gz']);
  });
});

describe('build with RUN', () => {
  it('runs commands in working containers, streams their output and commits their changes', async () => {
    const { ctx, events } = fresh();
    await makeBusyboxImage(ctx);
    const contextDir = buildContext({
      'secret.txt': 'secret\n',
      Dockerfile: `FROM busybox
COPY secret.txt /data/secret.txt
RUN echo building && echo made > /data/made.txt
RUN rm /data/secret.txt
`,
    });
    const image = await build(ctx, { contextDir, tags: ['runs:1'] });
    await validateImage(ctx, image);
    expect(image.log).toContain('building');
    expect(image.log.some((l) => /^ ---> Running in [0-9a-f]{12}$/.test(l))).toBe(true);
    const output = events.filter(
      (e): e is Extract<EngineEvent, { type: 'build.output' }> => e.type === 'build.output',
    );
    expect(output.some((e) => e.step === 3 && e.data.includes('building'))).toBe(true);
    expect(image.manifest.layers).toHaveLength(4);
    // The deleting step's layer is a whiteout; the bytes stay in the layer below.
    expect(await topLayerNames(ctx, image)).toEqual(['data/', 'data/.wh.secret.txt']);
    const history = await imageHistory(ctx, 'runs:1');
    expect(history[0]?.createdBy).toBe('RUN /bin/sh -c rm /data/secret.txt # buildkit');
  });

  it('stops at a failing command with Docker’s message', async () => {
    const { ctx } = fresh();
    await makeBusyboxImage(ctx);
    const contextDir = buildContext({ Dockerfile: 'FROM busybox\nRUN false\n' });
    await expect(build(ctx, { contextDir })).rejects.toThrow(
      "The command '/bin/sh -c false' returned a non-zero code: 1",
    );
  });

  it('builds the same RUN image digest in two fresh roots', async () => {
    const digests: string[] = [];
    const contextDir = buildContext({
      Dockerfile: 'FROM busybox\nRUN mkdir -p /srv && echo data > /srv/file\n',
    });
    for (let i = 0; i < 2; i++) {
      const { ctx } = fresh();
      await makeBusyboxImage(ctx);
      digests.push((await build(ctx, { contextDir, sourceDateEpoch: 1_700_000_000 })).manifestDigest);
    }
    expect(digests[0]).toBe(digests[1]);
  });
});
