// The registry client against a real docker-registry: mirrors, digests, media types, the token and
// Basic flows through an authenticating front, redirects, corruption, hangs and dropped connections.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineContext } from '../../engine/context.ts';
import { DigestMismatchError, RegistryError, SizeExceededError } from '../../engine/errors.ts';
import { parseReference } from '../../engine/reference/reference.ts';
import { type Exchange, RegistryClient } from '../../engine/registry/client.ts';
import { freshContext, type TestContext } from '../support/context.ts';
import { type RandomImage, randomImage, uploadImage } from '../support/random-image.ts';
import { freePort, startTestRegistry, type TestRegistry } from '../support/registry.ts';
import { type BlobHost, startBlobHost, startTokenFront, type TokenFront } from '../support/token-front.ts';

let registry: TestRegistry;
let image: RandomImage;
let t: TestContext;

beforeAll(async () => {
  registry = await startTestRegistry();
  image = await randomImage({ layers: 2 });
  await uploadImage(registry.url, 'library/rnd', 'v1', image);
  await uploadImage(registry.url, 'team/app', 'v1', image);
});

afterAll(async () => {
  await registry?.stop();
});

function contextWithMirrors(mirrors: Record<string, string[]>): EngineContext {
  t?.cleanup();
  t = freshContext({ mirrors });
  return t.ctx;
}

afterAll(() => t?.cleanup());

async function drain(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream) parts.push(chunk);
  return Buffer.concat(parts);
}

describe('manifests', () => {
  it('fetches docker.io references through the configured mirror', async () => {
    const exchanges: Exchange[] = [];
    const client = new RegistryClient(contextWithMirrors({ 'docker.io': [registry.url] }), {
      onExchange: (e) => exchanges.push(e),
    });
    const got = await client.getManifest(parseReference('rnd:v1'));
    expect(got.digest).toBe(image.top.digest);
    expect(got.mediaType).toBe(image.top.mediaType);
    expect(got.bytes.equals(image.top.bytes)).toBe(true);
    expect(got.url).toBe(`${registry.url}/v2/library/rnd/manifests/v1`);
    expect(got.endpoint.mirror).toBe(true);
    expect(exchanges.map((e) => [e.step, e.status])).toEqual([
      ['ping', 200],
      ['manifest', 200],
    ]);
  });

  it('fetches by digest and checks the bytes against it', async () => {
    const client = new RegistryClient(contextWithMirrors({}));
    const got = await client.getManifest(parseReference(`${registry.host}/team/app@${image.top.digest}`));
    expect(got.digest).toBe(image.top.digest);
  });

  it('skips a dead mirror and uses the next one', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const client = new RegistryClient(contextWithMirrors({ 'docker.io': [dead, registry.url] }), {
      transport: { retries: 0 },
    });
    const got = await client.getManifest(parseReference('rnd:v1'));
    expect(got.endpoint.base).toBe(registry.url);
  });

  it("reports an unknown tag in Docker's words", async () => {
    const client = new RegistryClient(contextWithMirrors({ 'docker.io': [registry.url] }), {
      transport: { retries: 0 },
    });
    // The mirror's answer wins over registry-1.docker.io being unreachable offline.
    await expect(client.getManifest(parseReference('rnd:nope'))).rejects.toThrow(
      /^manifest for rnd:nope not found: manifest unknown/,
    );
  });

  it('says which connection was refused', async () => {
    const port = await freePort();
    const client = new RegistryClient(contextWithMirrors({}), { transport: { retries: 1, backoffMs: 10 } });
    const err = await client.getManifest(parseReference(`127.0.0.1:${port}/x:1`)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toBe(
      `Get "http://127.0.0.1:${port}/v2/": dial tcp 127.0.0.1:${port}: connect: connection refused`,
    );
  });

  it('refuses a manifest larger than the limit', async () => {
    const ctx = contextWithMirrors({});
    const small = { ...ctx, config: { ...ctx.config, limits: { ...ctx.config.limits, manifestBytes: 64 } } };
    const client = new RegistryClient(small);
    await expect(client.getManifest(parseReference(`${registry.host}/team/app:v1`))).rejects.toBeInstanceOf(
      SizeExceededError,
    );
  });
});

describe('blobs', () => {
  it('streams a blob and verifies it', async () => {
    const client = new RegistryClient(contextWithMirrors({}));
    const layer = image.images[0]!.layers[0]!;
    const descriptor = { mediaType: layer.mediaType, digest: layer.digest, size: layer.bytes.length };
    const stream = await client.fetchBlob(parseReference(`${registry.host}/team/app:v1`), descriptor);
    expect((await drain(stream)).equals(layer.bytes)).toBe(true);
  });

  it('refuses a blob whose descriptor promises another size', async () => {
    const client = new RegistryClient(contextWithMirrors({}));
    const layer = image.images[0]!.layers[0]!;
    const descriptor = { mediaType: layer.mediaType, digest: layer.digest, size: layer.bytes.length - 1 };
    await expect(
      client.fetchBlob(parseReference(`${registry.host}/team/app:v1`), descriptor),
    ).rejects.toThrow(/size mismatch/);
  });
});

describe('behind an authenticating front', () => {
  let front: TokenFront;
  let blobHost: BlobHost | undefined;

  afterAll(async () => {
    await front?.close();
    await blobHost?.close();
  });

  async function newFront(options: Partial<Parameters<typeof startTokenFront>[0]> = {}): Promise<TokenFront> {
    await front?.close();
    front = await startTokenFront({ upstream: registry.url, ...options });
    return front;
  }

  it('gets an anonymous token for the pull scope and uses it', async () => {
    const f = await newFront();
    const exchanges: Exchange[] = [];
    const client = new RegistryClient(contextWithMirrors({}), { onExchange: (e) => exchanges.push(e) });
    const ref = parseReference(`${f.host}/team/app:v1`);
    const got = await client.getManifest(ref);
    expect(got.digest).toBe(image.top.digest);
    const config = image.images[0]!.config;
    await drain(
      await client.fetchBlob(ref, {
        mediaType: config.mediaType,
        digest: config.digest,
        size: config.bytes.length,
      }),
    );
    expect(f.tokenRequests).toEqual([
      { scope: 'repository:team/app:pull', service: 'layerlab-test-registry', authorization: undefined },
    ]);
    expect(exchanges.map((e) => [e.step, e.status])).toEqual([
      ['ping', 401],
      ['token', 200],
      ['manifest', 200],
      ['blob', 200],
    ]);
    expect(f.requests.slice(1).every((r) => r.authorization?.startsWith('Bearer '))).toBe(true);
  });

  it('sends Basic credentials to the token endpoint', async () => {
    const f = await newFront({ credentials: { username: 'learner', password: 's3cret' } });
    const client = new RegistryClient(contextWithMirrors({}), {
      credentials: { [f.host]: { username: 'learner', password: 's3cret' } },
    });
    await client.getManifest(parseReference(`${f.host}/team/app:v1`));
    expect(f.tokenRequests[0]?.authorization).toBe(
      `Basic ${Buffer.from('learner:s3cret').toString('base64')}`,
    );
  });

  it('reports wrong credentials without printing them', async () => {
    const f = await newFront({ credentials: { username: 'learner', password: 's3cret' } });
    const client = new RegistryClient(contextWithMirrors({}), {
      credentials: { [f.host]: { username: 'learner', password: 'wrong-password' } },
    });
    const err = await client.getManifest(parseReference(`${f.host}/team/app:v1`)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).code).toBe('UNAUTHORIZED');
    expect((err as Error).message).toMatch(/unauthorized: incorrect username or password/);
    expect((err as Error).message).not.toContain('wrong-password');
  });

  it('answers a Basic challenge with the credentials of auth.json', async () => {
    const f = await newFront({ mode: 'basic', credentials: { username: 'u', password: 'p' } });
    const ctx = contextWithMirrors({});
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${ctx.root}/auth.json`, JSON.stringify({ [f.host]: { username: 'u', password: 'p' } }));
    const got = await new RegistryClient(ctx).getManifest(parseReference(`${f.host}/team/app:v1`));
    expect(got.digest).toBe(image.top.digest);
    const anonymous = new RegistryClient(contextWithMirrors({}));
    await expect(anonymous.getManifest(parseReference(`${f.host}/team/app:v1`))).rejects.toThrow(
      /^pull access denied for 127\.0\.0\.1:\d+\/team\/app, repository does not exist or may require authorization/,
    );
  });

  it("never sends a registry's credentials to its mirror", async () => {
    const f = await newFront({ mode: 'basic', credentials: { username: 'u', password: 'p' } });
    const secret = { username: 'u', password: 'p' };
    const ctx = contextWithMirrors({ 'docker.io': [f.url] });
    const forHub = new RegistryClient(ctx, {
      credentials: { 'docker.io': secret },
      transport: { retries: 0 },
    });
    await expect(forHub.getManifest(parseReference('rnd:v1'))).rejects.toThrow(/^pull access denied for rnd/);
    expect(f.requests.every((r) => r.authorization === undefined)).toBe(true);
    const forMirror = new RegistryClient(ctx, { credentials: { [f.host]: secret } });
    expect((await forMirror.getManifest(parseReference('rnd:v1'))).digest).toBe(image.top.digest);
  });

  it('rejects a manifest whose bytes do not match the digest the registry names', async () => {
    const f = await newFront();
    f.corrupt.manifest = true;
    const client = new RegistryClient(contextWithMirrors({}));
    await expect(client.getManifest(parseReference(`${f.host}/team/app:v1`))).rejects.toBeInstanceOf(
      DigestMismatchError,
    );
    await expect(
      client.getManifest(parseReference(`${f.host}/team/app@${image.top.digest}`)),
    ).rejects.toBeInstanceOf(DigestMismatchError);
  });

  it('fails a corrupted blob stream with a digest mismatch', async () => {
    const f = await newFront();
    f.corrupt.blob = true;
    const client = new RegistryClient(contextWithMirrors({}));
    const layer = image.images[0]!.layers[1]!;
    const stream = await client.fetchBlob(parseReference(`${f.host}/team/app:v1`), {
      mediaType: layer.mediaType,
      digest: layer.digest,
      size: layer.bytes.length,
    });
    await expect(drain(stream)).rejects.toBeInstanceOf(DigestMismatchError);
  });

  it('follows a blob redirect to another host without the Authorization header', async () => {
    const f = await newFront();
    blobHost = await startBlobHost(registry.url);
    f.redirectBlobsTo = blobHost.url;
    const client = new RegistryClient(contextWithMirrors({}));
    const layer = image.images[0]!.layers[0]!;
    const stream = await client.fetchBlob(parseReference(`${f.host}/team/app:v1`), {
      mediaType: layer.mediaType,
      digest: layer.digest,
      size: layer.bytes.length,
    });
    expect((await drain(stream)).equals(layer.bytes)).toBe(true);
    const atFront = f.requests.filter((r) => r.path.includes('/blobs/'));
    expect(atFront.at(-1)?.authorization).toMatch(/^Bearer /);
    expect(blobHost.requests).toHaveLength(1);
    expect(blobHost.requests[0]?.authorization).toBeUndefined();
  });

  it('gives up on a registry that never answers, within the timeout', async () => {
    const f = await newFront();
    f.hang = /\/manifests\//;
    const client = new RegistryClient(contextWithMirrors({}), {
      transport: { timeoutMs: 300, retries: 1, backoffMs: 10 },
    });
    const started = Date.now();
    await expect(client.getManifest(parseReference(`${f.host}/team/app:v1`))).rejects.toThrow(
      /manifests\/v1": timeout after 300 ms awaiting headers/,
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('retries a dropped connection', async () => {
    const f = await newFront();
    const client = new RegistryClient(contextWithMirrors({}), { transport: { backoffMs: 10 } });
    await client.getManifest(parseReference(`${f.host}/team/app:v1`)); // ping and token first
    f.dropNext = 2;
    const got = await client.getManifest(parseReference(`${f.host}/team/app:v1`));
    expect(got.digest).toBe(image.top.digest);
    expect(f.dropNext).toBe(0);
  });

  it('stops at once when the operation is cancelled', async () => {
    const f = await newFront();
    f.hang = /\/manifests\//;
    const controller = new AbortController();
    const ctx = { ...contextWithMirrors({}), signal: controller.signal };
    const client = new RegistryClient(ctx);
    setTimeout(() => controller.abort(), 200);
    await expect(client.getManifest(parseReference(`${f.host}/team/app:v1`))).rejects.toThrow(/cancelled/);
  });
});

describe('names that do not resolve', () => {
  it('fail at once, without retries', async () => {
    const client = new RegistryClient(contextWithMirrors({}), { transport: { retries: 3, backoffMs: 2000 } });
    const started = Date.now();
    await expect(client.getManifest(parseReference('no-such-host.invalid/x:1'))).rejects.toThrow(
      /^Get "https:\/\/no-such-host\.invalid\/v2\/": dial tcp: lookup no-such-host\.invalid: no such host$/,
    );
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
