// The in-process extractor (engine/layer/extract.ts) against GNU tar: the same layer unpacked both
// ways must give the same tree — types, modes, owners, mtimes, contents, link targets, hard links,
// whiteouts and xattrs — and the store writes small layers in-process, large ones with GNU tar.

import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreError } from '../../engine/errors.ts';
import { encodeEntry } from '../../engine/layer/tar-format.ts';
import { IN_PROCESS_BYTES, IN_PROCESS_ENTRIES, unpackLayer } from '../../engine/layer/unpack.ts';
import { sha256 } from '../../engine/oci/digest.ts';
import { lgetxattr, llistxattr } from '../../engine/sys/libc.ts';
import { treeOf } from '../fuzz/tar-arbitraries.ts';
import { freshContext } from '../support/context.ts';
import { acceptedOddities, buildTar, compress, type EntrySpec } from '../support/hostile-tars.ts';

const t = freshContext();
afterAll(() => t.cleanup());
let n = 0;

/** Every node under `dir`: what GNU tar and the extractor must agree on. */
function snapshot(dir: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const inodes = new Map<number, string>();
  const walk = (rel: string) => {
    const path = rel === '' ? dir : join(dir, rel);
    const st = lstatSync(path);
    const xattrs = Object.fromEntries(
      llistxattr(path)
        .sort()
        .map((name) => [name, lgetxattr(path, name)?.toString('hex')]),
    );
    const node: Record<string, unknown> = {
      mode: st.mode,
      uid: st.uid,
      gid: st.gid,
      mtimeMs: rel === '' ? undefined : st.mtimeMs,
      rdev: st.rdev,
      xattrs,
    };
    if (st.isFile()) {
      node.content = readFileSync(path).toString('hex');
      // Hard links: the first name of an inode stands for it.
      node.sameAs = inodes.get(st.ino);
      if (!inodes.has(st.ino)) inodes.set(st.ino, rel);
    }
    if (st.isSymbolicLink()) node.target = readlinkSync(path);
    out[rel] = node;
    if (st.isDirectory())
      for (const name of readdirSync(path).sort()) walk(rel === '' ? name : `${rel}/${name}`);
  };
  walk('');
  return out;
}

/** Unpacks `tarBytes` with GNU tar and in-process; returns both trees. */
async function bothWays(
  tarBytes: Buffer,
): Promise<{ tar: Record<string, unknown>; inProcess: Record<string, unknown> }> {
  const trees: Record<string, unknown>[] = [];
  for (const inProcessBytes of [0, 1 << 30]) {
    const target = join(t.root, `x${n++}`);
    const result = await unpackLayer(t.ctx, Readable.from([compress(tarBytes, 'gzip')]), 'gzip', target, {
      inProcessBytes,
    });
    expect(result.diffId).toBe(sha256(tarBytes));
    trees.push(snapshot(target));
  }
  return { tar: trees[0]!, inProcess: trees[1]! };
}

describe('in-process extraction matches GNU tar', () => {
  it('files, directories, symlinks and hard links with their owners, modes and mtimes', async () => {
    const mtime = new Date('2021-05-06T07:08:09Z');
    const { tar, inProcess } = await bothWays(
      await buildTar([
        { name: 'etc/', type: 'directory', mode: 0o750, uid: 0, gid: 42, mtime },
        { name: 'etc/hostname', data: 'layerlab\n', mode: 0o644, mtime },
        { name: 'home/alice/notes', data: 'hi', uid: 1000, gid: 1000, mode: 0o600, mtime },
        { name: 'tmp/', type: 'directory', mode: 0o1777 },
        { name: 'usr/bin/tool', data: '#!/bin/sh\n', mode: 0o755 },
        { name: 'usr/bin/su', data: 'su', mode: 0o4755 },
        { name: 'usr/bin/alias', type: 'link', linkname: 'usr/bin/tool' },
        { name: 'bin', type: 'symlink', linkname: '/usr/bin' },
        { name: 'empty', data: '' },
      ]),
    );
    expect(inProcess).toEqual(tar);
    expect(Object.keys(tar)).toContain('usr/bin/alias');
  });

  it('whiteouts, opaque directories and binary xattrs', async () => {
    const cap = Buffer.alloc(20);
    cap.writeUInt32LE(0x02000001, 0);
    cap.writeUInt32LE(1 << 13, 4);
    const withXattrs = encodeEntry({
      type: 'file',
      path: 'bin/ping',
      mode: 0o755,
      uid: 0,
      gid: 0,
      size: 3,
      mtime: 1_700_000_000,
      xattrs: new Map([
        ['security.capability', cap],
        ['user.binary', Buffer.from([0xff, 0x00, 0x80])],
      ]),
    });
    const data = Buffer.alloc(512);
    data.write('elf');
    const rest = await buildTar([
      { name: 'etc/', type: 'directory', mode: 0o750, uid: 0, gid: 42 },
      { name: 'etc/.wh.motd' },
      { name: 'etc/.wh..wh..opq' },
      { name: 'var/.wh..wh.plnk' },
      { name: '.wh.gone' },
    ]);
    const { tar, inProcess } = await bothWays(Buffer.concat([withXattrs, data, rest]));
    expect(inProcess).toEqual(tar);
    expect((tar['etc/motd'] as { rdev: number }).rdev).toBe(0);
    expect(Object.keys((tar.etc as { xattrs: object }).xattrs)).toContain('trusted.overlay.opaque');
  });

  it('duplicates, absolute paths and other accepted oddities', async () => {
    const odd = await acceptedOddities();
    for (const [name, tarBytes] of Object.entries(odd)) {
      const { tar, inProcess } = await bothWays(tarBytes);
      expect(inProcess, name).toEqual(tar);
    }
  });

  it('long names and PAX fractional mtimes', async () => {
    const long = `${'long-directory-name/'.repeat(8)}${'f'.repeat(120)}`;
    const { tar, inProcess } = await bothWays(
      await buildTar([
        { name: long, data: 'data', pax: { mtime: '1700000000.25' } },
        { name: 'sym', type: 'symlink', linkname: 't'.repeat(150) },
        { name: 'ünï/çødé', data: 'utf-8 names' },
      ]),
    );
    expect(inProcess).toEqual(tar);
  });

  it('random trees (property)', async () => {
    const name = fc.constantFrom('a', 'b', 'dir', 'ünï', 'x'.repeat(120));
    const entry = fc.record({
      path: fc.array(name, { minLength: 1, maxLength: 3 }),
      kind: fc.constantFrom('file', 'symlink', 'dir'),
      data: fc.uint8Array({ maxLength: 2000 }),
      mode: fc.constantFrom(0o644, 0o600, 0o755, 0o4755, 0o1777),
      uid: fc.integer({ min: 0, max: 65535 }),
      mtime: fc.integer({ min: 0, max: 2_000_000_000 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { maxLength: 10 }), async (entries) => {
        // A consistent tree: nothing is both a directory (of another entry, or declared) and not.
        const { byPath, parents } = treeOf(entries);
        // In path order, as image tools write layers: each directory's entries together. (GNU tar
        // sets a directory's time when the stream leaves it, so a stream that comes back leaves it
        // "now"; the extractor sets every directory's time at the end, as Docker does.)
        const specs: EntrySpec[] = [...byPath.entries()]
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .filter(([p, e]) => e.kind === 'dir' || !parents.has(p))
          .map(([p, e]) => ({
            name: e.kind === 'dir' ? `${p}/` : p,
            type: e.kind === 'dir' ? 'directory' : e.kind,
            mode: e.mode,
            uid: e.uid,
            gid: e.uid,
            mtime: new Date(e.mtime * 1000),
            ...(e.kind === 'file' ? { data: Buffer.from(e.data) } : {}),
            ...(e.kind === 'symlink' ? { linkname: '../target' } : {}),
          }));
        const { tar, inProcess } = await bothWays(await buildTar(specs));
        expect(inProcess).toEqual(tar);
      }),
      { numRuns: 20 },
    );
  });
});

describe('which extractor the store uses', () => {
  /** Unpacks into a target whose `d/` is immutable, so the first write under it fails, and says how. */
  async function failureOf(entries: EntrySpec[]): Promise<string> {
    const target = join(t.root, `immutable-${n++}`);
    mkdirSync(join(target, 'd'), { recursive: true });
    execFileSync('chattr', ['+i', join(target, 'd')]);
    try {
      const tarBytes = await buildTar(entries);
      const err = await unpackLayer(t.ctx, Readable.from([tarBytes]), 'none', target, {
        inProcessBytes: IN_PROCESS_BYTES,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      return (err as Error).message;
    } finally {
      execFileSync('chattr', ['-i', join(target, 'd')]);
    }
  }

  it('writes a small layer in-process, naming the entry that failed', async () => {
    // The filter declares the parent `d` first: changing its owner is what fails.
    expect(await failureOf([{ name: 'd/f', data: 'x' }])).toMatch(/^unpacking layer: d: EPERM/);
  });

  it('hands a large layer to GNU tar', async () => {
    const big = Buffer.alloc(IN_PROCESS_BYTES + 1, 1);
    expect(
      await failureOf([
        { name: 'a', data: big },
        { name: 'd/f', data: 'x' },
      ]),
    ).toMatch(/^unpacking layer: tar exited with 2: .*Operation not permitted/);
  });

  it('hands a layer of many entries to GNU tar', async () => {
    const many: EntrySpec[] = Array.from({ length: IN_PROCESS_ENTRIES + 1 }, (_, i) => ({
      name: `f${i}`,
      data: '',
    }));
    expect(await failureOf([...many, { name: 'd/f', data: 'x' }])).toMatch(
      /^unpacking layer: tar exited with 2/,
    );
  });
});
