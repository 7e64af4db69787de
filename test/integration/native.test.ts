// The system-call layer (koffi libc bindings) and the overlay rootfs on the real kernel: mounts,
// xattrs on symlinks, whiteout devices, typed errors, many-layer mounts, scratch, size caps.

import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMountPoint } from '../../engine/host/mounts.ts';
import { mountRootfs, unmountOverlay, unmountRootfs } from '../../engine/runtime/overlay.ts';
import {
  lgetxattr,
  llistxattr,
  lsetxattr,
  MS,
  makedev,
  mknod,
  mount,
  SysError,
  umount2,
} from '../../engine/sys/libc.ts';
import { freshContext, type TestContext } from '../support/context.ts';

let t: TestContext;
let scratch: string;

beforeAll(() => {
  t = freshContext();
  scratch = join(t.root, 'scratch');
  mkdirSync(scratch);
  mount('tmpfs', scratch, 'tmpfs', MS.NOSUID | MS.NODEV, 'size=4m');
});

afterAll(async () => {
  for (const dir of ['a', 'b', 'c', 'd']) await unmountRootfs(join(t.root, 'containers', dir));
  if (isMountPoint(scratch)) umount2(scratch);
  t.cleanup();
});

describe('libc bindings', () => {
  it('mounts and unmounts', () => {
    expect(isMountPoint(scratch)).toBe(true);
    const inner = join(scratch, 'inner');
    mkdirSync(inner);
    mount('tmpfs', inner, 'tmpfs', 0, 'size=1m');
    expect(isMountPoint(inner)).toBe(true);
    umount2(inner);
    expect(isMountPoint(inner)).toBe(false);
  });

  it('reports errno by name with the path', () => {
    const missing = join(scratch, 'not-a-mount');
    mkdirSync(missing);
    let error: unknown;
    try {
      umount2(missing);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SysError);
    expect(error).toMatchObject({ errno: 'EINVAL', syscall: 'umount2', input: missing });
    expect((error as Error).message).toBe(`umount2 ${missing}: EINVAL (invalid argument)`);
    expect(() => mount(null, join(scratch, 'nope'), 'tmpfs')).toThrow(/ENOENT/);
  });

  it('sets, lists and reads xattrs of a symlink itself', () => {
    const link = join(scratch, 'link');
    symlinkSync('/nowhere', link);
    lsetxattr(link, 'trusted.layerlab', 'v1');
    lsetxattr(link, 'trusted.overlay.opaque', Buffer.from('y'));
    expect(llistxattr(link).sort()).toEqual(['trusted.layerlab', 'trusted.overlay.opaque']);
    expect(lgetxattr(link, 'trusted.layerlab')?.toString()).toBe('v1');
    expect(lgetxattr(link, 'trusted.absent')).toBeUndefined();
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it('makes an overlay whiteout: a 0:0 character device', () => {
    const whiteout = join(scratch, 'gone');
    mknod(whiteout, 0o020000 | 0o600, makedev(0, 0));
    const st = statSync(whiteout);
    expect(st.isCharacterDevice()).toBe(true);
    expect(st.rdev).toBe(0);
    expect(makedev(1, 3)).toBe(0x103n);
  });
});

describe('the overlay rootfs', () => {
  function layer(name: string, files: Record<string, string>): string {
    const dir = join(t.root, 'layers', name);
    mkdirSync(dir, { recursive: true });
    for (const [path, content] of Object.entries(files)) writeFileSync(join(dir, path), content);
    return dir;
  }

  it('stacks layers top first, writes to the tmpfs upper, and survives an overlay remount', async () => {
    const lower = layer('base', { 'a.txt': 'base\n', 'b.txt': 'base\n' });
    const upperLayer = layer('top', { 'a.txt': 'top\n' });
    const containerDir = join(t.root, 'containers', 'a');
    const options = {
      lowerDirs: [upperLayer, lower],
      containerDir,
      sizeBytes: 1024 * 1024,
      rootUid: 100_000,
    };
    const paths = await mountRootfs(options);
    expect(readFileSync(join(paths.merged, 'a.txt'), 'utf8')).toBe('top\n');
    expect(readFileSync(join(paths.merged, 'b.txt'), 'utf8')).toBe('base\n');
    expect(statSync(paths.upper).uid).toBe(100_000);
    expect(statSync(paths.upper).mode & 0o777).toBe(0o755);
    writeFileSync(join(paths.merged, 'new.txt'), 'new\n');
    expect(readFileSync(join(paths.upper, 'new.txt'), 'utf8')).toBe('new\n');
    expect(existsSync(join(lower, 'new.txt'))).toBe(false);

    await unmountOverlay(containerDir);
    expect(isMountPoint(paths.merged)).toBe(false);
    expect(isMountPoint(paths.rw)).toBe(true); // the changes live on
    await mountRootfs(options);
    expect(readFileSync(join(paths.merged, 'new.txt'), 'utf8')).toBe('new\n');

    await unmountRootfs(containerDir);
    await unmountRootfs(containerDir); // idempotent
    expect(existsSync(paths.rw)).toBe(false);
    expect(existsSync(paths.merged)).toBe(false);
  });

  it('caps the container disk at the tmpfs size', async () => {
    const containerDir = join(t.root, 'containers', 'b');
    const paths = await mountRootfs({ lowerDirs: [], containerDir, sizeBytes: 256 * 1024, rootUid: 100_000 });
    expect(() => writeFileSync(join(paths.merged, 'big'), Buffer.alloc(1024 * 1024))).toThrow(/ENOSPC/);
  });

  it('mounts an image with no layers (scratch) over an empty lower', async () => {
    const containerDir = join(t.root, 'containers', 'c');
    const paths = await mountRootfs({
      lowerDirs: [],
      containerDir,
      sizeBytes: 1024 * 1024,
      rootUid: 100_000,
    });
    expect(isMountPoint(paths.merged)).toBe(true);
    writeFileSync(join(paths.merged, 'only'), 'x');
    expect(readFileSync(join(paths.upper, 'only'), 'utf8')).toBe('x');
  });

  it('mounts more layers than fit in one page of options, through short relative links', async () => {
    const lowers: string[] = [];
    for (let i = 0; i < 120; i++) {
      // Long names, as real layer dirs are: layers/<64 hex>/diff.
      lowers.push(layer(`${i.toString().padStart(3, '0')}${'f'.repeat(61)}/diff`, { [`f${i}`]: `${i}\n` }));
    }
    expect(lowers.join(':').length).toBeGreaterThan(4096);
    const containerDir = join(t.root, 'containers', 'd');
    const cwd = process.cwd();
    const paths = await mountRootfs({
      lowerDirs: lowers,
      containerDir,
      sizeBytes: 1024 * 1024,
      rootUid: 100_000,
    });
    expect(process.cwd()).toBe(cwd);
    expect(readFileSync(join(paths.merged, 'f0'), 'utf8')).toBe('0\n');
    expect(readFileSync(join(paths.merged, 'f119'), 'utf8')).toBe('119\n');
  });
});
