// Push to a real docker-registry: blobs the registry lacks are uploaded, those it has are skipped
// ("Layer already exists"), and pulling the pushed tag into a fresh root gives the same digests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryError } from '../../engine/errors.ts';
import type { EngineEvent } from '../../engine/events.ts';
import { pull } from '../../engine/pull.ts';
import { push } from '../../engine/push.ts';
import { getImageRecord, tagImage } from '../../engine/store/images.ts';
import { freshContext, type TestContext } from '../support/context.ts';
import { assertImageSchemas } from '../support/oci-validate.ts';
import { type RandomImage, randomImage, uploadImage } from '../support/random-image.ts';
import { freePort, startTestRegistry, type TestRegistry } from '../support/registry.ts';
import { startTokenFront, type TokenFront } from '../support/token-front.ts';

let source: TestRegistry;
let target: TestRegistry;
let image: RandomImage;
const contexts: TestContext[] = [];

function fresh(): TestContext {
  const t = freshContext({ mirrors: {} });
  contexts.push(t);
  return t;
}

beforeAll(async () => {
  [source, target] = await Promise.all([startTestRegistry(), startTestRegistry()]);
  image = await randomImage({ layers: 3, fileBytes: 200_000 });
  await uploadImage(source.url, 'team/app', 'v1', image);
});

afterAll(async () => {
  for (const t of contexts) t.cleanup();
  await source?.stop();
  await target?.stop();
});

const pushStates = (events: EngineEvent[]) =>
  events
    .filter((e): e is Extract<EngineEvent, { type: 'push.layer' }> => e.type === 'push.layer')
    .filter((e) => e.state === 'exists' || e.state === 'pushed')
    .map((e) => [e.digest, e.state]);

describe('push', () => {
  it('uploads every blob, then says "Layer already exists" on a second push', async () => {
    const t = fresh();
    const pulled = await pull(t.ctx, `${source.host}/team/app:v1`);
    const dest = `${target.host}/mine/app:v2`;
    await tagImage(t.ctx, pulled.id, dest);

    t.events.length = 0;
    const first = await push(t.ctx, dest);
    const want = image.images[0]!;
    expect(first).toEqual({ digest: want.manifest.digest, size: want.manifest.bytes.length });
    const blobs = [...want.layers.map((l) => l.digest), want.config.digest];
    expect(pushStates(t.events).sort()).toEqual(blobs.map((d) => [d, 'pushed']).sort());
    expect(t.events.at(-1)).toEqual({
      type: 'push.done',
      ref: dest,
      manifestDigest: want.manifest.digest,
      size: want.manifest.bytes.length,
    });
    const progress = t.events.filter(
      (e) => e.type === 'push.layer' && e.state === 'pushing' && (e.current ?? 0) > 0,
    );
    expect(progress.length).toBeGreaterThan(0);

    t.events.length = 0;
    const second = await push(t.ctx, dest);
    expect(second.digest).toBe(first.digest);
    expect(pushStates(t.events).sort()).toEqual(blobs.map((d) => [d, 'exists']).sort());
  });

  it('round-trips: pulling the pushed tag into a fresh root gives the same digests', async () => {
    const t = fresh();
    const image2 = await pull(t.ctx, `${target.host}/mine/app:v2`);
    const want = image.images[0]!;
    expect(image2.id).toBe(want.config.digest);
    expect(image2.manifestDigest).toBe(want.manifest.digest);
    expect(image2.manifest.layers.map((l) => l.digest)).toEqual(want.layers.map((l) => l.digest));
    await assertImageSchemas(t.ctx, image2);
  });

  it('records the pushed digest like Docker does', async () => {
    const t = fresh();
    const pulled = await pull(t.ctx, `${source.host}/team/app:v1`);
    const dest = `${target.host}/other/app:v1`;
    await tagImage(t.ctx, pulled.id, dest);
    await push(t.ctx, dest);
    const record = await getImageRecord(t.ctx, pulled.id);
    expect(record.repoTags).toContain(dest);
    expect(record.repoDigests).toContain(`${target.host}/other/app@${image.images[0]!.manifest.digest}`);
  });

  it('pushes through a registry that wants a token with push scope', async () => {
    let front: TokenFront | undefined;
    try {
      front = await startTokenFront({ upstream: target.url });
      const t = fresh();
      const pulled = await pull(t.ctx, `${source.host}/team/app:v1`);
      const dest = `${front.host}/tokened/app:v1`;
      await tagImage(t.ctx, pulled.id, dest);
      const result = await push(t.ctx, dest);
      expect(result.digest).toBe(image.images[0]!.manifest.digest);
      expect(front.tokenRequests.map((r) => r.scope)).toContain('repository:tokened/app:pull,push');
    } finally {
      await front?.close();
    }
  });

  it('refuses a tag that names no local image, as Docker does', async () => {
    const t = fresh();
    await expect(push(t.ctx, `${target.host}/nothing/here:v1`)).rejects.toThrow(
      `An image does not exist locally with the tag: ${target.host}/nothing/here`,
    );
  });

  it('names the registry it could not reach', async () => {
    const t = fresh();
    const pulled = await pull(t.ctx, `${source.host}/team/app:v1`);
    const port = await freePort();
    const dest = `127.0.0.1:${port}/x/y:1`;
    await tagImage(t.ctx, pulled.id, dest);
    const err = await push(t.ctx, dest, { client: { transport: { retries: 0 } } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toBe(
      `Get "http://127.0.0.1:${port}/v2/": dial tcp 127.0.0.1:${port}: connect: connection refused`,
    );
  });
});
