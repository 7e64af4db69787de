// Pull against a real docker-registry: through the docker.io mirror, by digest, from an index, through
// a token front, and refusing corrupted blobs without leaving anything behind.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError, DigestMismatchError, LayerlabError } from '../../engine/errors.ts';
import type { EngineEvent } from '../../engine/events.ts';
import { MediaType } from '../../engine/oci/media-types.ts';
import { pull } from '../../engine/pull.ts';
import { hostPlatform } from '../../engine/registry/platform.ts';
import { hasBlob } from '../../engine/store/blobs.ts';
import { getImageRecord } from '../../engine/store/images.ts';
import { layerDiffDir, layerExists } from '../../engine/store/layers.ts';
import { freshContext, type TestContext } from '../support/context.ts';
import { assertImageSchemas } from '../support/oci-validate.ts';
import {
  digestOf,
  putManifest,
  type RandomImage,
  randomImage,
  uploadBlob,
  uploadImage,
} from '../support/random-image.ts';
import { startTestRegistry, type TestRegistry } from '../support/registry.ts';
import { startTokenFront, type TokenFront } from '../support/token-front.ts';

let registry: TestRegistry;
let oci: RandomImage;
let docker: RandomImage;
let multi: RandomImage;
const contexts: TestContext[] = [];

function fresh(mirrors: Record<string, string[]> = { 'docker.io': [registry.url] }): TestContext {
  const t = freshContext({ mirrors });
  contexts.push(t);
  return t;
}

const host = hostPlatform();
const other =
  host.architecture === 'amd64'
    ? { os: 'linux', architecture: 'arm64', variant: 'v8' }
    : { os: 'linux', architecture: 'amd64' };

beforeAll(async () => {
  registry = await startTestRegistry();
  oci = await randomImage({ layers: 3, format: 'oci' });
  docker = await randomImage({ layers: 2, format: 'docker' });
  multi = await randomImage({
    layers: 1,
    platforms: [{ os: 'linux', architecture: 'arm', variant: 'v7' }, other, host],
  });
  await uploadImage(registry.url, 'library/rnd', 'v1', oci);
  await uploadImage(registry.url, 'team/dock', 'v1', docker);
  await uploadImage(registry.url, 'library/multi', 'v1', multi);
});

afterAll(async () => {
  for (const t of contexts) t.cleanup();
  await registry?.stop();
});

const layerEvents = (events: EngineEvent[]) =>
  events.filter((e): e is Extract<EngineEvent, { type: 'pull.layer' }> => e.type === 'pull.layer');

describe('pull', () => {
  it('pulls a docker.io name through the mirror, unpacks the layers and tags the image', async () => {
    const t = fresh();
    const image = await pull(t.ctx, 'rnd:v1');
    const want = oci.images[0]!;
    expect(image.id).toBe(want.config.digest);
    expect(image.manifestDigest).toBe(want.manifest.digest);
    for (const layer of want.layers) {
      expect(await hasBlob(t.ctx, layer.digest)).toBe(true);
      expect(await layerExists(t.ctx, layer.diffId)).toBe(true);
    }
    expect(readdirSync(join(layerDiffDir(t.ctx, want.layers[0]!.diffId), 'layer0'))).toEqual([
      'file-0',
      'file-1',
      'file-2',
    ]);
    const record = await getImageRecord(t.ctx, image.id);
    expect(record.repoTags).toContain('docker.io/library/rnd:v1');
    await assertImageSchemas(t.ctx, image);

    const exchanges = t.events.filter((e) => e.type === 'pull.exchange');
    expect(exchanges.map((e) => [e.step, e.status])).toEqual([
      ['ping', 200],
      ['manifest', 200],
      ['config', 200],
    ]);
    expect(exchanges[1]).toMatchObject({
      url: `${registry.url}/v2/library/rnd/manifests/v1`,
      digest: want.manifest.digest,
      mediaType: want.manifest.mediaType,
      ref: 'rnd:v1',
    });
    for (const layer of want.layers) {
      const states = layerEvents(t.events)
        .filter((e) => e.digest === layer.digest)
        .map((e) => e.state);
      expect(states[0]).toBe('waiting');
      expect(states).toContain('downloading');
      expect(states.slice(-3)).toEqual(['verifying', 'extracting', 'complete']);
    }
    expect(t.events.at(-1)).toEqual({
      type: 'pull.done',
      ref: 'rnd:v1',
      imageId: image.id,
      manifestDigest: want.manifest.digest,
    });
  });

  it('says "Already exists" for layers it has and downloads nothing again', async () => {
    const t = fresh();
    await pull(t.ctx, 'rnd:v1');
    t.events.length = 0;
    await pull(t.ctx, 'docker.io/library/rnd:v1');
    const states = layerEvents(t.events).map((e) => e.state);
    expect(states.filter((s) => s === 'exists')).toHaveLength(3);
    expect(states).not.toContain('downloading');
    expect(t.events.some((e) => e.type === 'pull.exchange' && e.step === 'config')).toBe(false);
  });

  it('pulls a Docker schema2 image by digest and records the repo digest', async () => {
    const t = fresh({});
    const ref = `${registry.host}/team/dock@${docker.top.digest}`;
    const image = await pull(t.ctx, ref);
    expect(image.manifestDigest).toBe(docker.top.digest);
    expect(image.manifest.mediaType).toBe(docker.top.mediaType);
    const record = await getImageRecord(t.ctx, image.id);
    expect(record.repoDigests).toContain(ref);
    expect(record.repoTags).toEqual([]);
  });

  it("chooses the host's platform from an index and stores the index too", async () => {
    const t = fresh();
    const image = await pull(t.ctx, 'multi:v1');
    const mine = multi.images.find((i) => i.platform.architecture === host.architecture)!;
    expect(image.manifestDigest).toBe(mine.manifest.digest);
    expect(image.config.architecture).toBe(host.architecture);
    expect(await hasBlob(t.ctx, multi.top.digest)).toBe(true);
    const steps = t.events.filter((e) => e.type === 'pull.exchange').map((e) => e.step);
    expect(steps).toEqual(['ping', 'index', 'manifest', 'config']);
    const record = await getImageRecord(t.ctx, image.id);
    expect(record.repoDigests).toContain(`docker.io/library/multi@${multi.top.digest}`);
  });

  it('pulls another platform when asked, and refuses one the index lacks', async () => {
    const t = fresh();
    const arm = await pull(t.ctx, 'multi:v1', {
      platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
    });
    expect(arm.config.architecture).toBe('arm');
    await expect(
      pull(t.ctx, 'multi:v1', { platform: { os: 'linux', architecture: 's390x' } }),
    ).rejects.toThrow('no matching manifest for linux/s390x in the manifest list entries');
  });

  it('follows a nested index, but only so deep', async () => {
    // Wrap the multi-platform index in more indexes: two deep pulls, five deep is refused.
    let inner = multi.top;
    for (let level = 1; level <= 4; level++) {
      const bytes = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.ociIndex,
          manifests: [
            { mediaType: inner.mediaType, digest: inner.digest, size: inner.bytes.length, platform: host },
          ],
        }),
      );
      const wrapper = { bytes, digest: digestOf(bytes), mediaType: MediaType.ociIndex };
      await putManifest(registry.url, 'library/multi', `nested${level}`, wrapper);
      inner = wrapper;
    }
    const t = fresh();
    const image = await pull(t.ctx, 'multi:nested1');
    expect(image.config.architecture).toBe(host.architecture);
    expect(t.events.filter((e) => e.type === 'pull.exchange' && e.step === 'index')).toHaveLength(2);
    await expect(pull(t.ctx, 'multi:nested4')).rejects.toThrow(
      'multi:nested4: indexes nested more than 3 deep',
    );
  });

  it('refuses an artifact that is not a container image', async () => {
    const config = Buffer.from('{}');
    await uploadBlob(registry.url, 'library/artifact', digestOf(config), config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        artifactType: 'application/vnd.example.thing',
        config: { mediaType: MediaType.ociEmpty, digest: digestOf(config), size: config.length },
        layers: [],
      }),
    );
    await putManifest(registry.url, 'library/artifact', 'v1', {
      bytes: manifest,
      digest: digestOf(manifest),
      mediaType: MediaType.ociManifest,
    });
    const t = fresh();
    await expect(pull(t.ctx, 'artifact:v1')).rejects.toThrow(
      `artifact:v1: not a container image (config media type ${MediaType.ociEmpty})`,
    );
  });

  it("reports an unknown tag in Docker's words", async () => {
    const t = fresh();
    const err = await pull(t.ctx, 'rnd:nope', { client: { transport: { retries: 0 } } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LayerlabError);
    expect((err as Error).message).toMatch(/^manifest for rnd:nope not found: manifest unknown/);
  });
});

describe('pull through an authenticating front', () => {
  let front: TokenFront;
  beforeAll(async () => {
    front = await startTokenFront({ upstream: registry.url });
  });
  afterAll(async () => {
    await front?.close();
  });

  it('fetches a token and pulls', async () => {
    const t = fresh({});
    const image = await pull(t.ctx, `${front.host}/team/dock:v1`);
    expect(image.id).toBe(docker.images[0]!.config.digest);
    const exchanges = t.events.filter((e) => e.type === 'pull.exchange');
    expect(exchanges.slice(0, 2).map((e) => [e.step, e.status])).toEqual([
      ['ping', 401],
      ['token', 200],
    ]);
    expect(exchanges[1]?.url).toBe(
      `${front.url}/token?service=layerlab-test-registry&scope=repository%3Ateam%2Fdock%3Apull`,
    );
  });

  it('retries a download whose connection is cut, and a registry that answers 503', async () => {
    const t = fresh({});
    front.cutBlobNext = 2; // the config, then the first layer
    front.failNext = 1;
    const image = await pull(t.ctx, `${front.host}/library/rnd:v1`, {
      client: { transport: { backoffMs: 10 } },
    });
    expect(image.id).toBe(oci.images[0]!.config.digest);
    expect(front.cutBlobNext).toBe(0);
    expect(front.failNext).toBe(0);
  });

  it('stops when cancelled and records nothing', async () => {
    const controller = new AbortController();
    const t = fresh({});
    const ctx = { ...t.ctx, signal: controller.signal };
    front.hang = /\/blobs\/sha256:/;
    try {
      setTimeout(() => controller.abort(), 300);
      await expect(pull(ctx, `${front.host}/team/dock:v1`)).rejects.toBeInstanceOf(CancelledError);
    } finally {
      front.hang = undefined;
    }
    expect(existsSync(t.ctx.paths.images) ? readdirSync(t.ctx.paths.images) : []).toEqual([]);
  });

  it('refuses a corrupted layer and leaves no blob or temp file behind', async () => {
    const t = fresh({});
    const want = oci.images[0]!;
    const bad = want.layers[1]!;
    front.corrupt.blob = bad.digest;
    try {
      await expect(pull(t.ctx, `${front.host}/library/rnd:v1`)).rejects.toBeInstanceOf(DigestMismatchError);
    } finally {
      front.corrupt.blob = false;
    }
    expect(await hasBlob(t.ctx, bad.digest)).toBe(false);
    expect(await layerExists(t.ctx, bad.diffId)).toBe(false);
    const tmp = t.ctx.paths.tmp;
    expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
    // The manifest and config were sound and are kept, but no image was recorded.
    expect(await hasBlob(t.ctx, want.manifest.digest)).toBe(true);
    expect(existsSync(t.ctx.paths.images) ? readdirSync(t.ctx.paths.images) : []).toEqual([]);

    // Once the registry serves the right bytes, the same root pulls fine.
    const image = await pull(t.ctx, `${front.host}/library/rnd:v1`);
    expect(image.id).toBe(want.config.digest);
  });
});
