// save and load: docker-archive and OCI layout round trips keep image ids; legacy archives with plain
// layer tars load too; entries that would escape the archive are refused.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { load } from '../../engine/archive/load.ts';
import { save } from '../../engine/archive/save.ts';
import { appendLayer } from '../../engine/image/mutate.ts';
import { validateImage } from '../../engine/image/validate.ts';
import { digestHex, sha256 } from '../../engine/oci/digest.ts';
import { loadImage } from '../../engine/store/images.ts';
import { makeBusyboxImage } from '../support/busybox-image.ts';
import { freshContext } from '../support/context.ts';
import { buildTar } from '../support/hostile-tars.ts';
import { assertImageSchemas, assertLayoutSchemas } from '../support/oci-validate.ts';

const source = freshContext({ mirrors: {} });
const scratch = mkdtempSync(join(tmpdir(), 'layerlab-archive-'));
afterAll(() => {
  source.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

async function tarEntries(path: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const extract = tar.extract();
  extract.on('entry', (header, body, next) => {
    const chunks: Buffer[] = [];
    body.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    body.on('end', () => {
      out.set(header.name, Buffer.concat(chunks));
      next();
    });
  });
  Readable.from([readFileSync(path)]).pipe(extract);
  await new Promise<void>((ok) => extract.on('finish', () => ok()));
  return out;
}

async function sourceImages() {
  const busybox = await makeBusyboxImage(source.ctx);
  const app = await appendLayer(
    source.ctx,
    busybox,
    Readable.from([await buildTar([{ name: 'app.txt', type: 'file', mode: 0o644, data: 'app' }])]),
    { history: { created_by: 'COPY app.txt /' }, created: '2024-01-01T00:00:00Z', tag: 'myapp:1' },
  );
  return { busybox, app };
}

describe('save and load', () => {
  it('round-trips a docker-archive into a fresh root with the same image ids', async () => {
    const { busybox, app } = await sourceImages();
    const path = join(scratch, 'docker.tar');
    await save(source.ctx, ['busybox', 'myapp:1'], path, { format: 'docker' });

    const entries = await tarEntries(path);
    const manifest = JSON.parse(entries.get('manifest.json')!.toString());
    expect(manifest).toEqual([
      {
        Config: `blobs/sha256/${digestHex(busybox.id)}`,
        RepoTags: ['busybox:latest'],
        Layers: busybox.manifest.layers.map((l) => `blobs/sha256/${digestHex(l.digest)}`),
      },
      {
        Config: `blobs/sha256/${digestHex(app.id)}`,
        RepoTags: ['myapp:1'],
        Layers: app.manifest.layers.map((l) => `blobs/sha256/${digestHex(l.digest)}`),
      },
    ]);
    expect(JSON.parse(entries.get('repositories')!.toString())).toEqual({
      busybox: { latest: digestHex(busybox.id) },
      myapp: { '1': digestHex(app.id) },
    });
    // The shared busybox layer is stored once.
    expect(
      [...entries.keys()].filter(
        (n) => n === `blobs/sha256/${digestHex(busybox.manifest.layers[0]!.digest)}`,
      ),
    ).toHaveLength(1);

    const target = freshContext({ mirrors: {} });
    try {
      const result = await load(target.ctx, path);
      expect(result.messages).toEqual(['Loaded image: busybox:latest', 'Loaded image: myapp:1']);
      expect((await loadImage(target.ctx, 'busybox')).id).toBe(busybox.id);
      const loaded = await loadImage(target.ctx, 'myapp:1');
      expect(loaded.id).toBe(app.id);
      expect(loaded.manifestDigest).toBe(app.manifestDigest);
      await validateImage(target.ctx, loaded);
      await assertImageSchemas(target.ctx, loaded);
    } finally {
      target.cleanup();
    }
  });

  it('round-trips an OCI layout, naming images by annotation', async () => {
    const { app } = await sourceImages();
    const path = join(scratch, 'oci.tar');
    await save(source.ctx, ['myapp:1'], path, { format: 'oci' });
    const entries = await tarEntries(path);
    expect(assertLayoutSchemas(entries)).toBe(1);
    expect(entries.has('manifest.json')).toBe(false);
    expect(JSON.parse(entries.get('oci-layout')!.toString())).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(entries.get('index.json')!.toString());
    expect(index.manifests[0].digest).toBe(app.manifestDigest);
    expect(index.manifests[0].annotations['org.opencontainers.image.ref.name']).toBe('1');
    expect(index.manifests[0].annotations['io.containerd.image.name']).toBe('docker.io/library/myapp:1');

    const target = freshContext({ mirrors: {} });
    try {
      const result = await load(target.ctx, Readable.from([readFileSync(path)]));
      expect(result.messages).toEqual(['Loaded image: myapp:1']);
      await validateImage(target.ctx, await loadImage(target.ctx, 'myapp:1'));
    } finally {
      target.cleanup();
    }
  });

  it('saves an image named by id without a name, and loads it as an id', async () => {
    const { app } = await sourceImages();
    const path = join(scratch, 'byid.tar');
    await save(source.ctx, [app.id.slice(7, 19)], path);
    const target = freshContext({ mirrors: {} });
    try {
      expect((await load(target.ctx, path)).messages).toEqual([`Loaded image ID: ${app.id}`]);
    } finally {
      target.cleanup();
    }
  });

  it('loads a legacy docker-archive with plain layer tars and keeps the config bytes', async () => {
    const layer = await buildTar([{ name: 'hello', type: 'file', mode: 0o644, data: 'legacy' }]);
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: ['/hello'] },
        rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
        history: [{ created_by: 'legacy' }],
      }),
    );
    const configName = `${digestHex(sha256(config))}.json`;
    const archive = await buildTar([
      { name: configName, type: 'file', mode: 0o644, data: config },
      { name: 'abc/', type: 'directory', mode: 0o755 },
      { name: 'abc/layer.tar', type: 'file', mode: 0o644, data: layer },
      { name: 'def/layer.tar', type: 'symlink', linkname: '../abc/layer.tar' },
      {
        name: 'manifest.json',
        type: 'file',
        mode: 0o644,
        data: JSON.stringify([{ Config: configName, RepoTags: ['legacy:old'], Layers: ['def/layer.tar'] }]),
      },
    ]);
    const target = freshContext({ mirrors: {} });
    try {
      const result = await load(target.ctx, Readable.from([archive]));
      expect(result.messages).toEqual(['Loaded image: legacy:old']);
      const image = await loadImage(target.ctx, 'legacy:old');
      expect(image.id).toBe(sha256(config));
      await validateImage(target.ctx, image);
    } finally {
      target.cleanup();
    }
  });

  it('refuses an archive entry that climbs out of the archive', async () => {
    const archive = await buildTar([{ name: '../../evil', type: 'file', mode: 0o644, data: 'x' }]);
    const target = freshContext({ mirrors: {} });
    try {
      await expect(load(target.ctx, Readable.from([archive]))).rejects.toThrow(/outside the archive/);
      await expect(
        load(target.ctx, Readable.from([await buildTar([{ name: 'x', type: 'file', data: '1' }])])),
      ).rejects.toThrow(/not an image archive/);
    } finally {
      target.cleanup();
    }
  });
});
