// Volumes end to end: `volume create/ls/inspect/rm/prune`, `-v name:/path` and `--mount`, a new
// volume filled from the image, data in a volume kept across containers and never in `diff`,
// `commit` or `build`, a volume in use refused removal; host paths mountable from the CLI, refused
// in a server session, whose volumes are size-capped tmpfs mounts under its own root.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineContext } from '../../engine/context.ts';
import { isMountPoint, readMounts } from '../../engine/host/mounts.ts';
import { runCli } from '../support/cli.ts';
import { busyboxContext, disposeContainers } from '../support/containers.ts';
import type { TestContext } from '../support/context.ts';
import {
  openShell,
  runInShell,
  startTestServer,
  type TestClient,
  type TestServer,
} from '../support/server.ts';

let t: TestContext;
let ctx: EngineContext;
const dirs: string[] = [];

beforeAll(async () => {
  t = await busyboxContext();
  ctx = t.ctx;
});

afterAll(async () => {
  await disposeContainers(t);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]) {
  return runCli(argv, ctx);
}

async function ok(...argv: string[]): Promise<string> {
  const result = await cli(...argv);
  expect(result.status, `${argv.join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

describe('volume commands', () => {
  it('create, ls, inspect and rm a named volume; refuse a bad name', async () => {
    expect(await ok('volume', 'create', 'notes')).toBe('notes\n');
    expect(await ok('volume', 'create', 'notes')).toBe('notes\n'); // idempotent, as Docker's
    expect(await ok('volume', 'ls')).toMatch(/^DRIVER {4}VOLUME NAME\nlocal {5}notes\n$/);
    const [view] = JSON.parse(await ok('volume', 'inspect', 'notes')) as Record<string, unknown>[];
    expect(view).toMatchObject({
      Name: 'notes',
      Driver: 'local',
      Scope: 'local',
      Labels: null,
      Mountpoint: join(t.root, 'volumes', 'notes', '_data'),
    });
    expect(Date.parse(String(view!.CreatedAt))).toBeGreaterThan(Date.now() - 60_000);
    expect(await ok('volume', 'inspect', '-f', '{{.Name}} {{.Driver}}', 'notes')).toBe('notes local\n');

    for (const bad of ['a/../b', '../x', '.hidden', 'x']) {
      const refused = await cli('volume', 'create', bad);
      expect(refused.status, bad).toBe(1);
      expect(refused.stderr).toContain(`"${bad}" includes invalid characters for a local volume name`);
    }
    const missing = await cli('volume', 'inspect', 'nope');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('get nope: no such volume');

    expect(await ok('volume', 'rm', 'notes')).toBe('notes\n');
    expect(await ok('volume', 'ls', '-q')).toBe('');
  });
});

describe('a named volume in containers', () => {
  it('keeps its data across containers, outside diff, commit and build, and is refused removal while used', async () => {
    const run = await cli(
      'run',
      '--name',
      'writer',
      '-v',
      'data:/data',
      'busybox',
      'sh',
      '-c',
      'echo kept > /data/f && echo upper > /u',
    );
    expect(run.status, run.stderr).toBe(0);
    expect(await ok('volume', 'ls', '-q')).toBe('data\n');
    expect(await ok('run', '--rm', '-v', 'data:/data', 'busybox', 'cat', '/data/f')).toBe('kept\n');

    // The writable layer has /u and the mount point, not what went into the volume.
    const diff = await ok('diff', 'writer');
    expect(diff).toContain('A /u\n');
    expect(diff).not.toContain('/data/f');
    const [inspected] = JSON.parse(await ok('inspect', 'writer')) as { Mounts: unknown[] }[];
    expect(inspected!.Mounts).toEqual([
      {
        Type: 'volume',
        Name: 'data',
        Source: join(t.root, 'volumes', 'data', '_data'),
        Destination: '/data',
        Driver: 'local',
        Mode: 'z',
        RW: true,
        Propagation: '',
      },
    ]);

    // Neither a commit nor a build on top of it carries the volume's data.
    await ok('commit', 'writer', 'committed');
    expect(await ok('run', '--rm', 'committed', 'cat', '/u')).toBe('upper\n');
    const lookup = await cli('run', '--rm', 'committed', 'ls', '/data/f');
    expect(lookup.status).toBe(1);
    const context = mkdtempSync(join(tmpdir(), 'layerlab-vol-build-'));
    dirs.push(context);
    writeFileSync(join(context, 'Dockerfile'), 'FROM committed\nRUN test -e /u && test ! -e /data/f\n');
    const built = await cli('build', '-t', 'built-on-commit', context);
    expect(built.status, built.stderr).toBe(0);

    // In use by a stopped container: refused, as Docker refuses it, with the container's id.
    const id = (await ok('inspect', '-f', '{{.Id}}', 'writer')).trim();
    const refused = await cli('volume', 'rm', 'data');
    expect(refused.status).toBe(1);
    expect(refused.stderr.trim()).toBe(`Error response from daemon: remove data: volume is in use - [${id}]`);
    const pruned = await cli('volume', 'prune', '-a', '-f');
    expect(pruned.stdout).not.toContain('data');
    await ok('rm', '-v', 'writer');
    expect(await ok('volume', 'rm', 'data')).toBe('data\n');
  });

  it('fills a new volume from the image, mounts --mount readonly, and keeps -v /path anonymous', async () => {
    // /etc of the image is copied into the empty volume on first use.
    expect(await ok('run', '--rm', '-v', 'etc:/etc', 'busybox', 'head', '-n1', '/etc/passwd')).toMatch(
      /^root:/,
    );
    expect(readFileSync(join(t.root, 'volumes', 'etc', '_data', 'passwd'), 'utf8')).toMatch(/^root:/);

    await ok('run', '--rm', '-v', 'ro:/ro', 'busybox', 'sh', '-c', 'echo from-rw > /ro/f');
    const readonly = await cli(
      'run',
      '--rm',
      '--mount',
      'type=volume,source=ro,target=/ro,readonly',
      'busybox',
      'sh',
      '-c',
      'cat /ro/f; echo more > /ro/f',
    );
    expect(readonly.stdout).toContain('from-rw');
    expect(readonly.stdout + readonly.stderr).toMatch(/Read-only file system/);
    expect(readonly.status).not.toBe(0);

    // An anonymous volume lives with its container and is not a named one.
    await ok('run', '--name', 'anon', '-v', '/scratch', 'busybox', 'sh', '-c', 'echo x > /scratch/f');
    expect(await ok('diff', 'anon')).not.toContain('/scratch/f');
    expect(await ok('volume', 'ls', '-q')).toBe('etc\nro\n');
    await ok('rm', '-v', 'anon');

    const bad = await cli('run', '--rm', '--mount', 'type=volume,target=relative', 'busybox', 'true');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('must be absolute');

    // prune: only anonymous volumes without -a (Docker 23+); -a takes the unused named ones.
    await ok('volume', 'create');
    const anonymousName = (await ok('volume', 'ls', '-q')).split('\n').find((n) => /^[0-9a-f]{64}$/.test(n));
    expect(anonymousName).toBeDefined();
    expect(await ok('volume', 'prune', '-f')).toBe(
      `Deleted Volumes:\n${anonymousName}\n\nTotal reclaimed space: 0B\n`,
    );
    const all = await ok('volume', 'prune', '-a', '-f');
    expect(all).toMatch(/^Deleted Volumes:\netc\nro\n\nTotal reclaimed space: \d/);
    expect(await ok('volume', 'ls', '-q')).toBe('');
  });

  it('bind-mounts a host path from the CLI, as the root’s operator may', async () => {
    const host = mkdtempSync(join(tmpdir(), 'layerlab-bind-'));
    dirs.push(host);
    writeFileSync(join(host, 'in.txt'), 'from the host\n');
    // Container root is not host root (user namespace): the host directory must be readable by others.
    chmodSync(host, 0o755);
    expect(await ok('run', '--rm', '-v', `${host}:/host:ro`, 'busybox', 'cat', '/host/in.txt')).toBe(
      'from the host\n',
    );
  });
});

describe('volumes in a server session', () => {
  let server: TestServer;
  let client: TestClient;
  let channel: number;
  let sessionId: string;

  beforeAll(async () => {
    server = await startTestServer({ limits: { volumeBytes: 8 * 1024 * 1024, maxVolumesPerSession: 2 } });
    const session = await server.newSession();
    sessionId = session.session;
    client = await server.connect(session.token);
    channel = await openShell(client);
  });

  afterAll(async () => {
    await client?.close();
    await server?.close();
  });

  /** Mount points under the server's root. */
  const mountsOfServer = () => readMounts().filter((m) => m.mountPoint.startsWith(`${server.root}/`));

  it('keeps data in a capped tmpfs under the session root and refuses host paths', async () => {
    await runInShell(client, channel, 'docker volume create data', /\r\ndata\r\n/);
    const data = join(server.root, 'sessions', sessionId, 'volumes', 'data', '_data');
    expect(isMountPoint(data)).toBe(true);
    const mount = readMounts().find((m) => m.mountPoint === data);
    expect(mount?.fsType).toBe('tmpfs');
    expect(mount?.superOptions).toMatch(/size=8192k/);

    await runInShell(
      client,
      channel,
      "docker run --rm -v data:/data busybox sh -c 'echo kept > /data/f && echo wrote-it'",
      /\r\nwrote-it\r\n/,
    );
    await runInShell(client, channel, 'docker run --rm -v data:/data busybox cat /data/f', /\r\nkept\r\n/);
    // Past the cap, writes fail inside the container; the host's disk never sees them.
    await runInShell(
      client,
      channel,
      "docker run --rm -v data:/data busybox sh -c 'dd if=/dev/zero of=/data/big bs=1M count=32 2>/dev/null; echo dd-status=$?'",
      /dd-status=1/,
    );
    // The browser terminal never learns the host path.
    await runInShell(client, channel, 'docker volume inspect -f "mp=[{{.Mountpoint}}]" data', /mp=\[\]/);

    await runInShell(
      client,
      channel,
      'docker run --rm -v /etc:/host busybox ls /host',
      /host paths cannot be mounted/,
    );
    const out = await runInShell(
      client,
      channel,
      'docker run --rm --mount type=bind,source=/etc,target=/host busybox ls /host',
      /host paths cannot be mounted[\s\S]*host paths cannot be mounted[^\n]*\n/,
    );
    expect(out).toContain('host paths cannot be mounted in this sandbox; use a named volume: -v data:/path');

    // The session's volume count is capped too.
    await runInShell(client, channel, 'docker volume create second', /\r\nsecond\r\n/);
    await runInShell(client, channel, 'docker volume create third', /volume limit reached/);
  });

  it('goes with its session: the tmpfs is unmounted when the session is disposed', async () => {
    expect(mountsOfServer().some((m) => m.mountPoint.endsWith('/volumes/data/_data'))).toBe(true);
    await client.close();
    await server.server.sessions.disposeAll();
    expect(mountsOfServer()).toEqual([]);
  });
});
