// The store on a real file system: blobs refuse content that does not match, survive a kill -9 with
// no lying blob, locks exclude across processes, and image names resolve the way Docker's do.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DigestMismatchError, NotFoundError, SizeExceededError, StoreError } from '../../engine/errors.ts';
import { type Digest, sha256 } from '../../engine/oci/digest.ts';
import { MediaType } from '../../engine/oci/media-types.ts';
import type { ImageConfig, Manifest } from '../../engine/oci/types.ts';
import {
  cleanupTemp,
  hasBlob,
  listBlobs,
  openBlob,
  readBlob,
  removeBlob,
  verifyBlobs,
  writeBlob,
  writeBlobBytes,
} from '../../engine/store/blobs.ts';
import {
  deleteImageRecord,
  getImageRecord,
  listImages,
  loadImage,
  recordImage,
  resolveImageId,
  tagImage,
  untagImage,
} from '../../engine/store/images.ts';
import { withLock } from '../../engine/store/lock.ts';
import { blobPath } from '../../engine/store/paths.ts';
import { freshContext } from '../support/context.ts';

const t = freshContext();
const { ctx } = t;
afterAll(() => t.cleanup());

const engine = (path: string) => JSON.stringify(new URL(`../../engine/${path}`, import.meta.url).pathname);

/** Runs an ES module snippet in a separate Node process (a second engine sharing the root). */
function runNode(
  script: string,
  args: string[],
): {
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  kill(): void;
  started: Promise<void>;
} {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let onStart: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    onStart = resolve;
  });
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (stdout.includes('ready')) onStart();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { done, started, kill: () => child.kill('SIGKILL') };
}

describe('blobs', () => {
  it('stores content under its digest and reads it back', async () => {
    const data = Buffer.from('hello layers');
    const { digest, size } = await writeBlob(ctx, [data.subarray(0, 5), data.subarray(5)], {
      digest: sha256(data),
    });
    expect([digest, size]).toEqual([sha256(data), data.length]);
    expect(await hasBlob(ctx, digest)).toBe(true);
    expect(await readBlob(ctx, digest)).toEqual(data);
    const chunks: Buffer[] = [];
    for await (const c of openBlob(ctx, digest)) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks)).toEqual(data);
    expect(await listBlobs(ctx)).toContain(digest);
    await removeBlob(ctx, digest);
    expect(await hasBlob(ctx, digest)).toBe(false);
    await expect(readBlob(ctx, digest)).rejects.toThrow(NotFoundError);
    expect(() => openBlob(ctx, digest)).toThrow(`No such blob: ${digest}`);
  });

  it('refuses content whose digest does not match and keeps nothing', async () => {
    const claimed = sha256('what the registry promised');
    const err = await writeBlobBytes(ctx, Buffer.from('what it sent'), { digest: claimed }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect((err as Error).message).toBe(
      `blob ${claimed}: digest mismatch: expected ${claimed}, got ${sha256('what it sent')}`,
    );
    expect(await hasBlob(ctx, claimed)).toBe(false);
    expect(await hasBlob(ctx, sha256('what it sent'))).toBe(false);
    expect(readdirSync(ctx.paths.tmp)).toEqual([]);
  });

  it('stops an oversized stream as soon as it passes the limit', async () => {
    let produced = 0;
    async function* endless() {
      for (;;) {
        produced += 1024;
        yield Buffer.alloc(1024);
      }
    }
    await expect(writeBlob(ctx, endless(), { maxSize: 10_000 })).rejects.toThrow(SizeExceededError);
    expect(produced).toBeLessThanOrEqual(11 * 1024);
    await expect(writeBlob(ctx, endless(), { size: 4096 })).rejects.toThrow(
      /exceeds the limit of 4096 bytes/,
    );
    expect(readdirSync(ctx.paths.tmp)).toEqual([]);
  });

  it('refuses a short blob when the size was promised', async () => {
    await expect(writeBlobBytes(ctx, Buffer.from('abc'), { size: 10 })).rejects.toThrow(
      /size mismatch: expected 10 bytes, got 3/,
    );
  });

  it('finds corrupted blobs when re-hashing', async () => {
    const { digest } = await writeBlobBytes(ctx, Buffer.from('pristine'));
    const ok = await verifyBlobs(ctx);
    expect(ok.corrupt).toEqual([]);
    writeFileSync(blobPath(ctx.paths, digest), 'tampered');
    const bad = await verifyBlobs(ctx);
    expect(bad.corrupt).toEqual([{ digest, actual: sha256('tampered') }]);
    await removeBlob(ctx, digest);
  });

  it('leaves only a temp file when killed mid-write, which cleanupTemp removes', async () => {
    const expected = sha256(Buffer.alloc(1024 * 1024, 7));
    const child = runNode(
      `
      import { setTimeout as sleep } from 'node:timers/promises';
      import { createContext } from ${engine('context.ts')};
      import { writeBlob } from ${engine('store/blobs.ts')};
      const ctx = createContext(process.argv[1], { config: JSON.parse(process.argv[2]) });
      async function* slow() {
        for (let i = 0; i < 1024; i++) { yield Buffer.alloc(1024, 7); if (i === 10) console.log('ready'); await sleep(5); }
      }
      await writeBlob(ctx, slow(), { digest: process.argv[3] });
      `,
      [ctx.root, JSON.stringify(ctx.config), expected],
    );
    await child.started;
    child.kill();
    const { code } = await child.done;
    expect(code).toBe(null);
    expect(await hasBlob(ctx, expected)).toBe(false);
    expect(readdirSync(ctx.paths.tmp).length).toBe(1);
    expect(await cleanupTemp(ctx, { olderThanMs: 0 })).toBe(1);
    expect(readdirSync(ctx.paths.tmp)).toEqual([]);
  });
});

describe('locks', () => {
  it('serialises callers in one process', async () => {
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 5 }, () =>
        withLock(ctx, 'counter', async () => {
          inside++;
          most = Math.max(most, inside);
          await new Promise((r) => setTimeout(r, 10));
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
  });

  it('lets a holder take the same lock again without deadlocking', async () => {
    const value = await withLock(ctx, 'nested', () => withLock(ctx, 'nested', async () => 42));
    expect(value).toBe(42);
  });

  it('excludes another process: no lost update in read-modify-write', async () => {
    const file = join(t.root, 'counter.txt');
    writeFileSync(file, '0');
    const script = `
      import { readFileSync, writeFileSync } from 'node:fs';
      import { setTimeout as sleep } from 'node:timers/promises';
      import { createContext } from ${engine('context.ts')};
      import { withLock } from ${engine('store/lock.ts')};
      const ctx = createContext(process.argv[1], { config: JSON.parse(process.argv[2]) });
      for (let i = 0; i < 20; i++) {
        await withLock(ctx, 'counter-file', async () => {
          const n = Number(readFileSync(process.argv[3], 'utf8'));
          await sleep(2);
          writeFileSync(process.argv[3], String(n + 1));
        });
      }
    `;
    const args = [ctx.root, JSON.stringify(ctx.config), file];
    const results = await Promise.all([runNode(script, args).done, runNode(script, args).done]);
    expect(results.map((r) => [r.code, r.stderr])).toEqual([
      [0, ''],
      [0, ''],
    ]);
    expect(readFileSync(file, 'utf8')).toBe('40');
  });

  it('gives up with a clear error when another process holds the lock too long', async () => {
    const holder = runNode(
      `
      import { createContext } from ${engine('context.ts')};
      import { withLock } from ${engine('store/lock.ts')};
      const ctx = createContext(process.argv[1], { config: JSON.parse(process.argv[2]) });
      await withLock(ctx, 'held', async () => { console.log('ready'); await new Promise((r) => setTimeout(r, 5000)); });
      `,
      [ctx.root, JSON.stringify(ctx.config)],
    );
    await holder.started;
    const err = await withLock(ctx, 'held', async () => 'got it', { waitMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as Error).message).toMatch(/lock held: timed out after 200 ms/);
    holder.kill();
    await holder.done;
    // The kernel drops a dead holder's flock: the lock is free again at once.
    expect(await withLock(ctx, 'held', async () => 'got it', { waitMs: 1000 })).toBe('got it');
  });
});

describe('images', () => {
  /** Stores a one-layer image (config + manifest) and returns its manifest digest and id. */
  async function storeImage(label: string): Promise<{ manifestDigest: Digest; id: Digest }> {
    const config: ImageConfig = {
      architecture: 'amd64',
      os: 'linux',
      created: '2024-01-01T00:00:00Z',
      config: { Labels: { label } },
      rootfs: { type: 'layers', diff_ids: [sha256(`diff-${label}`)] },
    };
    const configBlob = await writeBlobBytes(ctx, Buffer.from(JSON.stringify(config)));
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, ...configBlob },
      layers: [{ mediaType: MediaType.ociLayerGzip, digest: sha256(`blob-${label}`), size: 1234 }],
    };
    const manifestBlob = await writeBlobBytes(ctx, Buffer.from(JSON.stringify(manifest)));
    return { manifestDigest: manifestBlob.digest, id: configBlob.digest };
  }

  it('records an image and finds it by every name Docker accepts', async () => {
    const { manifestDigest, id } = await storeImage('busybox');
    const image = await recordImage(ctx, {
      manifestDigest,
      tag: 'docker.io/library/busybox:latest',
      repoDigest: `docker.io/library/busybox@${manifestDigest}`,
    });
    expect(image.id).toBe(id);
    expect(image.manifestDigest).toBe(manifestDigest);
    const hex = id.slice(7);
    for (const name of [
      'busybox',
      'busybox:latest',
      'library/busybox',
      'docker.io/library/busybox:latest',
      `busybox@${manifestDigest}`,
      id,
      hex,
      hex.slice(0, 12),
    ]) {
      expect((await loadImage(ctx, name)).id, name).toBe(id);
    }
    const record = await getImageRecord(ctx, id);
    expect(record).toMatchObject({
      id,
      manifestDigest,
      manifestMediaType: MediaType.ociManifest,
      repoTags: ['docker.io/library/busybox:latest'],
      repoDigests: [`docker.io/library/busybox@${manifestDigest}`],
      created: '2024-01-01T00:00:00Z',
      size: 1234,
    });
    expect(t.events).toContainEqual({
      type: 'image.created',
      imageId: id,
      ref: 'docker.io/library/busybox:latest',
    });
  });

  it('says "No such image" with the familiar name', async () => {
    await expect(loadImage(ctx, 'alpine')).rejects.toThrow('No such image: alpine:latest');
    await expect(loadImage(ctx, 'quay.io/x/y:1')).rejects.toThrow('No such image: quay.io/x/y:1');
    await expect(loadImage(ctx, `sha256:${'0'.repeat(64)}`)).rejects.toThrow(NotFoundError);
    await expect(loadImage(ctx, 'Not A Name')).rejects.toThrow('No such image: Not A Name');
  });

  it('tags, moves tags between images and untags', async () => {
    const a = await storeImage('a');
    const b = await storeImage('b');
    await recordImage(ctx, { manifestDigest: a.manifestDigest, tag: 'docker.io/library/app:1' });
    await recordImage(ctx, { manifestDigest: b.manifestDigest });
    await tagImage(ctx, a.id, 'localhost:5000/team/app:dev');
    expect((await loadImage(ctx, 'localhost:5000/team/app:dev')).id).toBe(a.id);
    // A tag points at one image: tagging b with app:1 moves it.
    await tagImage(ctx, b.id, 'app:1');
    expect((await loadImage(ctx, 'app:1')).id).toBe(b.id);
    expect((await getImageRecord(ctx, a.id)).repoTags).toEqual(['localhost:5000/team/app:dev']);
    expect(await untagImage(ctx, 'localhost:5000/team/app:dev')).toBe(a.id);
    expect((await getImageRecord(ctx, a.id)).repoTags).toEqual([]);
    await expect(untagImage(ctx, 'localhost:5000/team/app:dev')).rejects.toThrow(
      'No such image: localhost:5000/team/app:dev',
    );
    await expect(tagImage(ctx, sha256('nothing'), 'x:1')).rejects.toThrow(NotFoundError);
    const listed = (await listImages(ctx)).map((r) => r.id);
    expect(listed).toEqual(expect.arrayContaining([a.id, b.id]));
    await deleteImageRecord(ctx, b.id);
    await expect(loadImage(ctx, 'app:1')).rejects.toThrow('No such image: app:1');
    expect((await listImages(ctx)).map((r) => r.id)).not.toContain(b.id);
  });

  it('refuses an ambiguous id prefix', async () => {
    const seen = new Map<string, Digest>();
    for (let i = 0; ; i++) {
      const { id, manifestDigest } = await storeImage(`amb-${i}`);
      await recordImage(ctx, { manifestDigest });
      const first = id.slice(7, 8);
      const other = seen.get(first);
      if (other) {
        await expect(resolveImageId(ctx, first)).rejects.toThrow(/ambiguous image id prefix/);
        expect(await resolveImageId(ctx, id.slice(7, 40))).toBe(id);
        break;
      }
      seen.set(first, id);
    }
  });

  it('keeps records consistent under concurrent tagging from two processes', async () => {
    const { manifestDigest, id } = await storeImage('concurrent');
    await recordImage(ctx, { manifestDigest });
    const script = `
      import { createContext } from ${engine('context.ts')};
      import { tagImage } from ${engine('store/images.ts')};
      const ctx = createContext(process.argv[1], { config: JSON.parse(process.argv[2]) });
      for (let i = 0; i < 15; i++) await tagImage(ctx, process.argv[3], 'conc:' + process.argv[4] + '-' + i);
    `;
    const args = (who: string) => [ctx.root, JSON.stringify(ctx.config), id, who];
    const results = await Promise.all([runNode(script, args('p')).done, runNode(script, args('q')).done]);
    expect(results.map((r) => r.stderr)).toEqual(['', '']);
    expect((await getImageRecord(ctx, id)).repoTags).toHaveLength(30);
    expect(existsSync(ctx.paths.repositories)).toBe(true);
  });
});
