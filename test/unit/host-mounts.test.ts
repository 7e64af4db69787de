// The engine's mountinfo parser: optional fields, octal escapes, overlay lower dirs.
import { describe, expect, it } from 'vitest';
import { parseMountInfo } from '../../engine/host/mounts.ts';

const SAMPLE = [
  '22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw',
  '30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 master:3 - cgroup cgroup rw,memory',
  '95 90 0:50 / /var/lib/layer\\040lab/containers/abc/merged rw,relatime - overlay overlay rw,lowerdir=/l/a:/l/b,upperdir=/u,workdir=/w',
  '96 90 0:51 / /tmp/no-optional rw - tmpfs tmp\\011fs rw,size=1024k',
  'garbage line',
].join('\n');

describe('parseMountInfo', () => {
  it('finds the fields after the separator whatever the number of optional fields', () => {
    const mounts = parseMountInfo(SAMPLE);
    expect(mounts.map((m) => m.fsType)).toEqual(['proc', 'cgroup', 'overlay', 'tmpfs']);
    expect(mounts[1]!.superOptions).toBe('rw,memory');
  });

  it('decodes the kernel octal escapes in mount points and sources', () => {
    const mounts = parseMountInfo(SAMPLE);
    expect(mounts[2]!.mountPoint).toBe('/var/lib/layer lab/containers/abc/merged');
    expect(mounts[3]!.source).toBe('tmp\tfs');
  });

  it('keeps an overlay lowerdir list in its super options', () => {
    const overlay = parseMountInfo(SAMPLE).find((m) => m.fsType === 'overlay')!;
    expect(/lowerdir=([^,]+)/.exec(overlay.superOptions)![1]).toBe('/l/a:/l/b');
  });
});
