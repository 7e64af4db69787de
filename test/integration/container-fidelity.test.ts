// What a container's world looks like next to Docker's: modes and owners kept through commit and
// build, FIFOs kept and devices skipped (and said) on pull, large uids pulled, the generated /etc
// files, and `id`'s groups. Expected values are Docker's, each with the moby source it comes from.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../engine/builder/build.ts';
import { commit } from '../../engine/commit.ts';
import { containerDiff, containerLogs, runContainer } from '../../engine/container/index.ts';
import type { EngineContext } from '../../engine/context.ts';
import type { EngineEvent } from '../../engine/events.ts';
import { formatChanges } from '../../engine/layer/diff.ts';
import type { Image } from '../../engine/oci/types.ts';
import { pull } from '../../engine/pull.ts';
import { openBlob } from '../../engine/store/blobs.ts';
import { busyboxLayerTar } from '../support/busybox-image.ts';
import { busyboxContext, disposeContainers } from '../support/containers.ts';
import type { TestContext } from '../support/context.ts';
import {
  type HostileRegistry,
  imageOf,
  layerBlob,
  startHostileRegistry,
} from '../support/hostile-registry.ts';
import { buildTar } from '../support/hostile-tars.ts';

let t: TestContext;
let ctx: EngineContext;
let registry: HostileRegistry;
const dirs: string[] = [];

beforeAll(async () => {
  t = await busyboxContext();
  ctx = t.ctx;
  registry = await startHostileRegistry();
});

afterAll(async () => {
  await registry?.close();
  await disposeContainers(t);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs `script` under sh in a fresh container of `image`; its exit code, output and id. */
async function sh(script: string, image = 'busybox'): Promise<{ code: number; out: string; id: string }> {
  const { record, exited } = await runContainer(ctx, { image, cmd: ['sh', '-c', script], detach: true });
  const code = await exited;
  let out = '';
  for await (const entry of await containerLogs(ctx, record.id)) out += entry.data.toString();
  return { code, out, id: record.id };
}

interface Entry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
}

/** The entries of `image`'s top layer, as tar-stream reads them (PAX uid/gid applied). */
async function topLayer(image: Image): Promise<Entry[]> {
  const desc = image.manifest.layers.at(-1)!;
  const extract = tar.extract();
  const source = openBlob(ctx, desc.digest);
  (desc.mediaType.endsWith('gzip') ? source.pipe(createGunzip()) : source).pipe(
    extract as unknown as NodeJS.WritableStream,
  );
  const out: Entry[] = [];
  for await (const entry of extract) {
    entry.resume();
    const h = entry.header as tar.Header & { pax?: Record<string, string> };
    // tar-stream applies a PAX path but not a PAX uid/gid: read those here.
    const uid = h.pax?.uid === undefined ? (h.uid ?? -1) : Number(h.pax.uid);
    const gid = h.pax?.gid === undefined ? (h.gid ?? -1) : Number(h.pax.gid);
    out.push({ name: h.name, type: h.type ?? 'file', mode: h.mode ?? -1, uid, gid });
  }
  return out;
}

describe('modes and owners through commit and build', () => {
  it('commit keeps a mode-000 file 000, a FIFO a FIFO, and an owner above 65535', async () => {
    const { code, id } = await sh(
      'touch /zero && chmod 000 /zero && mkfifo /pipe && touch /big && chown 1000000680:1000000680 /big',
    );
    expect(code).toBe(0);
    const image = await commit(ctx, id);
    const entries = await topLayer(image);
    // Go's tar.FileInfoHeader stores the mode bits as they are (moby/go-archive archive.go,
    // FileInfoHeaderNoLookups): `docker commit` of this container has zero, fifo, and the uid.
    expect(entries.find((e) => e.name === 'zero')).toMatchObject({ type: 'file', mode: 0 });
    expect(entries.find((e) => e.name === 'pipe')).toMatchObject({ type: 'fifo', mode: 0o644 });
    expect(entries.find((e) => e.name === 'big')).toMatchObject({ uid: 1000000680, gid: 1000000680 });

    // The committed image runs with the same file: the round trip through unpack keeps all three.
    const again = await sh('stat -c "%a %F %u:%g" /zero /pipe /big', image.id);
    expect(again.out.trim().split('\n')).toEqual([
      '0 regular empty file 0:0',
      '644 fifo 0:0',
      '644 regular empty file 1000000680:1000000680',
    ]);
  });

  it('build keeps a mode-000 file 000 in a RUN layer', async () => {
    const contextDir = mkdtempSync(join(tmpdir(), 'layerlab-fidelity-'));
    dirs.push(contextDir);
    writeFileSync(join(contextDir, 'Dockerfile'), 'FROM busybox\nRUN touch /locked && chmod 000 /locked\n');
    const image = await build(ctx, { contextDir, tags: ['fidelity:mode'] });
    expect((await topLayer(image)).find((e) => e.name === 'locked')).toMatchObject({ type: 'file', mode: 0 });
  });
});

describe('pulled layers with FIFOs, devices and large owners', () => {
  // A small layer is written in-process (layer/extract.ts), a large one by GNU tar: both paths.
  it.each([
    ['small (in-process)', 0],
    ['large (GNU tar)', 512 * 1024],
  ])(
    'keeps FIFOs, skips device nodes with a warning event, and maps owners beyond 65535: %s',
    async (_, pad) => {
      const odd = await buildTar([
        ...(pad > 0 ? [{ name: 'pad', data: Buffer.alloc(pad) }] : []),
        { name: 'odd/', type: 'directory' },
        { name: 'odd/pipe', type: 'fifo', mode: 0o600 },
        { name: 'odd/null', type: 'character-device', devmajor: 1, devminor: 3 },
        { name: 'odd/sda', type: 'block-device', devmajor: 8, devminor: 0 },
        // tar-stream's ustar owner field stops at 262143: larger ids travel as PAX, as Go writes them.
        { name: 'odd/big', data: 'x', pax: { uid: '1000000680', gid: '70000' } },
        { name: 'odd/mid', data: 'y', uid: 70000, gid: 70000 },
      ]);
      const image = imageOf([layerBlob({ tar: await busyboxLayerTar() }), layerBlob({ tar: odd })]);
      registry.image('fidelity/odd', `pad${pad}`, image);
      const ref = `${registry.host}/fidelity/odd:pad${pad}`;
      const seen = t.events.length;
      await pull(ctx, ref);

      const warnings = t.events
        .slice(seen)
        .filter(
          (e): e is Extract<EngineEvent, { type: 'layer.devices-skipped' }> =>
            e.type === 'layer.devices-skipped',
        );
      expect(warnings).toEqual([
        {
          type: 'layer.devices-skipped',
          diffId: image.layers[1]!.diffId,
          count: 2,
          paths: ['/odd/null', '/odd/sda'],
        },
      ]);

      const { code, out } = await sh('ls /odd; stat -c "%n %F %a %u:%g" /odd/pipe /odd/big /odd/mid', ref);
      expect(code).toBe(0);
      expect(out.trim().split('\n')).toEqual([
        'big',
        'mid',
        'pipe',
        '/odd/pipe fifo 600 0:0',
        '/odd/big regular file 644 1000000680:70000',
        '/odd/mid regular file 644 70000:70000',
      ]);
    },
  );
});

describe('the generated /etc files', () => {
  it('bind-mounts hosts, hostname and resolv.conf, which diff does not list', async () => {
    const { code, out, id } = await sh(
      'cat /etc/hosts; echo ---; cat /etc/hostname; echo ---; cat /etc/resolv.conf; echo ---; hostname',
    );
    expect(code).toBe(0);
    const [hosts, hostname, resolv, live] = out.split('---\n');
    // moby daemon/libnetwork/etchosts/etchosts.go: Build with no records, as for `--network none`.
    expect(hosts).toBe(
      '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::\tip6-localnet\n' +
        'ff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n',
    );
    // moby daemon/container/container_unix.go, BuildHostnameFile: the short id and a newline.
    expect(hostname).toBe(`${id.slice(0, 12)}\n`);
    expect(live).toBe(`${id.slice(0, 12)}\n`);
    // moby daemon/libnetwork/sandbox_dns_unix.go, loadResolvConf: Docker's header; no nameserver here.
    expect(resolv).toMatch(/^# Generated by Docker Engine\.\n/);
    expect(resolv).not.toMatch(/^nameserver/m);
    expect(await containerDiff(ctx, id)).toEqual([]);
  });

  it('lets root edit them, as Docker mounts them writable, and still leaves them out of diff and commit', async () => {
    const { code, id } = await sh('echo "10.0.0.1 db" >> /etc/hosts && grep -q db /etc/hosts');
    expect(code).toBe(0);
    expect(await containerDiff(ctx, id)).toEqual([]);
    const image = await commit(ctx, id);
    expect((await topLayer(image)).map((e) => e.name)).toEqual([]);
  });
});

describe('the user and its groups', () => {
  it('lists the primary group and the /etc/group memberships, as Docker does', async () => {
    // moby daemon/oci_linux.go, getUser: AdditionalGids = [gid, ...supplementary groups from /etc/group].
    // The test image's /etc/group (test/support/busybox-image.ts) makes alice a member of staff.
    expect((await sh('id')).out).toBe('uid=0(root) gid=0(root) groups=0(root)\n');
    const { out } = await runContainer(ctx, {
      image: 'busybox',
      cmd: ['id'],
      user: 'alice',
      detach: true,
    }).then(async ({ record, exited }) => {
      await exited;
      let text = '';
      for await (const entry of await containerLogs(ctx, record.id)) text += entry.data.toString();
      return { out: text };
    });
    // setgroups(2) sorts the list (kernel/groups.c, groups_sort): Docker's `id` prints it in this order.
    expect(out).toBe('uid=1000(alice) gid=1000(alice) groups=50(staff),1000(alice)\n');
  });
});

describe("the image's VOLUMEs", () => {
  it('gives each an anonymous directory filled from the image, whose content stays out of diff and commit', async () => {
    const contextDir = mkdtempSync(join(tmpdir(), 'layerlab-fidelity-'));
    dirs.push(contextDir);
    writeFileSync(
      join(contextDir, 'Dockerfile'),
      'FROM busybox\nRUN mkdir /seeded && echo from-image > /seeded/f && chmod 700 /seeded\nVOLUME /data /seeded\n',
    );
    const image = await build(ctx, { contextDir, tags: ['fidelity:volumes'] });
    const { code, out, id } = await sh(
      'stat -c "%n %a %u" /data /seeded; cat /seeded/f; echo new > /data/new; echo more > /seeded/g; grep -c " /data \\| /seeded " /proc/mounts',
      image.id,
    );
    expect(code).toBe(0);
    // moby daemon/create_unix.go: an anonymous volume per VOLUME, filled from the image (populateVolume).
    expect(out).toBe('/data 755 0\n/seeded 700 0\nfrom-image\n2\n');
    // The volumes' files are not in the writable layer. /data, missing from the image, is the mount
    // point the runtime made in the rootfs (runc does the same for Docker): `docker diff` lists it.
    expect(formatChanges(await containerDiff(ctx, id))).toBe('A /data\n');
    const committed = await commit(ctx, id);
    expect((await topLayer(committed)).map((e) => e.name)).toEqual(['data/']);
    expect(committed.config.config?.Volumes).toEqual({ '/data': {}, '/seeded': {} });
  });
});
