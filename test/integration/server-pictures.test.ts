// The pictures' state API against the real engine: the snapshot's shared layers after pulling busybox
// and an image built FROM it, a container's upper tree (copy-ups, whiteouts), live fs.change events,
// which-layer lookups and file versions.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createContainer,
  execContainer,
  runContainer,
  startContainer,
  stopContainer,
} from '../../engine/container/lifecycle.ts';
import { withOperation } from '../../engine/context.ts';
import type { EngineEvent } from '../../engine/events.ts';
import { findPathOrigin } from '../../engine/inspect/which-layer.ts';
import { pull } from '../../engine/pull.ts';
import { lsetxattr, makedev, mknod } from '../../engine/sys/libc.ts';
import { fileVersions, whichLayer } from '../../server/pictures/files.ts';
import {
  createSessionWatcher,
  type SessionWatcher,
  type WatchEvent,
  watchContainer,
} from '../../server/pictures/fs-changes.ts';
import { snapshotState } from '../../server/pictures/snapshot.ts';
import type { SessionEvent } from '../../server/protocol.ts';
import { disposeContainers } from '../support/containers.ts';
import { freshContext, type TestContext } from '../support/context.ts';

let t: TestContext;
const listeners = new Set<(e: SessionEvent) => void>();
const seen: WatchEvent[] = [];
let watcher: SessionWatcher;

/** The test's stand-in for the session bus: engine events fan out to subscribers (the watcher). */
function ctx() {
  return withOperation(t.ctx, {
    events: (e: EngineEvent) => {
      for (const l of listeners) l(e);
    },
  });
}

beforeAll(async () => {
  t = freshContext();
  await pull(t.ctx, 'busybox');
  await pull(t.ctx, 'layerlab/webapp');
  watcher = createSessionWatcher(
    ctx(),
    (e) => seen.push(e),
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    { debounceMs: 20 },
  );
});

afterAll(async () => {
  watcher?.close();
  await disposeContainers(t);
});

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('snapshot', () => {
  it('shows the layers busybox and an image built FROM it share', async () => {
    const snap = await snapshotState(t.ctx);
    const busybox = snap.images.find((i) => i.repoTags.includes('busybox:latest'));
    const webapp = snap.images.find((i) => i.repoTags.includes('layerlab/webapp:latest'));
    expect(busybox).toBeDefined();
    expect(webapp).toBeDefined();
    expect(busybox!.layers).toHaveLength(1);
    expect(webapp!.layers.length).toBeGreaterThan(1);
    const base = busybox!.layers[0]!;
    expect(webapp!.layers[0]!.diffId).toBe(base.diffId);
    expect(base.sharedWith).toEqual([webapp!.id]);
    expect(webapp!.layers[0]!.sharedWith).toEqual([busybox!.id]);
    expect(webapp!.layers.at(-1)!.sharedWith).toEqual([]);
    expect(base.unpackedSize).toBeGreaterThan(0);
    expect(base.createdBy).toContain('COPY');
    // WORKDIR, ENV, EXPOSE and CMD made no layer: they are history lines without one.
    expect(webapp!.layers.map((l) => l.createdBy)).toEqual([
      expect.stringMatching(/COPY dir:\w+ in \/ $/),
      expect.stringMatching(/COPY file:\w+ in \/app\/ $/),
      expect.stringMatching(/COPY dir:\w+ in \/app\/static\/ $/),
    ]);
    const empty = webapp!.emptyHistory.map((h) => h.createdBy ?? '');
    for (const step of ['WORKDIR', 'ENV', 'EXPOSE', 'CMD'])
      expect(empty.some((c) => c.includes(step))).toBe(true);
    const totals = snap.totals.images.find((i) => i.id === webapp!.id)!;
    expect(totals.sharedSize).toBe(base.unpackedSize);
    expect(totals.uniqueSize).toBe(webapp!.size - base.unpackedSize!);
    expect(snap.totals.imageBytesIfUnshared - snap.totals.layerBytes).toBe(base.unpackedSize);
  });
});

describe('a container that adds, changes and deletes', () => {
  let id: string;
  let busyboxLayer: string;

  beforeAll(async () => {
    const snap = await snapshotState(t.ctx);
    busyboxLayer = snap.images.find((i) => i.repoTags.includes('busybox:latest'))!.layers[0]!.diffId;
    const { record } = await runContainer(ctx(), {
      image: 'busybox',
      name: 'writer',
      // A pause first so the watch (started on container.created) is in place before the writes.
      cmd: [
        'sh',
        '-c',
        'sleep 0.3; echo hello > /hello.txt; echo "learner:x:1000:1000::/home:/bin/sh" >> /etc/passwd; rm /bin/vi; sleep 1000',
      ],
      detach: true,
    });
    id = record.id;
    await until('the writes', () =>
      seen.some((e) => e.type === 'fs.change' && e.path === '/bin/vi') ? true : undefined,
    );
  });

  it('emits fs.change: A for a new file, C with the copy-up for a lower file, D for a whiteout', () => {
    const changes = seen.filter((e) => e.type === 'fs.change' && e.container === id);
    expect(changes).toContainEqual({ type: 'fs.change', container: id, path: '/hello.txt', kind: 'A' });
    expect(changes).toContainEqual({
      type: 'fs.change',
      container: id,
      path: '/etc/passwd',
      kind: 'C',
      copyUp: { from: busyboxLayer },
    });
    expect(changes).toContainEqual({
      type: 'fs.change',
      container: id,
      path: '/bin/vi',
      kind: 'D',
      whiteout: true,
    });
    expect(watcher.watching()).toContain(id);
  });

  it('lists the upper tree with copy-ups and the whiteout', async () => {
    const snap = await snapshotState(t.ctx);
    const c = snap.containers.find((x) => x.id === id)!;
    expect(c.name).toBe('writer');
    expect(c.state).toBe('running');
    expect(c.imageName).toBe('busybox:latest');
    expect(c.lowerLayers).toEqual([busyboxLayer]);
    const byPath = new Map(c.upper.entries.map((e) => [e.path, e]));
    expect(byPath.get('/hello.txt')).toEqual({ path: '/hello.txt', kind: 'file', size: 6 });
    expect(byPath.get('/etc/passwd')).toMatchObject({ kind: 'file', copiedUpFrom: busyboxLayer });
    expect(byPath.get('/etc')).toMatchObject({ kind: 'dir', copiedUpFrom: busyboxLayer });
    expect(byPath.get('/bin/vi')).toEqual({
      path: '/bin/vi',
      kind: 'whiteout',
      size: 0,
      hides: busyboxLayer,
    });
    expect(c.sizeRw).toBe(c.upper.entries.reduce((s, e) => s + e.size, 0));
    expect(c.virtualSize).toBe(c.sizeRw + snap.images.find((i) => i.id === c.imageId)!.size);
    expect(c.upper.truncated).toBe(false);
  });

  it('says which layer a path comes from', async () => {
    expect(await whichLayer(t.ctx, 'writer', '/bin/sh')).toEqual({
      path: '/bin/sh',
      found: true,
      source: { diffId: busyboxLayer, index: 0, createdBy: expect.stringContaining('COPY') },
      kind: 'symlink',
    });
    expect(await whichLayer(t.ctx, 'writer', '/etc/passwd')).toMatchObject({
      found: true,
      source: 'upper',
      copiedUpFrom: { diffId: busyboxLayer },
    });
    expect(await whichLayer(t.ctx, 'writer', '/hello.txt')).toEqual({
      path: '/hello.txt',
      found: true,
      source: 'upper',
      kind: 'file',
    });
    expect(await whichLayer(t.ctx, 'writer', '/bin/vi')).toEqual({
      path: '/bin/vi',
      found: false,
      deletedIn: 'upper',
    });
    expect(await whichLayer(t.ctx, 'writer', '/nope/at/all')).toEqual({ path: '/nope/at/all', found: false });
    expect(await whichLayer(t.ctx, 'writer', '/proc')).toMatchObject({ found: true, source: 'init' });
  });

  it('shows a file in the image and in the container', async () => {
    const passwd = await fileVersions(t.ctx, 'writer', '/etc/passwd');
    expect(passwd.image?.source).toMatchObject({ diffId: busyboxLayer });
    expect(passwd.container?.source).toBe('upper');
    const before = passwd.image!.content;
    const after = passwd.container!.content;
    if (before.kind !== 'text' || after.kind !== 'text') throw new Error('expected text');
    expect(after.text).toBe(`${before.text}learner:x:1000:1000::/home:/bin/sh\n`);
    const hello = await fileVersions(t.ctx, 'writer', '/hello.txt');
    expect(hello.image).toBeNull();
    expect(hello.container?.content).toEqual({ kind: 'text', text: 'hello\n', size: 6, truncated: false });
    const vi = await fileVersions(t.ctx, 'writer', '/bin/vi');
    expect(vi.image?.content).toEqual({ kind: 'symlink', target: 'busybox' });
    expect(vi.container).toBeNull();
    const busybox = await fileVersions(t.ctx, 'writer', '/bin/busybox');
    expect(busybox.container?.content).toMatchObject({ kind: 'binary' });
  });

  it('refuses paths and containers that are not there', async () => {
    await expect(whichLayer(t.ctx, 'no-such', '/bin/sh')).rejects.toThrow(/No such container/);
    await expect(whichLayer(t.ctx, 'writer', 'a\0b')).rejects.toThrow(/invalid path/);
    // `..` cannot climb out of the container's root.
    expect(await whichLayer(t.ctx, 'writer', '/../../etc/passwd')).toMatchObject({
      path: '/etc/passwd',
      found: true,
    });
  });

  it('stops watching once the container exits', async () => {
    await stopContainer(ctx(), 'writer', { timeout: 0 });
    await until('the watch to end', () => (watcher.watching().includes(id) ? undefined : true));
  });
});

describe('findPathOrigin over hand-made layers', () => {
  // Three layers, top first: upper, mid, base. Whiteouts and opaque dirs need root (mknod, trusted.*).
  const base = mkdtempSync(join(tmpdir(), 'layerlab-origin-'));
  afterAll(() => rmSync(base, { recursive: true, force: true }));
  const [upper, mid, bottom] = ['upper', 'mid', 'base'].map((d) => join(base, d)) as [string, string, string];
  const write = (dir: string, path: string, text = 'x') => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  const whiteout = (dir: string, path: string) => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    mknod(join(dir, path), 0o20000, makedev(0, 0));
  };

  beforeAll(() => {
    write(bottom, 'etc/motd');
    write(bottom, 'etc/hosts');
    write(bottom, 'opt/app/a');
    write(bottom, 'srv/data/old');
    write(bottom, 'var/lib/x');
    write(mid, 'etc/motd', 'mid');
    whiteout(mid, 'etc/hosts');
    whiteout(mid, 'opt/app'); // a whiteout of a directory hides everything below it
    mkdirSync(join(mid, 'srv/data'), { recursive: true });
    lsetxattr(join(mid, 'srv/data'), 'trusted.overlay.opaque', 'y');
    write(mid, 'srv/data/new');
    write(upper, 'var'); // a file where a directory was
  });

  it('finds the topmost layer and honours whiteouts and opaque dirs', () => {
    const dirs = [upper, mid, bottom];
    expect(findPathOrigin(dirs, '/etc/motd')).toMatchObject({ found: true, index: 1, kind: 'file' });
    expect(findPathOrigin(dirs, '/etc')).toMatchObject({ found: true, index: 1, kind: 'dir' });
    expect(findPathOrigin(dirs, '/etc/hosts')).toEqual({ found: false, deletedAt: 1 });
    expect(findPathOrigin(dirs, '/opt/app/a')).toEqual({ found: false, deletedAt: 1 });
    // mid has /opt too (the directory holding the whiteout), so it is the topmost.
    expect(findPathOrigin(dirs, '/opt')).toMatchObject({ found: true, index: 1, kind: 'dir' });
    expect(findPathOrigin(dirs, '/opt/app')).toEqual({ found: false, deletedAt: 1 });
    expect(findPathOrigin(dirs, '/srv/data/new')).toMatchObject({ found: true, index: 1 });
    expect(findPathOrigin(dirs, '/srv/data/old')).toEqual({ found: false });
    expect(findPathOrigin(dirs, '/var/lib/x')).toEqual({ found: false });
    expect(findPathOrigin(dirs, '/var')).toMatchObject({ found: true, index: 0, kind: 'file' });
    expect(findPathOrigin([mid, bottom], '/srv/data/old')).toEqual({ found: false });
    expect(findPathOrigin([bottom], '/srv/data/old')).toMatchObject({ found: true, index: 0 });
  });
});

describe('watchContainer under a flood', () => {
  let id: string;
  const events: WatchEvent[] = [];
  let watch: Awaited<ReturnType<typeof watchContainer>> | undefined;

  afterAll(() => watch?.close());

  it('caps events per second and then asks for a resync', async () => {
    const created = await createContainer(t.ctx, { image: 'busybox', name: 'flood', cmd: ['sleep', '1000'] });
    id = created.id;
    watch = await watchContainer(t.ctx, id, (e) => events.push(e), { debounceMs: 10, maxEventsPerSecond: 5 });
    await startContainer(t.ctx, id);
    const exec = await execContainer(t.ctx, id, {
      cmd: ['sh', '-c', 'for i in $(seq 1 50); do echo $i > /f$i; done'],
    });
    expect(await exec.exitCode).toBe(0);
    exec.close();
    await until('the resync', () => events.find((e) => e.type === 'fs.resync'));
    const changes = events.filter((e) => e.type === 'fs.change');
    expect(changes.length).toBeLessThanOrEqual(10);
    expect(events.filter((e) => e.type === 'fs.resync')).toEqual([{ type: 'fs.resync', container: id }]);
  });

  it('reports a file the container created and then removed as deleted, without a whiteout', async () => {
    watch?.close();
    events.length = 0;
    watch = await watchContainer(t.ctx, id, (e) => events.push(e), {
      debounceMs: 10,
      poll: true,
      pollMs: 100,
    });
    expect(watch.mode).toBe('poll');
    const exec = await execContainer(t.ctx, id, { cmd: ['sh', '-c', 'rm /f1; echo new > /polled'] });
    expect(await exec.exitCode).toBe(0);
    exec.close();
    await until('the poller', () => (events.length >= 2 ? true : undefined));
    expect(events).toContainEqual({ type: 'fs.change', container: id, path: '/f1', kind: 'D' });
    expect(events).toContainEqual({ type: 'fs.change', container: id, path: '/polled', kind: 'A' });
  });

  it('scans on a timer instead once a container makes inotify events faster than the cap', async () => {
    watch?.close();
    events.length = 0;
    watch = await watchContainer(t.ctx, id, (e) => events.push(e), { maxRawEventsPerSecond: 50 });
    expect(watch.mode).toBe('inotify');
    // A rename loop: every turn is two inotify events on the same directory.
    const exec = await execContainer(t.ctx, id, {
      cmd: ['sh', '-c', 'touch /a; for i in $(seq 1 400); do mv /a /b; mv /b /a; done'],
    });
    expect(await exec.exitCode).toBe(0);
    exec.close();
    const current = watch;
    await until('the switch to scans', () => (current.mode === 'poll' ? true : undefined));
    expect(events).toContainEqual({ type: 'fs.resync', container: id });
    // Scans still report what changes afterwards.
    const later = await execContainer(t.ctx, id, { cmd: ['sh', '-c', 'echo after > /after-storm'] });
    expect(await later.exitCode).toBe(0);
    later.close();
    await until('the scan', () =>
      events.find((e) => e.type === 'fs.change' && e.path === '/after-storm') ? true : undefined,
    );
  });
});
