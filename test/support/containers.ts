// Shared set-up for the integration tests that run containers: a fresh root with busybox in it,
// a busybox lower dir for the runtime-level tests, and a teardown that leaves no container or mount.

import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listContainers, removeContainer } from '../../engine/container/index.ts';
import { umount2 } from '../../engine/sys/libc.ts';
import { makeBusyboxImage } from './busybox-image.ts';
import { freshContext, type TestContext } from './context.ts';

const MNT_DETACH = 2;

/** Mount points at or under `root`, deepest first, from /proc/self/mountinfo. */
export function mountsUnder(root: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined && (p === root || p.startsWith(`${root}/`)))
    .sort((a, b) => b.length - a.length);
}

/** A fresh state root (see `freshContext`) holding the busybox image. */
export async function busyboxContext(options: Parameters<typeof freshContext>[0] = {}): Promise<TestContext> {
  const t = freshContext(options);
  await makeBusyboxImage(t.ctx);
  return t;
}

/**
 * Removes every container of `t` (force), detaches whatever is still mounted under its root (a test
 * that failed half-way may leave a mount behind), then deletes the root.
 */
export async function disposeContainers(t: TestContext | undefined): Promise<void> {
  if (t === undefined) return;
  for (const row of await listContainers(t.ctx, { all: true, external: true }).catch(() => [])) {
    await removeContainer(t.ctx, row.id, { force: true }).catch(() => {});
  }
  for (const mountPoint of mountsUnder(t.root)) {
    try {
      umount2(mountPoint, MNT_DETACH);
    } catch {
      // Already gone with its parent: detaching the deeper mount first can take the other with it.
    }
  }
  t.cleanup();
}

/**
 * A lower dir as the store would unpack busybox: the host's static busybox with its applets as links
 * relative to /bin (`busybox --install -s` would link to the host path), a few empty directories, an
 * /etc/passwd, everything owned by the user-namespace base `uid`.
 */
export function makeBusyboxLowerDir(dir: string, uid: number): void {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  execFileSync('cp', ['/bin/busybox', join(dir, 'bin', 'busybox')]);
  for (const applet of execFileSync('/bin/busybox', ['--list']).toString().split('\n')) {
    if (applet && applet !== 'busybox') symlinkSync('busybox', join(dir, 'bin', applet));
  }
  for (const sub of ['proc', 'sys', 'dev', 'etc', 'tmp', 'root'])
    mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  execFileSync('chown', ['-R', '-h', `${uid}:${uid}`, dir]);
  chownSync(dir, uid, uid);
}
