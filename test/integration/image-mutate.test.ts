// appendLayer and mutateConfig against a real store: layers in one pass, configs and manifests that
// pass the OCI check, shared lower layers, and ids that depend only on the content.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { appendLayer, mutateConfig } from '../../engine/image/mutate.ts';
import { checkImage, validateImage } from '../../engine/image/validate.ts';
import { sha256 } from '../../engine/oci/digest.ts';
import { MediaType } from '../../engine/oci/media-types.ts';
import { readBlob } from '../../engine/store/blobs.ts';
import { getImageRecord, loadImage } from '../../engine/store/images.ts';
import { layerDiffDir } from '../../engine/store/layers.ts';
import { blobPath } from '../../engine/store/paths.ts';
import { freshContext, type TestContext } from '../support/context.ts';
import { buildTar } from '../support/hostile-tars.ts';
import { assertImageSchemas } from '../support/oci-validate.ts';

const contexts: TestContext[] = [];
function fresh(): TestContext {
  const t = freshContext({ mirrors: {} });
  contexts.push(t);
  return t;
}
afterEach(() => {
  for (const t of contexts.splice(0)) t.cleanup();
});

const CREATED = '2024-01-01T00:00:00Z';

async function helloTar(): Promise<Buffer> {
  return buildTar([
    { name: 'etc/', type: 'directory', mode: 0o755 },
    { name: 'etc/hello', type: 'file', mode: 0o644, data: 'hello\n' },
  ]);
}

describe('appendLayer', () => {
  it('writes a layer, a config and an OCI manifest that pass validation, and unpacks the layer', async () => {
    const { ctx } = fresh();
    const tarBytes = await helloTar();
    const image = await appendLayer(ctx, null, Readable.from([tarBytes]), {
      history: { created_by: 'COPY hello /etc/hello' },
      created: CREATED,
      config: { Cmd: ['sh'] },
      tag: 'hello:1',
    });
    await validateImage(ctx, image);
    await assertImageSchemas(ctx, image);
    expect(image.manifest.mediaType).toBe(MediaType.ociManifest);
    expect(image.manifest.config.mediaType).toBe(MediaType.ociConfig);
    expect(image.manifest.layers).toHaveLength(1);
    expect(image.manifest.layers[0]?.mediaType).toBe(MediaType.ociLayerGzip);
    expect(image.config.rootfs.diff_ids).toEqual([sha256(tarBytes)]);
    expect(image.config.created).toBe(CREATED);
    expect(image.config.history).toEqual([{ created: CREATED, created_by: 'COPY hello /etc/hello' }]);
    expect(image.config.config?.Cmd).toEqual(['sh']);
    expect(readFileSync(join(layerDiffDir(ctx, sha256(tarBytes)), 'etc/hello'), 'utf8')).toBe('hello\n');
    expect((await loadImage(ctx, 'hello:1')).id).toBe(image.id);
  });

  it('shares the base layers and adds metadata-only steps as empty-layer history', async () => {
    const { ctx } = fresh();
    const base = await appendLayer(ctx, null, Readable.from([await helloTar()]), {
      history: { created_by: 'base' },
      created: CREATED,
    });
    const env = await mutateConfig(
      ctx,
      base,
      { Env: ['A=1'] },
      { created_by: 'ENV A=1' },
      { created: CREATED },
    );
    await validateImage(ctx, env);
    expect(env.manifest.layers).toEqual(base.manifest.layers);
    expect(env.config.history?.at(-1)).toEqual({
      created: CREATED,
      created_by: 'ENV A=1',
      empty_layer: true,
    });
    expect(env.config.config?.Env).toEqual(['A=1']);
    expect((await getImageRecord(ctx, env.id)).parent).toBe(base.id);

    const top = await appendLayer(
      ctx,
      env,
      Readable.from([await buildTar([{ name: 'two', type: 'file', mode: 0o644, data: '2' }])]),
      { history: { created_by: 'two' }, created: CREATED },
    );
    await validateImage(ctx, top);
    expect(top.manifest.layers.slice(0, 1)).toEqual(base.manifest.layers);
    expect(top.manifest.layers).toHaveLength(2);
    expect(top.config.history).toHaveLength(3);
    // Both layers and three configs and manifests: no layer blob was written twice.
    const blobs = readdirSync(join(ctx.paths.blobs, 'sha256'));
    expect(blobs).toHaveLength(2 + 3 + 3);
  });

  it('gives the same image id for the same content in another root', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { ctx } = fresh();
      const image = await appendLayer(ctx, null, Readable.from([await helloTar()]), {
        history: { created_by: 'x' },
        created: CREATED,
      });
      ids.push(`${image.id} ${image.manifestDigest}`);
    }
    expect(ids[0]).toBe(ids[1]);
  });

  it('fails, writing no image, when the tar stream fails', async () => {
    const { ctx } = fresh();
    const broken = new Readable({
      read() {
        this.destroy(new Error('disk on fire'));
      },
    });
    await expect(appendLayer(ctx, null, broken, { history: {} })).rejects.toThrow(/disk on fire/);
  });
});

describe('validateImage', () => {
  it('reports a layer blob whose bytes do not match its digest', async () => {
    const { ctx } = fresh();
    const image = await appendLayer(ctx, null, Readable.from([await helloTar()]), {
      history: {},
      created: CREATED,
    });
    const layer = image.manifest.layers[0]!;
    const original = await readBlob(ctx, layer.digest);
    writeFileSync(blobPath(ctx.paths, layer.digest), Buffer.concat([original, Buffer.from('junk')]));
    const problems = await checkImage(ctx, image);
    expect(problems.join('\n')).toMatch(/layers\[0\]: blob does not match its digest/);
    expect(problems.join('\n')).toMatch(/layers\[0\]\.size/);
    await expect(validateImage(ctx, image)).rejects.toThrow(/does not conform to the OCI image spec/);
  });
});
