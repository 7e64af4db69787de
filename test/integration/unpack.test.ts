// Layer unpacking against the real kernel and GNU tar: whiteouts become overlay whiteouts, owners are
// shifted into the user namespace, and every hostile tar of the corpus is refused (or defused)
// without touching anything outside the target and without leaving a layer behind.

import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { EngineContext } from '../../engine/context.ts';
import { LayerlabError, StoreError } from '../../engine/errors.ts';
import { END_OF_ARCHIVE, encodeEntry } from '../../engine/layer/tar-format.ts';
import { unpackLayer } from '../../engine/layer/unpack.ts';
import { type Digest, sha256 } from '../../engine/oci/digest.ts';
import { type Compression, MediaType } from '../../engine/oci/media-types.ts';
import type { Layer } from '../../engine/oci/types.ts';
import { writeBlobBytes } from '../../engine/store/blobs.ts';
import {
  cleanupLayerTemps,
  ensureLayer,
  layerExists,
  readLayerInfo,
  removeLayer,
} from '../../engine/store/layers.ts';
import { treeOf } from '../fuzz/tar-arbitraries.ts';
import { freshContext } from '../support/context.ts';
import {
  acceptedOddities,
  buildTar,
  compress,
  type EntrySpec,
  hostileCases,
} from '../support/hostile-tars.ts';

const CAP = 4 * 1024 * 1024;
const t = freshContext();
const ctx: EngineContext = {
  ...t.ctx,
  config: { ...t.ctx.config, limits: { ...t.ctx.config.limits, layerBytes: CAP, layerEntries: 1000 } },
};
const outside = join(t.root, 'outside');
mkdirSync(outside);
afterAll(() => t.cleanup());

const MEDIA: Record<Compression, string> = {
  gzip: MediaType.ociLayerGzip,
  zstd: MediaType.ociLayerZstd,
  none: MediaType.ociLayer,
};

/** Stores `blob` and describes it as a layer whose diff_id is that of `tarBytes`. */
async function storeLayer(blob: Buffer, compression: Compression, diffId?: Digest): Promise<Layer> {
  const { digest, size } = await writeBlobBytes(ctx, blob);
  return { descriptor: { mediaType: MEDIA[compression], digest, size }, diffId: diffId ?? sha256(blob) };
}

async function unpackTar(tarBytes: Buffer, compression: Compression = 'gzip'): Promise<string> {
  return ensureLayer(ctx, await storeLayer(compress(tarBytes, compression), compression, sha256(tarBytes)));
}

function xattr(path: string, name: string): Buffer {
  return execFileSync('getfattr', ['--only-values', '-h', '-n', name, path]);
}

function tarStillRunning(dir: string): boolean {
  try {
    execFileSync('pgrep', ['-f', `--directory=${dir}`]);
    return true;
  } catch {
    return false;
  }
}

/** What `layers/` holds besides temp dirs (none may be left by a failed unpack either). */
function layerDirs(): string[] {
  try {
    return readdirSync(ctx.paths.layers);
  } catch {
    return [];
  }
}

describe('hostile layers', async () => {
  const cases = await hostileCases(outside, CAP);
  for (const c of cases) {
    it(`refuses: ${c.name}`, async () => {
      const before = layerDirs();
      const layer = await storeLayer(c.blob, c.compression);
      const outcome = c.outcome;
      if (outcome.kind !== 'refused') throw new Error('corpus case without a refusal');
      const err = await ensureLayer(ctx, layer).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LayerlabError);
      expect((err as LayerlabError).code).toBe(outcome.code);
      expect((err as Error).message).toMatch(outcome.message);
      expect(readdirSync(outside)).toEqual([]);
      expect(layerDirs()).toEqual(before);
      expect(await layerExists(ctx, layer.diffId)).toBe(false);
    });
  }

  it('unpacks a good layer after all of them', async () => {
    const dir = await unpackTar(await buildTar([{ name: 'etc/hostname', data: 'layerlab\n' }]));
    expect(readFileSync(join(dir, 'etc/hostname'), 'utf8')).toBe('layerlab\n');
  });

  it('stops reading a bomb soon after the cap', async () => {
    const bomb = cases.find((c) => c.name === 'gzip bomb')!;
    const started = performance.now();
    await expect(unpackLayer(ctx, Readable.from([bomb.blob]), 'gzip', join(t.root, 'bomb'))).rejects.toThrow(
      /exceeds the limit of 4194304 bytes/,
    );
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('refuses more entries than the cap', async () => {
    const entries: EntrySpec[] = Array.from({ length: 1001 }, (_, i) => ({ name: `f${i}`, data: '' }));
    await expect(unpackTar(await buildTar(entries), 'none')).rejects.toThrow(/more than 1000 entries/);
  });
});

describe('accepted oddities', async () => {
  const odd = await acceptedOddities();

  it('strips a leading / and keeps the file inside the layer', async () => {
    const dir = await unpackTar(odd.absolutePaths!);
    expect(readFileSync(join(dir, 'etc/abs'), 'utf8')).toBe('inside');
    expect(readdirSync(outside)).toEqual([]);
  });

  it('skips device nodes and keeps FIFOs', async () => {
    const dir = await unpackTar(odd.devices!);
    expect(readdirSync(join(dir, 'dev')).sort()).toEqual(['fifo', 'keep']);
    expect(lstatSync(join(dir, 'dev/fifo')).isFIFO()).toBe(true);
  });

  it('keeps setuid bits with the owner shifted to the namespace root', async () => {
    const dir = await unpackTar(odd.setuid!);
    const st = lstatSync(join(dir, 'bin/su'));
    expect(st.mode & 0o7777).toBe(0o4755);
    expect([st.uid, st.gid]).toEqual([100_000, 100_000]);
  });

  it('lets a later duplicate entry win', async () => {
    const dir = await unpackTar(odd.duplicates!);
    expect(readFileSync(join(dir, 'f'), 'utf8')).toBe('second');
  });
});

describe('unpacking', () => {
  it('turns OCI whiteouts into overlay whiteouts', async () => {
    const dir = await unpackTar(
      await buildTar([
        { name: 'etc/', type: 'directory', mode: 0o750, uid: 0, gid: 42 },
        { name: 'etc/.wh.motd' },
        { name: 'etc/.wh..wh..opq' },
        { name: 'var/.wh..wh.plnk' },
      ]),
    );
    const wh = lstatSync(join(dir, 'etc/motd'));
    expect(wh.isCharacterDevice()).toBe(true);
    expect(wh.rdev).toBe(0);
    expect(xattr(join(dir, 'etc'), 'trusted.overlay.opaque').toString()).toBe('y');
    // The opaque marker re-declares etc/ without losing its own attributes.
    const etc = lstatSync(join(dir, 'etc'));
    expect([etc.mode & 0o7777, etc.uid, etc.gid]).toEqual([0o750, 100_000, 100_042]);
    expect(readdirSync(join(dir, 'etc'))).toEqual(['motd']);
    expect(readdirSync(join(dir, 'var'))).toEqual([]);
  });

  it('shifts owners, keeps modes, mtimes, symlinks and hard links', async () => {
    const mtime = new Date('2021-05-06T07:08:09Z');
    const dir = await unpackTar(
      await buildTar([
        { name: 'home/alice/notes', data: 'hi', uid: 1000, gid: 1000, mode: 0o600, mtime },
        { name: 'usr/bin/tool', data: '#!/bin/sh\n', mode: 0o755 },
        { name: 'bin', type: 'symlink', linkname: '/usr/bin' },
        { name: 'usr/bin/alias', type: 'link', linkname: 'usr/bin/tool' },
      ]),
    );
    const notes = lstatSync(join(dir, 'home/alice/notes'));
    expect([notes.uid, notes.gid, notes.mode & 0o7777]).toEqual([101_000, 101_000, 0o600]);
    expect(notes.mtime.toISOString()).toBe(mtime.toISOString());
    // Parents missing from the tar are created owned by the container's root, like Docker does.
    expect(lstatSync(join(dir, 'home/alice')).uid).toBe(100_000);
    expect(readlinkSync(join(dir, 'bin'))).toBe('/usr/bin');
    expect(lstatSync(join(dir, 'bin')).uid).toBe(100_000);
    expect(lstatSync(join(dir, 'usr/bin/alias')).ino).toBe(lstatSync(join(dir, 'usr/bin/tool')).ino);
  });

  it('keeps binary xattrs byte for byte (security.capability, user.*)', async () => {
    // cap_net_raw in a VFS_CAP_REVISION_2 capability set, as ping carries it.
    const cap = Buffer.alloc(20);
    cap.writeUInt32LE(0x02000001, 0);
    cap.writeUInt32LE(1 << 13, 4);
    const binary = Buffer.from([0xff, 0x00, 0x80, 0x0a]);
    const header = encodeEntry({
      type: 'file',
      path: 'bin/ping',
      mode: 0o755,
      uid: 0,
      gid: 0,
      size: 3,
      mtime: 0,
      xattrs: new Map([
        ['security.capability', cap],
        ['user.binary', binary],
      ]),
    });
    const data = Buffer.alloc(512);
    data.write('elf');
    const dir = await unpackTar(Buffer.concat([header, data, END_OF_ARCHIVE]));
    expect(xattr(join(dir, 'bin/ping'), 'security.capability')).toEqual(cap);
    expect(xattr(join(dir, 'bin/ping'), 'user.binary')).toEqual(binary);
  });

  it('reads what GNU tar writes in gnu and posix formats (long names, xattrs)', async () => {
    const src = join(t.root, 'gnu-src');
    const long = `${'long-directory-name/'.repeat(8)}${'f'.repeat(120)}`;
    mkdirSync(join(src, long, '..'), { recursive: true });
    execFileSync('sh', [
      '-c',
      `printf data > '${join(src, long)}' && ln -s '${'t'.repeat(150)}' '${join(src, 'sym')}'`,
    ]);
    execFileSync('setfattr', ['-n', 'user.note', '-v', 'hello', join(src, long)]);
    for (const format of ['gnu', 'posix']) {
      const tarBytes = execFileSync('tar', [`--format=${format}`, '--xattrs', '-C', src, '-cf', '-', '.']);
      const dir = await unpackTar(tarBytes, 'zstd');
      expect(readFileSync(join(dir, long), 'utf8')).toBe('data');
      expect(readlinkSync(join(dir, 'sym'))).toBe('t'.repeat(150));
      if (format === 'posix') expect(xattr(join(dir, long), 'user.note').toString()).toBe('hello');
    }
  });

  it('hashes the uncompressed stream to the diff_id, whatever the compression', async () => {
    const tarBytes = await buildTar([{ name: 'a', data: 'abc' }]);
    for (const compression of ['gzip', 'zstd', 'none'] as const) {
      const target = join(t.root, `hash-${compression}`);
      const result = await unpackLayer(
        ctx,
        Readable.from([compress(tarBytes, compression)]),
        compression,
        target,
      );
      expect(result).toEqual({ diffId: sha256(tarBytes), size: 3, entries: 1 });
    }
  });

  it("reports GNU tar's own failures as a StoreError with its message", async () => {
    const target = join(t.root, 'immutable');
    mkdirSync(join(target, 'd'), { recursive: true });
    execFileSync('chattr', ['+i', join(target, 'd')]);
    try {
      const tarBytes = await buildTar([{ name: 'd/f', data: 'x' }]);
      const err = await unpackLayer(ctx, Readable.from([tarBytes]), 'none', target).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as Error).message).toMatch(/unpacking layer: tar exited with 2: .*Operation not permitted/);
    } finally {
      execFileSync('chattr', ['-i', join(target, 'd')]);
    }
  });

  it('refuses a layer whose diff_id does not match and keeps nothing of it', async () => {
    const tarBytes = await buildTar([{ name: 'a', data: 'abc' }]);
    const wrong = sha256('something else');
    const layer = await storeLayer(compress(tarBytes, 'gzip'), 'gzip', wrong);
    await expect(ensureLayer(ctx, layer)).rejects.toThrow(/diff_id\): digest mismatch/);
    expect(await layerExists(ctx, wrong)).toBe(false);
    expect(layerDirs().filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  });

  it('lets concurrent callers share one unpack and records layer.json', async () => {
    const tarBytes = await buildTar([{ name: 'shared', data: 'x'.repeat(1000) }]);
    const layer = await storeLayer(compress(tarBytes, 'gzip'), 'gzip', sha256(tarBytes));
    const dirs = await Promise.all([
      ensureLayer(ctx, layer),
      ensureLayer(ctx, layer),
      ensureLayer(ctx, layer),
    ]);
    expect(new Set(dirs).size).toBe(1);
    const info = await readLayerInfo(ctx, layer.diffId);
    expect(info).toMatchObject({
      diffId: layer.diffId,
      digest: layer.descriptor.digest,
      size: 1000,
      entries: 1,
    });
    await removeLayer(ctx, layer.diffId);
    expect(await layerExists(ctx, layer.diffId)).toBe(false);
  });

  it('leaves only a temp dir when killed mid-unpack, and cleans it up', async () => {
    // Incompressible content, so the trickled blob takes seconds to arrive and the kill lands mid-unpack.
    const entries: EntrySpec[] = Array.from({ length: 400 }, (_, i) => ({
      name: `d${i % 20}/f${i}`,
      data: i === 7 ? Buffer.alloc(8192, 7) : randomBytes(8192),
    }));
    const tarBytes = await buildTar(entries);
    const layer = await storeLayer(compress(tarBytes, 'gzip'), 'gzip', sha256(tarBytes));
    // A separate engine process that unpacks slowly (its source trickles in), killed with SIGKILL.
    const script = `
      import { Readable } from 'node:stream';
      import { setTimeout as sleep } from 'node:timers/promises';
      import { createContext } from ${JSON.stringify(new URL('../../engine/context.ts', import.meta.url).pathname)};
      import { unpackLayer } from ${JSON.stringify(new URL('../../engine/layer/unpack.ts', import.meta.url).pathname)};
      import { readFileSync } from 'node:fs';
      const ctx = createContext(process.argv[1], { config: JSON.parse(process.argv[2]) });
      const blob = readFileSync(process.argv[3]);
      async function* trickle() { for (let i = 0; i < blob.length; i += 4096) { yield blob.subarray(i, i + 4096); await sleep(20); } }
      console.log('started');
      await unpackLayer(ctx, Readable.from(trickle()), 'gzip', process.argv[4]);
    `;
    const tmp = join(ctx.paths.layers, '.tmp-killed-test');
    const blobFile = join(ctx.paths.blobs, 'sha256', layer.descriptor.digest.slice(7));
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        script,
        ctx.root,
        JSON.stringify(ctx.config),
        blobFile,
        join(tmp, 'diff'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      closed.then(() => reject(new Error(`unpacker exited early: ${stderr}`)));
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(child.exitCode).toBeNull(); // still unpacking: the kill below interrupts it
    child.kill('SIGKILL');
    await closed;
    // Its GNU tar outlives it until it reads EOF on the pipe; wait for that orphan to finish.
    for (let i = 0; i < 100 && tarStillRunning(tmp); i++) await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(tmp)).toEqual(['diff']);
    expect(await layerExists(ctx, layer.diffId)).toBe(false);
    expect(await cleanupLayerTemps(ctx, { olderThanMs: 0 })).toBeGreaterThanOrEqual(1);
    expect(layerDirs().filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    const dir = await ensureLayer(ctx, layer);
    expect(readFileSync(join(dir, 'd7/f7'))).toEqual(Buffer.alloc(8192, 7));
  });
});

describe('round trip (property)', () => {
  const name = fc.constantFrom('a', 'b', 'c', 'dir', 'ünï', 'x'.repeat(120));
  const file = fc.record({
    path: fc.array(name, { minLength: 1, maxLength: 4 }),
    data: fc.uint8Array({ maxLength: 3000 }),
    mode: fc.constantFrom(0o644, 0o600, 0o755, 0o4755, 0o444),
    uid: fc.integer({ min: 0, max: 65535 }),
  });

  it('unpacks random well-formed trees to the same contents', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(file, { maxLength: 12 }), async (files) => {
        // Keep a consistent tree: a path that is some other file's directory cannot be a file too.
        const { byPath, parents: dirs } = treeOf(files);
        const kept = [...byPath.entries()].filter(([p]) => !dirs.has(p));
        const tarBytes = await buildTar(
          kept.map(([p, f]) => ({
            name: p,
            data: Buffer.from(f.data),
            mode: f.mode,
            uid: f.uid,
            gid: f.uid,
          })),
        );
        const target = join(t.root, `prop-${run++}`);
        const result = await unpackLayer(ctx, Readable.from([compress(tarBytes, 'gzip')]), 'gzip', target);
        expect(result.diffId).toBe(sha256(tarBytes));
        for (const [p, f] of kept) {
          const path = join(target, p);
          expect(readFileSync(path)).toEqual(Buffer.from(f.data));
          const st = lstatSync(path);
          expect([st.mode & 0o7777, st.uid]).toEqual([f.mode, f.uid + 100_000]);
        }
      }),
      { numRuns: 25 },
    );
  });
});
