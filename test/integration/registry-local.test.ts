// The local registry process that setup leaves running and tests start: config, readiness, stop, and
// a clear error naming the log when it cannot start.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isRegistryUp, registryConfig, startLocalRegistry } from '../../engine/registry/local.ts';
import { freePort } from '../support/registry.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'layerlab-local-registry-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startLocalRegistry', () => {
  it('writes a loopback-only config with deletes enabled', () => {
    const yaml = registryConfig(5123, '/srv/reg');
    expect(yaml).toContain('addr: 127.0.0.1:5123');
    expect(yaml).toContain('rootdirectory: "/srv/reg/data"');
    expect(yaml).toMatch(/delete:\n\s+enabled: true/);
    expect(yaml).toMatch(/level: warn/);
  });

  it('starts docker-registry, answers /v2/, and stops', async () => {
    const dir = tempDir();
    const port = await freePort();
    const registry = await startLocalRegistry({ port, storageDir: dir });
    try {
      expect(registry.url).toBe(`http://127.0.0.1:${port}`);
      expect(await isRegistryUp(registry.url)).toBe(true);
      expect(alive(registry.pid)).toBe(true);
      expect(existsSync(join(dir, 'config.yml'))).toBe(true);
      await expect(startLocalRegistry({ port, storageDir: tempDir() })).rejects.toThrow(/already answers/);
    } finally {
      await registry.stop();
    }
    expect(alive(registry.pid)).toBe(false);
    expect(await isRegistryUp(registry.url)).toBe(false);
  });

  it('names the log file when the registry cannot start', async () => {
    // Something that accepts connections but is not a registry holds the port.
    const squatter = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const address = squatter.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const dir = tempDir();
    const logFile = join(dir, 'custom.log');
    try {
      await expect(startLocalRegistry({ port, storageDir: dir, logFile, timeoutMs: 5000 })).rejects.toThrow(
        `see ${logFile}`,
      );
      expect(readFileSync(logFile, 'utf8')).toMatch(/address already in use/);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });
});
