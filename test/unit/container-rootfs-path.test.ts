// Paths inside a container rootfs resolve symlinks against the container's root, never the host's.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readRootfsFile, resolveInRootfs } from '../../engine/container/rootfs-path.ts';

const root = mkdtempSync(join(tmpdir(), 'layerlab-rootfs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('resolveInRootfs', () => {
  mkdirSync(join(root, 'real/etc'), { recursive: true });
  writeFileSync(join(root, 'real/etc/passwd'), 'inside\n');
  symlinkSync('/real/etc', join(root, 'etc'));
  symlinkSync('../../../../../../etc/hostname', join(root, 'escape'));
  symlinkSync('/etc/passwd', join(root, 'abs'));

  it('follows absolute symlinks from the container root', () => {
    expect(resolveInRootfs(root, '/etc/passwd')).toBe(join(root, 'real/etc/passwd'));
    expect(readRootfsFile(root, '/abs')).toBe('inside\n');
  });

  it('stops .. at the container root', () => {
    expect(resolveInRootfs(root, '/escape')).toBe(join(root, 'etc/hostname').replace('/etc/', '/real/etc/'));
    expect(readRootfsFile(root, '/escape')).toBeUndefined();
  });

  it('gives undefined for a missing file', () => {
    expect(readRootfsFile(root, '/etc/group')).toBeUndefined();
    expect(readFileSync(resolveInRootfs(root, 'real/etc/passwd'), 'utf8')).toBe('inside\n');
  });
});
