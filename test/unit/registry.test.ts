// The registry client's pure parts: auth challenges, endpoint selection, platform matching, credentials.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineConfigSchema } from '../../engine/config.ts';
import { InvalidArgumentError, LayerlabError } from '../../engine/errors.ts';
import { sha256 } from '../../engine/oci/digest.ts';
import { MediaType } from '../../engine/oci/media-types.ts';
import type { Index, Platform } from '../../engine/oci/types.ts';
import { parseChallenges, repositoryScope } from '../../engine/registry/auth.ts';
import { credentialsFor, loadCredentials } from '../../engine/registry/credentials.ts';
import { isLoopbackHost, pullEndpoints, registryEndpoint } from '../../engine/registry/endpoints.ts';
import {
  formatPlatform,
  hostPlatform,
  parsePlatform,
  selectManifest,
} from '../../engine/registry/platform.ts';

describe('parseChallenges', () => {
  it('reads a Docker Hub bearer challenge', () => {
    const header =
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"';
    expect(parseChallenges(header)).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/busybox:pull',
        },
      },
    ]);
  });

  it('reads several challenges, unquoted values, escapes and spacing', () => {
    const header =
      'Basic realm="a \\"quoted\\" realm", Bearer realm=http://x/token , service = s,scope="a:b:pull,push"';
    expect(parseChallenges(header)).toEqual([
      { scheme: 'basic', params: { realm: 'a "quoted" realm' } },
      { scheme: 'bearer', params: { realm: 'http://x/token', service: 's', scope: 'a:b:pull,push' } },
    ]);
  });

  it('tolerates empty and odd headers', () => {
    expect(parseChallenges('')).toEqual([]);
    expect(parseChallenges('Bearer')).toEqual([{ scheme: 'bearer', params: {} }]);
    expect(parseChallenges(' , ,')).toEqual([]);
    expect(parseChallenges('realm=x, Basic')).toEqual([{ scheme: 'basic', params: {} }]);
  });

  it('spells scopes as the token spec does', () => {
    expect(repositoryScope('library/busybox', 'pull')).toBe('repository:library/busybox:pull');
    expect(repositoryScope('a/b', 'pull,push')).toBe('repository:a/b:pull,push');
  });
});

describe('endpoints', () => {
  const config = engineConfigSchema.parse({
    mirrors: { 'docker.io': ['http://127.0.0.1:5000', 'mirror.example.com/'] },
    insecureRegistries: ['plain.example:8080', 'lan-host'],
  });

  it('maps docker.io to its API host and puts mirrors first', () => {
    expect(pullEndpoints(config, 'docker.io')).toEqual([
      { base: 'http://127.0.0.1:5000', host: '127.0.0.1:5000', registry: 'docker.io', mirror: true },
      { base: 'https://mirror.example.com', host: 'mirror.example.com', registry: 'docker.io', mirror: true },
      {
        base: 'https://registry-1.docker.io',
        host: 'registry-1.docker.io',
        registry: 'docker.io',
        mirror: false,
      },
    ]);
  });

  it('speaks http to loopback and insecure registries only', () => {
    expect(registryEndpoint(config, 'localhost:5000').base).toBe('http://localhost:5000');
    expect(registryEndpoint(config, '127.0.0.1:5000').base).toBe('http://127.0.0.1:5000');
    expect(registryEndpoint(config, '[::1]:5000').base).toBe('http://[::1]:5000');
    expect(registryEndpoint(config, 'plain.example:8080').base).toBe('http://plain.example:8080');
    expect(registryEndpoint(config, 'lan-host:9000').base).toBe('http://lan-host:9000');
    expect(registryEndpoint(config, 'plain.example').base).toBe('https://plain.example');
    expect(registryEndpoint(config, 'ghcr.io').base).toBe('https://ghcr.io');
    expect(isLoopbackHost('127.1.2.3')).toBe(true);
    expect(isLoopbackHost('localhost.evil.com')).toBe(false);
  });
});

describe('platform selection', () => {
  const entry = (platform: Platform | undefined, n: number) => ({
    mediaType: MediaType.ociManifest,
    digest: sha256(String(n)),
    size: 100,
    ...(platform ? { platform } : {}),
  });
  const index: Index = {
    schemaVersion: 2,
    manifests: [
      entry({ os: 'linux', architecture: 'arm', variant: 'v6' }, 0),
      entry({ os: 'linux', architecture: 'arm', variant: 'v7' }, 1),
      entry({ os: 'linux', architecture: 'arm64', variant: 'v8' }, 2),
      entry({ os: 'linux', architecture: 'amd64' }, 3),
      entry({ os: 'windows', architecture: 'amd64' }, 4),
      entry({ os: 'unknown', architecture: 'unknown' }, 5),
      entry(undefined, 6),
    ],
  };

  it('picks os and architecture', () => {
    expect(selectManifest(index, { os: 'linux', architecture: 'amd64' }).digest).toBe(sha256('3'));
    expect(selectManifest(index, { os: 'windows', architecture: 'amd64' }).digest).toBe(sha256('4'));
  });

  it('treats arm64 without a variant as v8', () => {
    expect(selectManifest(index, { os: 'linux', architecture: 'arm64' }).digest).toBe(sha256('2'));
    const bare: Index = { schemaVersion: 2, manifests: [entry({ os: 'linux', architecture: 'arm64' }, 9)] };
    expect(selectManifest(bare, { os: 'linux', architecture: 'arm64', variant: 'v8' }).digest).toBe(
      sha256('9'),
    );
  });

  it('prefers the exact arm variant and falls back to older ones', () => {
    expect(selectManifest(index, { os: 'linux', architecture: 'arm', variant: 'v7' }).digest).toBe(
      sha256('1'),
    );
    expect(selectManifest(index, { os: 'linux', architecture: 'arm', variant: 'v6' }).digest).toBe(
      sha256('0'),
    );
    const onlyV6: Index = { schemaVersion: 2, manifests: [index.manifests[0]!] };
    expect(selectManifest(onlyV6, { os: 'linux', architecture: 'arm', variant: 'v7' }).digest).toBe(
      sha256('0'),
    );
    expect(() => selectManifest(onlyV6, { os: 'linux', architecture: 'arm', variant: 'v5' })).toThrow(
      LayerlabError,
    );
  });

  it('says which platform had no match, as Docker does', () => {
    expect(() => selectManifest(index, { os: 'linux', architecture: 's390x' })).toThrow(
      'no matching manifest for linux/s390x in the manifest list entries',
    );
  });

  it('knows the host platform and parses platform strings', () => {
    const host = hostPlatform();
    expect(host.os).toBe('linux');
    expect(host.architecture).toBe(process.arch === 'x64' ? 'amd64' : host.architecture);
    expect(parsePlatform('linux/arm/v7')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(formatPlatform(parsePlatform('linux/amd64'))).toBe('linux/amd64');
    expect(() => parsePlatform('linux')).toThrow('invalid platform');
  });
});

describe('credentials', () => {
  it('reads auth.json and finds entries by host', () => {
    const root = mkdtempSync(join(tmpdir(), 'layerlab-auth-'));
    try {
      expect(loadCredentials(root)).toEqual({});
      writeFileSync(
        join(root, 'auth.json'),
        JSON.stringify({ '127.0.0.1:5000': { username: 'u', password: 'p' } }),
      );
      const store = loadCredentials(root);
      expect(credentialsFor(store, 'other', '127.0.0.1:5000')).toEqual({ username: 'u', password: 'p' });
      expect(credentialsFor(store, 'other')).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('rejects a malformed file without echoing the secret', () => {
    const root = mkdtempSync(join(tmpdir(), 'layerlab-auth-'));
    try {
      writeFileSync(
        join(root, 'auth.json'),
        JSON.stringify({ host: { username: 'u', password: 7, token: 'hunter2' } }),
      );
      let caught: unknown;
      try {
        loadCredentials(root);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(InvalidArgumentError);
      expect((caught as Error).message).not.toContain('hunter2');
      expect((caught as Error).message).toContain('auth.json');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
