// engine/fs/in-root.ts, the one way the engine and the server read a tree a container controls:
// symlinks in every component, `..`, absolute symlinks, magic links, a symlink as the last component,
// another mount on the way. Each is refused or described, never followed out of the tree; and the
// callers built on it (the overlay lookup, the passwd lookup for `exec -u`) say "not there".

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirInRootfs, readRootfsFile } from '../../engine/container/rootfs-path.ts';
import { relativeInRoot, Tree, withTree } from '../../engine/fs/in-root.ts';
import { findPathOrigin } from '../../engine/inspect/which-layer.ts';
import { readContentIn } from '../../server/pictures/files.ts';

const base = mkdtempSync(join(tmpdir(), 'layerlab-in-root-'));
/** The host's side: a directory with a file only root may read. */
const host = join(base, 'host');
/** The container's tree. */
const root = join(base, 'root');
let tree: Tree;
const SECRET = 'host secret\n';

beforeAll(() => {
  mkdirSync(host);
  writeFileSync(join(host, 'secret'), SECRET, { mode: 0o600 });
  mkdirSync(join(root, 'real/etc'), { recursive: true });
  writeFileSync(join(root, 'real/etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(root, 'secret'), 'the tree’s own\n');
  symlinkSync(host, join(root, 'abs')); // absolute, to a host directory
  symlinkSync(`${'../'.repeat(12)}${host.slice(1)}`, join(root, 'rel')); // relative, climbing out
  symlinkSync('/real/etc', join(root, 'etc')); // absolute, inside the tree as the container sees it
  symlinkSync('/proc/self/root', join(root, 'magic')); // the host's root through a magic link
  symlinkSync(`${host}/secret`, join(root, 'last')); // a symlink as the last component
  mkdirSync(join(root, 'real/deep/er'), { recursive: true });
  symlinkSync(host, join(root, 'real/deep/er/link')); // a symlink deep down
  tree = Tree.open(root)!;
});

afterAll(() => {
  tree?.close();
  rmSync(base, { recursive: true, force: true });
});

const escapes = [
  'abs/secret',
  'rel/secret',
  `magic${host}/secret`,
  'real/deep/er/link/secret',
  `../../../../../../../../..${host}/secret`,
  `/../../../../../../../../..${host}/secret`,
  `real/../../../../../../../..${host}/secret`,
];

describe('Tree, no symlink followed (entry resolution)', () => {
  it('refuses a symlink in any component, absolute, relative, deep or magic', () => {
    for (const path of escapes) {
      expect(tree.readFile(path, 1024), path).toBeUndefined();
      expect(tree.lstat(path), path).toBeUndefined();
      expect(tree.readdir(path.replace(/\/secret$/, '')), path).toBeUndefined();
    }
  });

  it('describes a symlink as the last component, and never reads through it', () => {
    expect(tree.lstat('last')?.isSymbolicLink()).toBe(true);
    expect(tree.readlink('last')).toBe(`${host}/secret`);
    expect(tree.readFile('last', 1024)).toBeUndefined();
    expect(tree.readdir('abs')).toBeUndefined();
    expect(tree.readlink('magic')).toBe('/proc/self/root');
  });

  it('keeps `..` and absolute paths at the tree’s root', () => {
    expect(relativeInRoot('/../../secret')).toBe('secret');
    expect(tree.readFile('/../../../secret', 1024)?.bytes.toString()).toBe('the tree’s own\n');
    expect(tree.readFile('../../secret', 1024)?.bytes.toString()).toBe('the tree’s own\n');
    expect(tree.readFile('/real/etc/passwd', 1024)?.bytes.toString()).toMatch(/^root:/);
    expect(tree.readFile('etc/passwd', 1024)).toBeUndefined(); // /etc is a symlink
  });

  it('caps what it reads', () => {
    const file = tree.readFile('secret', 4);
    expect(file?.bytes.toString()).toBe('the ');
    expect(file?.size).toBe(Buffer.byteLength('the tree’s own\n'));
  });
});

describe('Tree, symlinks followed as the container would (container resolution)', () => {
  it('follows symlinks inside the tree and never out of it', () => {
    expect(tree.readFile('etc/passwd', 1024, 'container')?.bytes.toString()).toMatch(/^root:/);
    for (const path of escapes) expect(tree.readFile(path, 1024, 'container'), path).toBeUndefined();
    // An absolute symlink restarts at the tree's root: /abs means <root>/<host path>, absent.
    expect(tree.stat('abs')).toBeUndefined();
    expect(tree.readFile('last', 1024, 'container')).toBeUndefined();
  });

  it('refuses to cross into another mount', () => {
    const mnt = join(root, 'mnt');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', mnt]);
    try {
      writeFileSync(join(mnt, 'f'), 'on another mount\n');
      expect(tree.readFile('mnt/f', 1024)).toBeUndefined();
      expect(tree.readFile('mnt/f', 1024, 'container')).toBeUndefined();
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

describe('the callers', () => {
  it('the overlay lookup and the content read say "not there" for a path through a symlink', () => {
    expect(findPathOrigin([root], `/abs/secret`)).toEqual({ found: false });
    expect(findPathOrigin([root], '/last')).toMatchObject({ found: true, kind: 'symlink' });
    expect(readContentIn(root, '/last')).toEqual({ kind: 'symlink', target: `${host}/secret` });
    expect(readContentIn(root, '/abs/secret')).toBeNull();
    expect(readContentIn(root, `/../../../../../../..${host}/secret`)).toBeNull();
  });

  it('the passwd lookup for `exec -u` reads the container’s file, never the host’s', () => {
    expect(readRootfsFile(root, '/etc/passwd')).toMatch(/^root:/);
    expect(readRootfsFile(root, '/abs/secret')).toBeUndefined();
    expect(readRootfsFile(root, '/magic/etc/passwd')).toBeUndefined();
    expect(() => mkdirInRootfs(root, '/abs/made', { uid: 0, gid: 0 })).toThrow(/not a directory/);
    expect(withTree(host, (h) => h?.readdir('/'))).toEqual(['secret']);
  });
});
