// Which container a container picture shows: the reader's pick, else the lesson's, else — when the
// lesson's is gone — the newest running one, with a notice that tells "removed" from "not made yet".

import { describe, expect, it } from 'vitest';
import { humanSize } from '../../engine/format/text.ts';
import { type Digest, sha256 } from '../../engine/oci/digest.ts';
import type { SessionSnapshot, SnapshotContainer } from '../../server/pictures/snapshot.ts';
import { formatSize } from '../../site/src/client/format.ts';
import { chooseContainers } from '../../site/src/client/pick.ts';

function container(
  name: string,
  state: SnapshotContainer['state'],
  created: string,
  imageId: Digest = sha256('busybox'),
): SnapshotContainer {
  return {
    id: `${name}-id-0000000000000000`,
    name,
    image: 'busybox',
    imageId,
    state,
    exitCode: 0,
    created,
    sizeRw: 0,
    virtualSize: 0,
    lowerLayers: [],
    upper: { entries: [], size: 0, truncated: false },
  };
}

const snap = (...containers: SnapshotContainer[]): SessionSnapshot => ({
  images: [],
  containers,
  totals: { images: [], layerBytes: 0, imageBytesIfUnshared: 0, containerBytes: 0, virtualBytes: 0 },
});

describe('chooseContainers', () => {
  const one = container('one', 'running', '2026-01-01T00:00:01Z');
  const two = container('two', 'running', '2026-01-01T00:00:02Z');
  const done = container('done', 'exited', '2026-01-01T00:00:03Z');

  it('shows the lesson’s container while it exists, without a notice', () => {
    const choice = chooseContainers(snap(one, two, done), 'one', false, undefined, new Set());
    expect(choice.containers.map((c) => c.name)).toEqual(['one']);
    expect(choice.notice).toBeUndefined();
  });

  it('follows the newest running container once the lesson’s is removed, and says so', () => {
    const choice = chooseContainers(snap(two, done), 'one', false, undefined, new Set(['one', 'two']));
    expect(choice.containers.map((c) => c.name)).toEqual(['two']);
    expect(choice.notice).toMatch(/`one` was removed: showing `two` \(running\)/);
    expect(choice.missing).toEqual(['one']);
  });

  it('says "not yet" for a container it never saw, and falls back to any container when none runs', () => {
    const choice = chooseContainers(snap(done), 'one', false, undefined, new Set());
    expect(choice.containers.map((c) => c.name)).toEqual(['done']);
    expect(choice.notice).toMatch(/no container `one` yet.*`done` \(exited\)/);
  });

  it('has nothing to show, and says why, when the session has no container', () => {
    const choice = chooseContainers(snap(), 'one', false, undefined, new Set(['one']));
    expect(choice.containers).toEqual([]);
    expect(choice.notice).toMatch(/`one` was removed\./);
  });

  it('shows the reader’s pick over the lesson’s, until the pick is gone', () => {
    expect(chooseContainers(snap(one, two), 'one', false, two.id, new Set()).containers[0]?.name).toBe('two');
    expect(chooseContainers(snap(one), 'one', false, two.id, new Set()).containers[0]?.name).toBe('one');
  });

  it('keeps the siblings from the same image beside the one it follows', () => {
    const other = container('other', 'running', '2026-01-01T00:00:00Z', sha256('other'));
    const choice = chooseContainers(snap(two, done, other), 'one', true, undefined, new Set(['one']));
    expect(choice.containers.map((c) => c.name)).toEqual(['two', 'done']);
  });
});

describe('formatSize', () => {
  it('prints sizes exactly as the CLI does', () => {
    for (const bytes of [0, 20, 999, 1000, 3584, 999_999, 1_975_000, 12_345_678, 4_200_000_000])
      expect(formatSize(bytes)).toBe(humanSize(bytes, 3));
    expect(formatSize(3584)).toBe('3.58kB');
    expect(formatSize(20)).toBe('20B');
  });
});
