// Issue #9 (Low list): one session's commit added 116 MB to the shared disk. Sessions now have a cap
// on the layer bytes their images hold (`maxStoredLayerBytesPerSession`); a commit, a build step or a
// pull past it is refused with a clear message, and a pull is refused before it downloads anything.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storedLayerBytes } from '../../engine/store/quota.ts';
import { openShell, startTestServer, type TestServer } from '../support/server.ts';
import { shellCommand } from '../support/shell-command.ts';

const QUOTA = 12 * 1024 * 1024;
let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({ limits: { maxStoredLayerBytesPerSession: QUOTA } });
});

afterAll(async () => {
  await srv?.close();
});

describe('the per-session layer quota', () => {
  it('refuses a commit and a pull past it, with a clear message, and counts what rmi frees', async () => {
    const { session, token } = await srv.newSession();
    const client = await srv.connect(token);
    const channel = await openShell(client);
    const sh = (command: string) => shellCommand(client, channel, command);
    const ctx = srv.server.sessions.get(session)!.ctx;

    expect(await sh('docker pull busybox')).toMatch(/Status: Downloaded newer image/);
    const base = await storedLayerBytes(ctx);
    expect(base).toBeGreaterThan(0);
    expect(base).toBeLessThan(QUOTA);

    // 16 MB of fresh data in the container's writable layer, then a commit of it.
    expect(await sh('docker run --name big busybox dd if=/dev/urandom of=/big bs=1048576 count=16')).toMatch(
      /16\+0 records out/,
    );
    const refused = await sh('docker commit big too-big');
    expect(refused).toMatch(
      /^Error response from daemon: storage quota exceeded: this session's images hold [\d.]+MB of layers and this would add [\d.]+MB \(limit 12\.58MB\); remove images with `docker rmi`/,
    );
    expect(await sh('docker images -q too-big')).toBe('');
    expect(await storedLayerBytes(ctx)).toBe(base);

    // A pull past it (a 20 MB layer) is refused before any layer is downloaded.
    const pulled = await sh('docker pull layerlab/big-layer');
    expect(pulled).toMatch(/Error response from daemon: storage quota exceeded/);
    expect(pulled).not.toMatch(/Download complete|Pull complete/);
    expect(await sh('docker images -q layerlab/big-layer')).toBe('');

    // Within the quota a commit still works; and rmi frees its share.
    expect(await sh('docker run --name small busybox sh -c "echo small > /small"')).toBe('');
    expect(await sh('docker commit small small')).toMatch(/sha256:/);
    const withSmall = await storedLayerBytes(ctx);
    expect(withSmall).toBeGreaterThan(base);
    expect(await sh('docker rm big small')).toBe('big\nsmall\n');
    expect(await sh('docker rmi small')).toMatch(/Untagged: small:latest/);
    expect(await storedLayerBytes(ctx)).toBe(base);
    await client.close();
  });
});
