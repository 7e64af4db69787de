// Hostile images and registries, pulled with the real client into one state root: every case is
// refused with a clear error (or defused), nothing lands outside the layer root, and afterwards the
// store passes `layerlab system check`, holds no partial layer or temp file, and pulls a good image.

import { randomBytes } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineContext } from '../../engine/context.ts';
import { DigestMismatchError, LayerlabError, RegistryError, SizeExceededError } from '../../engine/errors.ts';
import { checkImage } from '../../engine/image/validate.ts';
import { sha256 } from '../../engine/oci/digest.ts';
import { MediaType } from '../../engine/oci/media-types.ts';
import { type PullOptions, pull } from '../../engine/pull.ts';
import { hasBlob } from '../../engine/store/blobs.ts';
import { listImages, loadImage } from '../../engine/store/images.ts';
import { layerDiffDir } from '../../engine/store/layers.ts';
import { runCli } from '../support/cli.ts';
import { freshContext, testRegistryHost } from '../support/context.ts';
import {
  type BuiltImage,
  type Fault,
  type HostileRegistry,
  imageOf,
  indexOf,
  layerBlob,
  startHostileRegistry,
} from '../support/hostile-registry.ts';
import { acceptedOddities, buildTar, hostileCases, outsidePointingLayers } from '../support/hostile-tars.ts';
import { digestOf } from '../support/random-image.ts';

const LAYER_CAP = 4 * 1024 * 1024;
const MANIFEST_CAP = 256 * 1024;
const TIMEOUT_MS = 1000;

const t = freshContext();
const ctx: EngineContext = t.ctx;
Object.assign(ctx.config, {
  registryTimeoutMs: TIMEOUT_MS,
  limits: { ...ctx.config.limits, layerBytes: LAYER_CAP, layerEntries: 1000, manifestBytes: MANIFEST_CAP },
});
const outside = join(t.root, 'outside');
mkdirSync(outside);
let registry: HostileRegistry;
/** Short pauses between retries, so the retrying cases stay quick. */
const quick: PullOptions = { client: { transport: { backoffMs: 10 } } };

beforeAll(async () => {
  registry = await startHostileRegistry();
});

afterAll(async () => {
  await registry?.close();
  t.cleanup();
});

let serial = 0;
/** Serves `image` under a repository of its own and returns the reference to pull. */
function serve(image: BuiltImage): string {
  const repo = `hostile/case-${++serial}`;
  registry.image(repo, 'v1', image);
  return `${registry.host}/${repo}:v1`;
}

async function pullError(ref: string, options: PullOptions = quick): Promise<LayerlabError> {
  const err = await pull(ctx, ref, options).then(
    () => new Error(`pull ${ref} succeeded`),
    (e: unknown) => e,
  );
  if (!(err instanceof LayerlabError)) throw err;
  return err;
}

/** Directory names under `dir`, or none when it does not exist. */
function entries(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** Runs the CLI in-process; without `context` it reads `<root>/config.json`, as a learner's would. */
async function cli(
  args: string[],
  context?: EngineContext,
): Promise<{ code: number; out: string; err: string }> {
  const r = await runCli(context ? args : ['--root', t.root, ...args], context);
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('the hostile registry itself', () => {
  it('serves a good image that pulls and conforms, so the refusals above are the faults', async () => {
    const image = imageOf([layerBlob({ tar: await buildTar([{ name: 'hello', data: 'hi' }]) })]);
    const pulled = await pull(ctx, serve(image));
    expect(pulled.id).toBe(image.config.digest);
    expect(await checkImage(ctx, pulled)).toEqual([]);
  });
});

describe('hostile layers, pulled', async () => {
  const cases = await hostileCases(outside, LAYER_CAP);

  for (const c of cases) {
    it(`refuses: ${c.name}`, async () => {
      const outcome = c.outcome;
      if (outcome.kind !== 'refused') throw new Error('corpus case without a refusal');
      const layers = entries(ctx.paths.layers);
      const image = imageOf([layerBlob({ blob: c.blob }, c.compression)]);
      const err = await pullError(serve(image));
      expect(err.code).toBe(outcome.code);
      expect(err.message).toMatch(outcome.message);
      expect(entries(outside)).toEqual([]);
      expect(entries(ctx.paths.layers)).toEqual(layers);
      expect(entries(ctx.paths.tmp)).toEqual([]);
      expect((await listImages(ctx)).map((r) => r.id)).not.toContain(image.config.digest);
    });
  }
});

describe('layers that point outside, pulled', async () => {
  const layers = await outsidePointingLayers(outside);

  it('writes nothing through a symlink to a host path that a later file of the same name replaces', async () => {
    const small = imageOf(layers.fileOverOutsideSymlink!.map((tar) => layerBlob({ tar })));
    await pull(ctx, serve(small));
    const f = join(layerDiffDir(ctx, small.layers[0]!.diffId), 'f');
    expect(lstatSync(f).isFile()).toBe(true);
    expect(readFileSync(f, 'utf8')).toBe('inside');
    expect(entries(outside)).toEqual([]);
    // A layer too big for the in-process writer goes to GNU tar, which defers a symlink to an absolute
    // path (a placeholder stands in) and restores it at the end; either way nothing is written outside.
    const large = imageOf(layers.fileOverOutsideSymlinkLarge!.map((tar) => layerBlob({ tar })));
    await pull(ctx, serve(large));
    expect(existsSync(join(layerDiffDir(ctx, large.layers[0]!.diffId), 'pad'))).toBe(true);
    expect(entries(outside)).toEqual([]);
  });

  it('hard-links a symlink to a host path as a symlink, not as its target', async () => {
    const image = imageOf(layers.hardlinkToOutsideSymlink!.map((tar) => layerBlob({ tar })));
    await pull(ctx, serve(image));
    const alias = join(layerDiffDir(ctx, image.layers[0]!.diffId), 'alias');
    expect(lstatSync(alias).isSymbolicLink()).toBe(true);
    expect(readlinkSync(alias)).toBe(outside);
    expect(entries(outside)).toEqual([]);
  });

  it("never follows a lower layer's symlink when unpacking an upper layer", async () => {
    const image = imageOf(layers.symlinkInLowerLayerWrittenThroughInUpper!.map((tar) => layerBlob({ tar })));
    await pull(ctx, serve(image));
    const [lower, upper] = image.layers.map((l) => layerDiffDir(ctx, l.diffId));
    expect(lstatSync(join(lower!, 'esc')).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(upper!, 'esc')).isDirectory()).toBe(true);
    expect(readFileSync(join(upper!, 'esc/pwned'), 'utf8')).toBe('x');
    expect(entries(outside)).toEqual([]);
  });

  it('strips leading slashes, skips devices, keeps setuid files owned by the shifted root, lets a duplicate win', async () => {
    const odd = await acceptedOddities();
    const names = ['absolutePaths', 'devices', 'setuid', 'duplicates'];
    const image = imageOf(names.map((n) => layerBlob({ tar: odd[n]! })));
    await pull(ctx, serve(image));
    const [abs, devices, setuid, duplicates] = image.layers.map((l) => layerDiffDir(ctx, l.diffId));
    expect(readFileSync(join(abs!, 'etc/abs'), 'utf8')).toBe('inside');
    expect(readdirSync(join(devices!, 'dev')).sort()).toEqual(['fifo', 'keep']);
    // Setuid is kept (images such as busybox's su need it), but the file belongs to the container's
    // root, host uid 100000, and containers run with no_new_privs: it cannot make anyone host root.
    const su = lstatSync(join(setuid!, 'bin/su'));
    expect([su.mode & 0o7777, su.uid, su.gid]).toEqual([
      0o4755,
      ctx.config.usernsBase,
      ctx.config.usernsBase,
    ]);
    expect(readFileSync(join(duplicates!, 'f'), 'utf8')).toBe('second');
  });
});

/** A small sound image, different every time so nothing of it is in the store yet. */
async function soundImage(fileBytes = 1024): Promise<BuiltImage> {
  return imageOf([layerBlob({ tar: await buildTar([{ name: 'data', data: randomBytes(fileBytes) }]) })]);
}

describe('hostile manifests', () => {
  const good = () => soundImage();

  it('refuses a manifest over the size cap that says so in Content-Length', async () => {
    const ref = serve(await good());
    registry.fault(/\/manifests\/v1$/, { kind: 'serve', body: Buffer.alloc(MANIFEST_CAP + 1, 0x20) }, 1);
    const err = await pullError(ref);
    expect(err).toBeInstanceOf(SizeExceededError);
    expect(err.message).toBe(`manifest ${ref}: exceeds the limit of ${MANIFEST_CAP} bytes`);
  });

  it('stops reading an endless manifest soon after the cap', async () => {
    const ref = serve(await good());
    registry.fault(/\/manifests\/v1$/, { kind: 'endless' }, 1);
    const sentBefore = registry.bytesSent;
    const started = Date.now();
    const err = await pullError(ref);
    expect(err).toBeInstanceOf(SizeExceededError);
    expect(err.message).toMatch(/exceeds the limit of 262144 bytes/);
    expect(Date.now() - started).toBeLessThan(10_000);
    // Socket buffers hold a few MB the client never asked for; an unbounded read would run on.
    expect(registry.bytesSent - sentBefore).toBeLessThan(32 * 1024 * 1024);
  });

  it('refuses an index that names itself: the registry cannot make the bytes match', async () => {
    // The index's one entry is a digest the registry answers with the index again.
    const self = indexOf({ bytes: Buffer.from('x'), digest: sha256('loop'), mediaType: MediaType.ociIndex });
    registry.manifest('hostile/loop', 'v1', self);
    registry.fault(/\/hostile\/loop\/manifests\/sha256:/, { kind: 'serve', body: self.bytes });
    const before = registry.requests.length;
    const err = await pullError(`${registry.host}/hostile/loop:v1`);
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect(err.message).toBe(
      `manifest for ${registry.host}/hostile/loop@${sha256('loop')}: digest mismatch: expected ${sha256('loop')}, got ${self.digest}`,
    );
    const manifestGets = registry.requests.slice(before).filter((r) => r.path.includes('/manifests/'));
    expect(manifestGets).toHaveLength(2);
  });

  it('follows a chain of indexes three deep and no further', async () => {
    const image = await good();
    registry.image('hostile/chain', 'leaf', image);
    let top = image.manifest;
    for (let level = 0; level < 10; level++) {
      top = indexOf(top);
      registry.manifest('hostile/chain', undefined, top);
    }
    registry.manifest('hostile/chain', 'v1', top);
    const before = registry.requests.length;
    const err = await pullError(`${registry.host}/hostile/chain:v1`);
    expect(err.message).toBe(`${registry.host}/hostile/chain:v1: indexes nested more than 3 deep`);
    const manifestGets = registry.requests.slice(before).filter((r) => r.path.includes('/manifests/'));
    expect(manifestGets).toHaveLength(4);
  });

  it('refuses a body that is not what its Content-Type says', async () => {
    const image = await good();
    const index = indexOf(image.manifest);
    const asManifest = serve(image);
    registry.fault(
      /\/manifests\/v1$/,
      { kind: 'serve', body: index.bytes, contentType: MediaType.ociManifest },
      1,
    );
    const err = await pullError(asManifest);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.message).toMatch(
      /^Get "http:\/\/127\.0\.0\.1:\d+\/v2\/hostile\/case-\d+\/manifests\/v1": Content-Type application\/vnd\.oci\.image\.manifest\.v1\+json does not match the document, which is a application\/vnd\.oci\.image\.index\.v1\+json$/,
    );
    // A manifest without a mediaType field, sent as an index, is caught by its shape.
    const bare = JSON.parse(image.manifest.bytes.toString()) as Record<string, unknown>;
    delete bare.mediaType;
    const asIndex = serve(image);
    registry.fault(
      /\/manifests\/v1$/,
      { kind: 'serve', body: Buffer.from(JSON.stringify(bare)), contentType: MediaType.ociIndex },
      1,
    );
    expect((await pullError(asIndex)).message).toMatch(
      /does not match the document, which is a manifest \(it has a config\)$/,
    );
  });

  it('refuses a manifest whose config has a layer media type', async () => {
    const ref = serve(
      imageOf([layerBlob({ tar: Buffer.alloc(1024) })], (m) => {
        m.config.mediaType = MediaType.ociLayerGzip;
      }),
    );
    expect((await pullError(ref)).message).toBe(
      `${ref}: not a container image (config media type ${MediaType.ociLayerGzip})`,
    );
  });

  it('refuses the config blob declared as a layer, gzip or plain tar', async () => {
    for (const mediaType of [MediaType.ociLayerGzip, MediaType.ociLayer]) {
      const image = imageOf((await good()).layers, (m) => {
        m.layers[0] = { ...m.config, mediaType };
      });
      const err = await pullError(serve(image));
      expect(err.code).toBe('UNSAFE_LAYER');
      expect(err.message).toMatch(
        mediaType === MediaType.ociLayer
          ? /^refusing layer entry "\(layer\)": the tar stream is truncated$/
          : /^refusing layer entry "\(layer\)": its media type says gzip but the blob is not compressed$/,
      );
    }
  });

  it('refuses an unknown layer media type before downloading anything', async () => {
    const image = imageOf((await good()).layers, (m) => {
      m.layers[0]!.mediaType = 'application/vnd.example.weird';
    });
    const ref = serve(image);
    const before = registry.requests.length;
    expect((await pullError(ref)).message).toBe(
      `${ref}: unsupported layer media type application/vnd.example.weird`,
    );
    expect(registry.requests.slice(before).some((r) => r.path.includes('/blobs/'))).toBe(false);
  });

  it('refuses a manifest whose bytes do not match the digest the registry names, or the one asked for', async () => {
    const image = await good();
    const ref = serve(image);
    registry.fault(
      /\/manifests\/v1$/,
      { kind: 'serve', body: image.manifest.bytes, digest: sha256('other') },
      1,
    );
    const err = await pullError(ref);
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect(err.message).toBe(
      `manifest for ${ref}: digest mismatch: expected ${sha256('other')}, got ${image.manifest.digest}`,
    );
    const other = await good();
    registry.image('hostile/bydigest', 'v1', other);
    registry.fault(
      /\/hostile\/bydigest\/manifests\/sha256:/,
      { kind: 'serve', body: image.manifest.bytes },
      1,
    );
    const byDigest = await pullError(`${registry.host}/hostile/bydigest@${other.manifest.digest}`);
    expect(byDigest).toBeInstanceOf(DigestMismatchError);
  });

  it('refuses a config blob whose bytes do not match its digest', async () => {
    const image = await good();
    const ref = serve(image);
    const forged = Buffer.from(image.config.bytes.toString().replace('/bin/sh', '/bin/xx'));
    registry.fault(new RegExp(`/blobs/${image.config.digest}$`), { kind: 'serve', body: forged }, 1);
    const err = await pullError(ref);
    expect(err).toBeInstanceOf(DigestMismatchError);
    // The blob store hashes what it writes and names both digests.
    expect(err.message).toMatch(
      new RegExp(`digest mismatch: expected ${image.config.digest}, got ${digestOf(forged)}$`),
    );
    expect(await hasBlob(ctx, image.config.digest)).toBe(false);
  });
});

/**
 * Pulls `ref` while every request for `path` meets `fault`, and returns the error with the number of
 * requests the fault met (retries included).
 */
async function pullFaulted(
  ref: string,
  path: RegExp,
  fault: Fault,
): Promise<{ err: LayerlabError; tries: number }> {
  registry.fault(path, fault);
  const before = registry.requests.length;
  try {
    const err = await pullError(ref);
    return { err, tries: registry.requests.slice(before).filter((r) => path.test(r.path)).length };
  } finally {
    registry.clearFaults();
  }
}

describe('blobs that are not the size their descriptor declares', () => {
  const withLayer = async () => {
    const image = await soundImage(64 * 1024);
    const layer = image.layers[0]!;
    return { image, layer, ref: serve(image), path: new RegExp(`/blobs/${layer.digest}$`) };
  };

  it('refuses a longer blob, with or without a Content-Length, after a bounded number of tries', async () => {
    const { layer, ref, path } = await withLayer();
    const longer = Buffer.concat([layer.bytes, Buffer.alloc(100)]);
    const declared = await pullFaulted(ref, path, { kind: 'serve', body: longer });
    expect(declared.err.message).toMatch(
      new RegExp(
        `^Get "http://127\\.0\\.0\\.1:\\d+/v2/hostile/case-\\d+/blobs/${layer.digest}": size mismatch: expected ${layer.bytes.length} bytes, registry sends ${longer.length}$`,
      ),
    );
    // A lying length may be a broken proxy: the download is tried again, a few times at most.
    expect(declared.tries).toBeGreaterThanOrEqual(2);
    expect(declared.tries).toBeLessThanOrEqual(4);
    const chunked = await pullFaulted(ref, path, { kind: 'serve', body: longer, contentLength: false });
    expect(chunked.err).toBeInstanceOf(SizeExceededError);
    expect(chunked.err.message).toMatch(
      new RegExp(`^blob ${layer.digest} from http://.*: exceeds the limit of ${layer.bytes.length} bytes$`),
    );
    expect(await hasBlob(ctx, layer.digest)).toBe(false);
  });

  it('stops an endless blob at the declared size', async () => {
    const { layer, ref, path } = await withLayer();
    const sentBefore = registry.bytesSent;
    const { err } = await pullFaulted(ref, path, {
      kind: 'endless',
      contentType: 'application/octet-stream',
    });
    expect(err).toBeInstanceOf(SizeExceededError);
    expect(registry.bytesSent - sentBefore).toBeLessThan(32 * 1024 * 1024);
    expect(await hasBlob(ctx, layer.digest)).toBe(false);
  });

  it('refuses a shorter blob, with or without a Content-Length, after a bounded number of tries', async () => {
    const { layer, ref, path } = await withLayer();
    const shorter = layer.bytes.subarray(0, layer.bytes.length - 10);
    const declared = await pullFaulted(ref, path, { kind: 'serve', body: shorter });
    expect(declared.err.message).toMatch(
      new RegExp(`size mismatch: expected ${layer.bytes.length} bytes, registry sends ${shorter.length}$`),
    );
    // Without a length the stream just ends early: taken for a broken connection, retried, then reported.
    const chunked = await pullFaulted(ref, path, { kind: 'serve', body: shorter, contentLength: false });
    expect(chunked.err).toBeInstanceOf(RegistryError);
    expect(chunked.err.message).toMatch(
      new RegExp(
        `^Get "http://.*/blobs/${layer.digest}": unexpected EOF: got ${shorter.length} of ${layer.bytes.length} bytes$`,
      ),
    );
    expect(chunked.tries).toBeGreaterThanOrEqual(2);
    expect(chunked.tries).toBeLessThanOrEqual(4);
    expect(await hasBlob(ctx, layer.digest)).toBe(false);
  });
});

describe('registries that hang or drop the connection', () => {
  it('gives up on a registry that accepts connections and never answers, within the configured timeout', async () => {
    // Configured the way an operator would: registryTimeoutMs in the root's config.json.
    writeFileSync(
      join(t.root, 'config.json'),
      JSON.stringify({ mirrors: {}, registryTimeoutMs: 700, limits: { layerBytes: LAYER_CAP } }),
    );
    registry.fault(/.*/, { kind: 'hang' });
    const started = Date.now();
    let result: Awaited<ReturnType<typeof cli>>;
    try {
      result = await cli(['pull', `${registry.host}/hostile/hangs:v1`]);
    } finally {
      registry.clearFaults();
    }
    const elapsed = Date.now() - started;
    expect(result.code).not.toBe(0);
    expect(result.err).toContain(`Get "${registry.url}/v2/": timeout after 700 ms awaiting headers`);
    // Four attempts of 0.7 s with backoffs of 0.2, 0.4 and 0.8 s: about 4.2 s, never unbounded.
    expect(elapsed).toBeGreaterThanOrEqual(4 * 700);
    expect(elapsed).toBeLessThan(20_000);
  });

  it('gives up on a blob whose body stalls, after a bounded number of tries', async () => {
    const image = await soundImage(256 * 1024);
    const layer = image.layers[0]!;
    const ref = serve(image);
    const { err, tries } = await pullFaulted(ref, new RegExp(`/blobs/${layer.digest}$`), {
      kind: 'stall',
      after: 100,
    });
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.message).toMatch(
      new RegExp(
        `^Get "${registry.url}/v2/hostile/case-\\d+/blobs/${layer.digest}": timeout after ${TIMEOUT_MS} ms reading the body$`,
      ),
    );
    expect(tries).toBeGreaterThanOrEqual(2);
    expect(tries).toBeLessThanOrEqual(4);
    expect(await hasBlob(ctx, layer.digest)).toBe(false);
  });

  it('retries a connection dropped mid-blob, then reports it clearly', async () => {
    const image = await soundImage(256 * 1024);
    const layer = image.layers[0]!;
    const ref = serve(image);
    const path = new RegExp(`/blobs/${layer.digest}$`);
    const { err, tries } = await pullFaulted(ref, path, { kind: 'drop', after: 1000 });
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.message).toMatch(
      new RegExp(
        `^Get "${registry.url}/v2/hostile/case-\\d+/blobs/${layer.digest}": (unexpected EOF|read tcp 127\\.0\\.0\\.1:\\d+: connection reset by peer)$`,
      ),
    );
    expect(tries).toBeGreaterThanOrEqual(2);
    expect(tries).toBeLessThanOrEqual(4);
    expect(await hasBlob(ctx, layer.digest)).toBe(false);

    // Dropped twice, then served: the retries carry the pull through.
    registry.fault(path, { kind: 'drop', after: 1000 }, 2);
    const pulled = await pull(ctx, ref, quick);
    expect(pulled.id).toBe(image.config.digest);
  });

  it('shows the refusal of a hostile layer on the command line in one line', async () => {
    const [traversal] = await hostileCases(outside, LAYER_CAP);
    const ref = serve(imageOf([layerBlob({ blob: traversal!.blob }, 'none')]));
    const result = await cli(['pull', ref], ctx);
    expect(result.code).toBe(1);
    expect(result.err).toBe(
      'Error response from daemon: refusing layer entry "../escaped": its path leaves the layer root (..)\n',
    );
  });
});

describe('afterwards', () => {
  it('leaves a store that passes layerlab system check, with no partial layer and no temp file', async () => {
    const check = await cli(['system', 'check'], ctx);
    expect(check.err).toBe('');
    expect(check.out).toContain('Temp files:  0 leftover');
    expect(check.out).toContain('Store is consistent.');
    expect(check.code).toBe(0);
    for (const name of entries(ctx.paths.layers)) {
      expect(name).toMatch(/^[0-9a-f]{64}$/);
      expect(readdirSync(join(ctx.paths.layers, name)).sort()).toEqual(['diff', 'layer.json']);
    }
    expect(entries(ctx.paths.tmp)).toEqual([]);
    expect(entries(outside)).toEqual([]);
  });

  it('pulls a good image from the real registry into the same root', async () => {
    if (!testRegistryHost())
      throw new Error('LAYERLAB_TEST_REGISTRY is not set: run through the integration project');
    const image = await pull(ctx, 'busybox');
    expect(await checkImage(ctx, image)).toEqual([]);
    expect((await loadImage(ctx, 'busybox')).id).toBe(image.id);
    const check = await cli(['system', 'check'], ctx);
    expect([check.code, check.err]).toEqual([0, '']);
  });
});
