// The host view's pure parts: overlay options as mountinfo prints them, uid maps, the printable cut of
// a command the container chose, host paths relabelled relative to the state root, and the tree order.

import { describe, expect, it } from 'vitest';
import { type ContainerProcess, parseOverlayOptions, printable } from '../../engine/host/container-view.ts';
import { mapInside, parseIdMap } from '../../engine/host/processes.ts';
import { rootPaths } from '../../engine/store/paths.ts';
import { hostPathLabel, treeOrder } from '../../server/pictures/host-view.ts';

describe('parseOverlayOptions', () => {
  it('splits lowerdir top first and keeps upper, work and the rest', () => {
    const o = parseOverlayOptions(
      'rw,lowerdir=/r/c/1/init:/r/layers/aa/diff:/r/layers/bb/diff,upperdir=/r/c/1/rw/upper,workdir=/r/c/1/rw/work,uuid=on',
    );
    expect(o.lowerdir).toEqual(['/r/c/1/init', '/r/layers/aa/diff', '/r/layers/bb/diff']);
    expect(o.upperdir).toBe('/r/c/1/rw/upper');
    expect(o.workdir).toBe('/r/c/1/rw/work');
    expect(o.other).toEqual(['rw', 'uuid=on']);
  });

  it("decodes the kernel's escapes: octal in values, \\: inside one lower dir", () => {
    const o = parseOverlayOptions('rw,lowerdir=/a\\040b:/c\\:d:/e\\054f,upperdir=/u\\134v,workdir=/w');
    expect(o.lowerdir).toEqual(['/a b', '/c:d', '/e,f']);
    expect(o.upperdir).toBe('/u\\v');
  });

  it('reads lowers listed one by one (lowerdir+=) and relative ones as they are', () => {
    const o = parseOverlayOptions('rw,lowerdir+=l/0,lowerdir+=l/1,upperdir=rw/upper,workdir=rw/work');
    expect(o.lowerdir).toEqual(['l/0', 'l/1']);
    expect(o.upperdir).toBe('rw/upper');
  });

  it('returns nothing for an empty or odd string, never throws', () => {
    expect(parseOverlayOptions('')).toEqual({
      lowerdir: [],
      upperdir: undefined,
      workdir: undefined,
      other: [],
    });
    expect(parseOverlayOptions(',,lowerdir=,=x').lowerdir).toEqual([]);
  });
});

describe('uid maps', () => {
  const map = parseIdMap('         0     100000 2147383648\n');
  it('parses uid_map lines and maps a host uid inside', () => {
    expect(map).toEqual([{ inside: 0, outside: 100000, count: 2147383648 }]);
    expect(mapInside(map, 100000)).toBe(0);
    expect(mapInside(map, 101000)).toBe(1000);
  });

  it('leaves a host uid outside the map unmapped', () => {
    expect(mapInside(map, 0)).toBeUndefined();
    expect(mapInside(parseIdMap('0 0 4294967295\n'), 0)).toBe(0);
    expect(parseIdMap('garbage\n1 2\n-1 0 5\n')).toEqual([]);
  });
});

describe('printable', () => {
  it('shows control characters as ? and cuts long commands', () => {
    expect(printable('sh -c \u001b[31mred\u0007\nx')).toBe('sh -c ?[31mred??x');
    const long = printable('a'.repeat(1000));
    expect(long).toHaveLength(200);
    expect(long.endsWith('…')).toBe(true);
    expect(printable('sleep 3600')).toBe('sleep 3600');
  });
});

describe('hostPathLabel', () => {
  const server = '/srv/state';
  const session = rootPaths(`${server}/sessions/0123abcd`, { sharedContent: server });
  const ctx = (paths: ReturnType<typeof rootPaths>) => ({ paths }) as Parameters<typeof hostPathLabel>[0];

  it("names a session's dirs by <session> and the shared layers by <root>", () => {
    expect(hostPathLabel(ctx(session), `${server}/sessions/0123abcd/containers/c1/rw/upper`)).toBe(
      '<root>/sessions/<session>/containers/c1/rw/upper',
    );
    expect(hostPathLabel(ctx(session), `${server}/layers/aa/diff`)).toBe('<root>/layers/aa/diff');
  });

  it('relabels a plain root, and hides anything outside it', () => {
    const plain = rootPaths('/var/lib/layerlab');
    expect(hostPathLabel(ctx(plain), '/var/lib/layerlab/layers/aa/diff')).toBe('<root>/layers/aa/diff');
    expect(hostPathLabel(ctx(plain), '/var/lib/layerlabX/secret')).toBe('(outside the state root)');
    expect(hostPathLabel(ctx(session), '/etc/shadow')).toBe('(outside the state root)');
    // Another session's dir is under the shared root, but its id is not this session's to learn.
    expect(hostPathLabel(ctx(session), `${server}/sessions/ffff/containers/x`)).toBe(
      '(outside the state root)',
    );
  });
});

describe('treeOrder', () => {
  const p = (
    hostPid: number,
    ppid: number,
    role: ContainerProcess['role'] = 'container',
  ): ContainerProcess => ({
    role,
    hostPid,
    ppid,
    containerPid: role === 'shim' ? undefined : hostPid - 100,
    hostUid: role === 'shim' ? 0 : 100000,
    containerUid: role === 'shim' ? undefined : 0,
    command: String(hostPid),
  });

  it('puts each parent before its children, with depths', () => {
    const out = treeOrder([p(101, 50, 'shim'), p(103, 102), p(102, 101), p(201, 60, 'shim'), p(202, 201)]);
    expect(out.map((x) => [x.hostPid, x.depth])).toEqual([
      [101, 0],
      [102, 1],
      [103, 2],
      [201, 0],
      [202, 1],
    ]);
    expect(out[0]!.containerPid).toBeNull();
  });

  it('survives a cycle (a reused pid) without looping', () => {
    expect(treeOrder([p(1, 2), p(2, 1)])).toEqual([]);
  });
});
