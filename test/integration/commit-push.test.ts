// Docker's split, kept: a commit stores its layer locally as a plain tar (one hash, no compression,
// so its digest is its diff_id), and push gzips it on the way out, deterministically; a pull of the
// pushed tag gives back the same image id with a gzip layer.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { commit } from '../../engine/commit.ts';
import { runContainer } from '../../engine/container/index.ts';
import { MediaType } from '../../engine/oci/media-types.ts';
import { pull } from '../../engine/pull.ts';
import { push } from '../../engine/push.ts';
import { tagImage } from '../../engine/store/images.ts';
import { busyboxContext, disposeContainers } from '../support/containers.ts';
import { freshContext, type TestContext } from '../support/context.ts';
import { assertImageSchemas } from '../support/oci-validate.ts';
import { startTestRegistry, type TestRegistry } from '../support/registry.ts';

let t: TestContext;
let registry: TestRegistry;
const others: TestContext[] = [];

beforeAll(async () => {
  [t, registry] = await Promise.all([busyboxContext({ mirrors: {} }), startTestRegistry()]);
});

afterAll(async () => {
  await disposeContainers(t);
  for (const o of others) await disposeContainers(o);
  await registry?.stop();
});

it('commits an uncompressed layer and pushes it gzipped, the same digest every time', async () => {
  const run = await runContainer(t.ctx, {
    image: 'busybox',
    cmd: ['sh', '-c', 'echo kept > /kept.txt'],
    detach: true,
  });
  expect(await run.exited).toBe(0);
  const image = await commit(t.ctx, run.record.id, { repoTag: 'kept:v1' });
  const top = image.manifest.layers.at(-1)!;
  expect(top.mediaType).toBe(MediaType.ociLayer);
  expect(top.digest).toBe(image.config.rootfs.diff_ids.at(-1));
  await assertImageSchemas(t.ctx, image);

  const ref = `${registry.host}/team/kept:v1`;
  await tagImage(t.ctx, image.id, ref);
  const first = await push(t.ctx, ref);
  const second = await push(t.ctx, ref);
  expect(second.digest).toBe(first.digest);

  const other = freshContext({ mirrors: {} });
  others.push(other);
  const pulled = await pull(other.ctx, ref);
  expect(pulled.id).toBe(image.id);
  expect(pulled.manifestDigest).toBe(first.digest);
  expect(pulled.manifest.layers.at(-1)!.mediaType).toBe(MediaType.ociLayerGzip);
  await assertImageSchemas(other.ctx, pulled);
  const check = await runContainer(other.ctx, { image: ref, cmd: ['cat', '/kept.txt'], detach: true });
  expect(await check.exited).toBe(0);
});
