// `npm run setup` end to end on a fresh root and a free port: every step runs, a second run finds
// everything in place (registry up, images up to date), and the host checks pass on this machine.
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCredentialsFile } from '../../engine/registry/credentials.ts';
import { isRegistryUp, registryAccess, startLocalRegistry } from '../../engine/registry/local.ts';
import { checkHost } from '../../scripts/setup/host.ts';
import { missingPackages, REQUIRED_PACKAGES } from '../../scripts/setup/packages.ts';
import { freshContext, type TestContext } from '../support/context.ts';
import { freePort } from '../support/registry.ts';

const SETUP = join(import.meta.dirname, '..', '..', 'scripts', 'setup.ts');

let t: TestContext;
let port: number;
let registryPid: number | undefined;

function setup(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SETUP], {
      env: { ...process.env, LAYERLAB_ROOT: t.root, LAYERLAB_REGISTRY_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  t = freshContext();
  port = await freePort();
});

afterAll(() => {
  // The registry outlives setup by design; this test started it, so it stops it.
  if (registryPid !== undefined) process.kill(registryPid, 'SIGTERM');
  t.cleanup();
});

describe('setup', () => {
  it('passes the host checks and finds the packages installed here', () => {
    expect(() => checkHost()).not.toThrow();
    expect(missingPackages()).toEqual([]);
    expect(REQUIRED_PACKAGES).toContain('docker-registry');
  });

  it('prepares a fresh root: packages, native helpers, registry, seed, runtime', async () => {
    const first = await setup();
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const pid = /started at http:\/\/127\.0\.0\.1:\d+ \(pid (\d+)/.exec(first.stdout)?.[1];
    expect(pid).toBeDefined();
    registryPid = Number(pid);
    expect(first.stdout).toContain('==> System packages\n    all 9 packages present\n');
    expect(first.stdout).toContain('library/busybox: pushed');
    expect(first.stdout).toMatch(/==> Container runtime\n {4}(crun|runc) \S+ \(\/\S+\)\n/);
    expect(first.stdout).toContain('Layerlab is set up.');
    expect(await isRegistryUp(`http://127.0.0.1:${port}`)).toBe(true);
    expect(existsSync(join(t.root, 'registry', 'registry.log'))).toBe(true);
    expect(existsSync(join(import.meta.dirname, '..', '..', 'native', 'build', 'layerlab-shim'))).toBe(true);
  });

  it('is idempotent: a second run leaves the registry alone and pushes nothing', async () => {
    const second = await setup();
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`already running at http://127.0.0.1:${port}`);
    expect(second.stdout).toContain('library/busybox: up to date');
    expect(second.stdout).not.toMatch(/: pushed$/m);
  });

  it('replaces a registry that lets anyone in (one an older setup left running) with one that wants its credential', async () => {
    // What an older setup left: the same storage, served with no auth at all.
    const url = `http://127.0.0.1:${port}`;
    const storageDir = join(t.root, 'registry');
    if (registryPid !== undefined) process.kill(registryPid, 'SIGTERM');
    for (let i = 0; i < 100 && (await isRegistryUp(url, 200)); i++) await sleep(50);
    const old = await startLocalRegistry({ port, storageDir, auth: false });
    registryPid = old.pid;
    expect(await registryAccess(url, undefined)).toBe('open');

    const third = await setup();
    expect(third.code).toBe(0);
    expect(third.stdout).toContain(`replacing the registry at ${url} (pid ${old.pid}): it has no auth`);
    registryPid = Number(/started at http:\/\/127\.0\.0\.1:\d+ \(pid (\d+)/.exec(third.stdout)?.[1]);
    expect(() => process.kill(old.pid, 0)).toThrow();
    const credentials = readCredentialsFile(join(storageDir, 'credentials.json'))[`127.0.0.1:${port}`];
    expect(await registryAccess(url, credentials)).toBe('protected');
    expect((await fetch(`${url}/v2/library/busybox/blobs/uploads/`, { method: 'POST' })).status).toBe(401);
    // The seeded images survived the swap.
    expect(third.stdout).toContain('library/busybox: up to date');
    expect(statSync(join(storageDir, 'credentials.json')).mode & 0o777).toBe(0o600);
  });
});
