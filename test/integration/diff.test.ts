// diffUpper and tarUpper over hand-made overlay upper dirs: real whiteout devices and trusted.overlay
// xattrs (root), and a real overlay mount to check the kernel's own markings read back right.

import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { engineConfigSchema } from '../../engine/config.ts';
import { createContext } from '../../engine/context.ts';
import { diffUpper, formatChanges } from '../../engine/layer/diff.ts';
import { tarUpper } from '../../engine/layer/upper-tar.ts';
import { lsetxattr, makedev, mknod, mount, umount2 } from '../../engine/sys/libc.ts';

const base = mkdtempSync(join(tmpdir(), 'layerlab-diff-'));
afterAll(() => {
  try {
    umount2(join(base, 'mnt', 'merged'), 2);
  } catch {}
  rmSync(base, { recursive: true, force: true });
});

let n = 0;
function scratch(): { upper: string; lower1: string; lower2: string } {
  const dir = join(base, `s${n++}`);
  const upper = join(dir, 'upper');
  const lower1 = join(dir, 'lower1');
  const lower2 = join(dir, 'lower2');
  for (const d of [upper, lower1, lower2]) mkdirSync(d, { recursive: true });
  return { upper, lower1, lower2 };
}

function whiteout(path: string): void {
  mknod(path, 0o20000 | 0o000, makedev(0, 0)); // S_IFCHR, device 0/0
}

function opaque(path: string): void {
  lsetxattr(path, 'trusted.overlay.opaque', 'y');
}

interface TarEntry {
  name: string;
  type: string;
  size: number;
  pax?: Record<string, string>;
  linkname?: string | null;
  uid: number;
  mtime?: Date;
  data: string;
}

async function readTar(stream: NodeJS.ReadableStream): Promise<TarEntry[]> {
  const extract = tar.extract();
  const out: TarEntry[] = [];
  stream.pipe(extract as unknown as NodeJS.WritableStream);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    const h = entry.header as tar.Header & { pax?: Record<string, string> };
    out.push({
      name: h.name,
      type: h.type,
      size: h.size,
      ...(h.pax ? { pax: h.pax } : {}),
      linkname: h.linkname,
      uid: h.uid,
      mtime: h.mtime,
      data: Buffer.concat(chunks).toString(),
    });
  }
  return out;
}

describe('diffUpper', () => {
  it('reports adds, changes with their parents, and deletes in Docker order', () => {
    const { upper, lower1, lower2 } = scratch();
    // image: /etc/passwd, /etc/motd, /etc/ssl/cert (lower2, the base), /usr/bin/x (lower1, on top)
    mkdirSync(join(lower2, 'etc/ssl'), { recursive: true });
    writeFileSync(join(lower2, 'etc/passwd'), 'root\n');
    writeFileSync(join(lower2, 'etc/motd'), 'hi\n');
    writeFileSync(join(lower2, 'etc/ssl/cert'), 'c\n');
    mkdirSync(join(lower1, 'usr/bin'), { recursive: true });
    writeFileSync(join(lower1, 'usr/bin/x'), 'x');
    // container: add /hello.txt, change /etc/passwd, delete /etc/motd, add /etc/new/deep, /etc-x
    writeFileSync(join(upper, 'hello.txt'), 'hi\n');
    mkdirSync(join(upper, 'etc/new'), { recursive: true });
    writeFileSync(join(upper, 'etc/passwd'), 'root\nx\n');
    whiteout(join(upper, 'etc/motd'));
    writeFileSync(join(upper, 'etc/new/deep'), 'd');
    writeFileSync(join(upper, 'etc-x'), 'x');
    mkdirSync(join(upper, 'usr/bin'), { recursive: true });
    whiteout(join(upper, 'usr/bin/x'));

    const changes = diffUpper(upper, [lower1, lower2]);
    expect(formatChanges(changes)).toBe(
      [
        'C /etc',
        'D /etc/motd',
        'A /etc/new',
        'A /etc/new/deep',
        'C /etc/passwd',
        'A /etc-x',
        'A /hello.txt',
        'C /usr',
        'C /usr/bin',
        'D /usr/bin/x',
        '',
      ].join('\n'),
    );
  });

  it('shows an opaque directory as C with its present entries as A', () => {
    const { upper, lower1 } = scratch();
    mkdirSync(join(lower1, 'data'));
    writeFileSync(join(lower1, 'data/old'), 'o');
    writeFileSync(join(lower1, 'data/kept'), 'k');
    mkdirSync(join(upper, 'data'));
    opaque(join(upper, 'data'));
    writeFileSync(join(upper, 'data/kept'), 'new');
    expect(diffUpper(upper, [lower1])).toEqual([
      { kind: 'C', path: '/data' },
      { kind: 'A', path: '/data/kept' },
    ]);
  });

  it('treats a path hidden by a whiteout in a higher layer as new', () => {
    const { upper, lower1, lower2 } = scratch();
    writeFileSync(join(lower2, 'f'), 'base');
    whiteout(join(lower1, 'f'));
    writeFileSync(join(upper, 'f'), 'again');
    expect(diffUpper(upper, [lower1, lower2])).toEqual([{ kind: 'A', path: '/f' }]);
  });

  it('omits a copied-up directory nothing changed in', () => {
    const { upper, lower1 } = scratch();
    mkdirSync(join(lower1, 'etc'));
    mkdirSync(join(upper, 'etc'));
    const t = new Date('2020-01-01T00:00:00Z');
    utimesSync(join(lower1, 'etc'), t, t);
    utimesSync(join(upper, 'etc'), t, t);
    expect(diffUpper(upper, [lower1])).toEqual([]);
  });

  it('reads what the kernel wrote through a real overlay mount', () => {
    const dir = join(base, 'mnt');
    const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((d) => join(dir, d)) as [
      string,
      string,
      string,
      string,
    ];
    for (const d of [lower, upper, work, merged]) mkdirSync(d, { recursive: true });
    mkdirSync(join(lower, 'etc'));
    mkdirSync(join(lower, 'var/cache'), { recursive: true });
    writeFileSync(join(lower, 'var/cache/a'), 'a');
    writeFileSync(join(lower, 'etc/passwd'), 'root\n');
    writeFileSync(join(lower, 'etc/motd'), 'motd\n');
    mount('overlay', merged, 'overlay', 0, `lowerdir=${lower},upperdir=${upper},workdir=${work}`);
    try {
      writeFileSync(join(merged, 'hello.txt'), 'hi\n');
      rmSync(join(merged, 'etc/motd'));
      writeFileSync(join(merged, 'etc/passwd'), 'root\nx\n', { flag: 'a' });
      rmSync(join(merged, 'var/cache'), { recursive: true });
      mkdirSync(join(merged, 'var/cache'));
      writeFileSync(join(merged, 'var/cache/b'), 'b');
    } finally {
      umount2(merged);
    }
    expect(formatChanges(diffUpper(upper, [lower]))).toBe(
      [
        'C /etc',
        'D /etc/motd',
        'C /etc/passwd',
        'A /hello.txt',
        'C /var',
        'C /var/cache',
        'A /var/cache/b',
        '',
      ].join('\n'),
    );
  });

  it('handles 10 000 changed files fast', () => {
    const { upper, lower1 } = scratch();
    mkdirSync(join(lower1, 'd0'));
    for (let d = 0; d < 100; d++) {
      mkdirSync(join(upper, `d${d}`));
      for (let f = 0; f < 100; f++) writeFileSync(join(upper, `d${d}`, `f${f}`), '');
    }
    const start = performance.now();
    const changes = diffUpper(upper, [lower1]);
    const ms = performance.now() - start;
    console.log(`diffUpper: ${changes.length} changes in ${ms.toFixed(1)} ms`);
    expect(changes).toHaveLength(10_100);
    expect(ms).toBeLessThan(2000);
  });
});

describe('tarUpper', () => {
  const ctx = createContext(base, { config: engineConfigSchema.parse({}) });

  it('writes OCI whiteouts, keeps user xattrs and hardlinks, drops overlay xattrs, unshifts ids', async () => {
    const { upper } = scratch();
    mkdirSync(join(upper, 'etc'));
    whiteout(join(upper, 'etc/motd'));
    writeFileSync(join(upper, 'etc/passwd'), 'root\n');
    mkdirSync(join(upper, 'data'));
    opaque(join(upper, 'data'));
    writeFileSync(join(upper, 'data/a'), 'aaa');
    linkSync(join(upper, 'data/a'), join(upper, 'data/b'));
    symlinkSync('/etc/passwd', join(upper, 'link'));
    lsetxattr(join(upper, 'etc/passwd'), 'user.note', 'hello');
    lsetxattr(join(upper, 'etc/passwd'), 'trusted.overlay.origin', Buffer.from([0, 1, 2]));
    execFileSync('chown', ['100000:100001', join(upper, 'etc/passwd')]);

    const clamp = new Date('2020-01-01T00:00:00Z');
    const entries = await readTar(tarUpper(ctx, upper, { mtime: clamp }));
    expect(entries.map((e) => `${e.type} ${e.name}`)).toEqual([
      'directory data/',
      'file data/.wh..wh..opq',
      'file data/a',
      'link data/b',
      'directory etc/',
      'file etc/.wh.motd',
      'file etc/passwd',
      'symlink link',
    ]);
    const passwd = entries.find((e) => e.name === 'etc/passwd')!;
    expect(passwd.data).toBe('root\n');
    expect(passwd.uid).toBe(0);
    expect(passwd.pax).toMatchObject({ 'SCHILY.xattr.user.note': 'hello' });
    expect(entries.find((e) => e.name === 'data/b')!.linkname).toBe('data/a');
    expect(entries.find((e) => e.name === 'link')!.linkname).toBe('/etc/passwd');
    for (const e of entries) {
      expect(e.mtime!.getTime()).toBeLessThanOrEqual(clamp.getTime());
      expect(Object.keys(e.pax ?? {}).some((k) => k.includes('trusted.overlay'))).toBe(false);
    }
  });
});
