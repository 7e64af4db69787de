// The pictures' layer sizes are the CLI's: a committed layer is sized by its files (as `docker
// history` prints it) from the moment it is made, in `history`, in `images` and in the snapshot the
// image graph draws, not by its tar until a container first unpacks it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commit } from '../../engine/commit.ts';
import { runContainer } from '../../engine/container/index.ts';
import { imageHistory, listImagesView } from '../../engine/image/views.ts';
import { snapshotState } from '../../server/pictures/snapshot.ts';
import { busyboxContext, disposeContainers } from '../support/containers.ts';
import type { TestContext } from '../support/context.ts';

let t: TestContext;

beforeAll(async () => {
  t = await busyboxContext();
});

afterAll(() => disposeContainers(t));

describe('layer sizes in the pictures', () => {
  it('sizes a fresh commit by its files in history, images and the snapshot alike', async () => {
    const text = 'hello from a commit\n'; // 20 bytes
    const { record, exited } = await runContainer(t.ctx, {
      image: 'busybox',
      detach: true,
      cmd: ['sh', '-c', `mkdir -p /srv && printf '${text.trimEnd()}\\n' > /srv/index.html`],
    });
    expect(await exited).toBe(0);
    const image = await commit(t.ctx, record.id, { repoTag: 'my-page:v1', message: 'add a page' });

    const history = await imageHistory(t.ctx, 'my-page:v1');
    const top = history[0]!;
    // The layer's files: the 20-byte page (directories count nothing), not the ~3 kB tar holding it.
    expect(top.size).toBe(text.length);

    const snap = await snapshotState(t.ctx);
    const pictured = snap.images.find((i) => i.id === image.id)!;
    const layer = pictured.layers.at(-1)!;
    expect(layer.unpackedSize).toBe(top.size);
    // Every layer the graph draws has the size `history` prints for it, row for row.
    const sizes = history
      .filter((h) => !h.emptyLayer)
      .map((h) => h.size)
      .reverse();
    expect(pictured.layers.map((l) => l.unpackedSize ?? l.size)).toEqual(sizes);

    const rows = await listImagesView(t.ctx);
    const row = rows.find((r) => r.id === image.id);
    expect(row?.size).toBe(pictured.size);
  });
});
