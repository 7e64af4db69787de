// Paths inside a container rootfs resolve symlinks against the container's root, never the host's.
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirInRootfs, readRootfsFile } from '../../engine/container/rootfs-path.ts';

const root = mkdtempSync(join(tmpdir(), 'layerlab-rootfs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('readRootfsFile', () => {
  mkdirSync(join(root, 'real/etc'), { recursive: true });
  writeFileSync(join(root, 'real/etc/passwd'), 'inside\n');
  symlinkSync('/real/etc', join(root, 'etc'));
  symlinkSync('../../../../../../etc/hostname', join(root, 'escape'));
  symlinkSync('/etc/passwd', join(root, 'abs'));

  it('follows absolute symlinks from the container root', () => {
    expect(readRootfsFile(root, '/etc/passwd')).toBe('inside\n');
    expect(readRootfsFile(root, '/abs')).toBe('inside\n');
  });

  it('stops .. at the container root', () => {
    expect(readRootfsFile(root, '/escape')).toBeUndefined();
    expect(readRootfsFile(root, '/../../../real/etc/passwd')).toBe('inside\n');
  });

  it('gives undefined for a missing file', () => {
    expect(readRootfsFile(root, '/etc/group')).toBeUndefined();
    expect(readRootfsFile(root, 'real/etc/passwd')).toBe('inside\n');
  });
});

describe('mkdirInRootfs', () => {
  it('makes the working directory through the container’s own symlinks, never the host’s', () => {
    const uid = process.getuid?.() ?? 0;
    mkdirInRootfs(root, '/etc/app/data', { uid, gid: uid });
    expect(statSync(join(root, 'real/etc/app/data')).isDirectory()).toBe(true);
    // A symlink to a host directory names a directory of the rootfs, which is missing here.
    const host = mkdtempSync(join(tmpdir(), 'layerlab-host-'));
    symlinkSync(host, join(root, 'hostdir'));
    expect(() => mkdirInRootfs(root, '/hostdir/x', { uid, gid: uid })).toThrow(/not a directory/);
    expect(() => statSync(join(host, 'x'))).toThrow(/ENOENT/);
    rmSync(host, { recursive: true });
  });
});
