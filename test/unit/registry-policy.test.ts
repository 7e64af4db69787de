// The registry policy's pure parts: which URLs a session may connect to, where it may write, how its
// own registry's names map into its namespace, and the default policy the server gives a session.
import { describe, expect, it } from 'vitest';
import { engineConfigSchema } from '../../engine/config.ts';
import {
  checkPush,
  checkRequest,
  RegistryNotAllowedError,
  type RegistryPolicy,
  wirePath,
} from '../../engine/registry/policy.ts';
import { sessionNamespace, sessionPolicy } from '../../engine/registry/session-access.ts';

const policy: RegistryPolicy = {
  allowed: ['127.0.0.1:5000', 'registry.example.com', '*.cdn.example.net', 'auth.example.com:8443'],
  description: 'docker.io via the local mirror',
  own: { host: '127.0.0.1:5000', namespace: 'sessions/abc' },
};

const refused = (method: string, url: string) => () => checkRequest(policy, method, url);

describe('checkRequest', () => {
  it('lets reads go to allowed hosts only, matching ports exactly and wildcards by subdomain', () => {
    expect(refused('GET', 'http://127.0.0.1:5000/v2/')).not.toThrow();
    expect(refused('GET', 'https://registry.example.com/v2/')).not.toThrow();
    expect(refused('GET', 'https://a.cdn.example.net/blob')).not.toThrow();
    expect(refused('GET', 'https://auth.example.com:8443/token')).not.toThrow();
    for (const url of [
      'http://127.0.0.1:5001/v2/',
      'http://localhost:5000/v2/',
      'https://registry.example.com:444/v2/',
      'https://cdn.example.net/blob',
      'https://evil-cdn.example.net/blob',
      'https://auth.example.com/token',
      'http://10.0.0.1:8080/v2/',
      'http://[::1]:5000/v2/',
      'file:///etc/passwd',
      'data:text/plain,hi',
    ]) {
      expect(refused('GET', url), url).toThrow(RegistryNotAllowedError);
    }
  });

  it('sees through other spellings of an address, as the URL parser canonicalises them', () => {
    expect(refused('GET', 'http://2130706433:5000/v2/')).not.toThrow(); // 127.0.0.1
    expect(refused('GET', 'http://0x7f.1:5001/v2/')).toThrow(RegistryNotAllowedError);
  });

  it('lets writes into the own namespace only', () => {
    expect(refused('PUT', 'http://127.0.0.1:5000/v2/sessions/abc/app/manifests/v1')).not.toThrow();
    expect(refused('POST', 'http://127.0.0.1:5000/v2/sessions/abc/app/blobs/uploads/')).not.toThrow();
    for (const [method, url] of [
      ['PUT', 'http://127.0.0.1:5000/v2/library/busybox/manifests/latest'],
      ['POST', 'http://127.0.0.1:5000/v2/sessions/abcd/app/blobs/uploads/'],
      ['DELETE', 'http://127.0.0.1:5000/v2/sessions/other/app/manifests/sha256:00'],
      ['PATCH', 'https://registry.example.com/v2/sessions/abc/app/blobs/uploads/x'],
    ] as const) {
      expect(refused(method, url), `${method} ${url}`).toThrow(/denied: this session may write only/);
    }
  });

  it('names the refused host and what is allowed, and nothing else', () => {
    expect(refused('GET', 'http://10.0.0.1:8080/v2/x?secret=1')).toThrow(
      'registry "10.0.0.1:8080" is not allowed here (allowed: docker.io via the local mirror)',
    );
  });

  it('allows everything without a policy (the operator’s own CLI)', () => {
    expect(() => checkRequest(undefined, 'PUT', 'http://10.0.0.1:8080/v2/x/manifests/y')).not.toThrow();
    expect(() => checkPush(undefined, 'docker.io')).not.toThrow();
  });
});

describe('pushes and names', () => {
  it('pushes only to the own registry, which is addressed inside the namespace', () => {
    expect(() => checkPush(policy, '127.0.0.1:5000')).not.toThrow();
    expect(() => checkPush(policy, 'docker.io')).toThrow(
      /denied: pushing to "docker.io" is not allowed here/,
    );
    expect(wirePath(policy, '127.0.0.1:5000', 'library/busybox')).toBe('sessions/abc/library/busybox');
    expect(wirePath(policy, '127.0.0.1:5000', 'sessions/other/app')).toBe('sessions/abc/sessions/other/app');
    // docker.io names read through the mirror on the same host are the shared repositories.
    expect(wirePath(policy, 'docker.io', 'library/busybox')).toBe('library/busybox');
    expect(wirePath(undefined, '127.0.0.1:5000', 'library/busybox')).toBe('library/busybox');
  });
});

describe('sessionPolicy', () => {
  const config = engineConfigSchema.parse({ mirrors: { 'docker.io': ['http://127.0.0.1:5000'] } });

  it('allows the mirror (the local registry) and gives the session a namespace there', () => {
    const p = sessionPolicy(config, 'f'.repeat(32));
    expect(p.allowed).toEqual(['127.0.0.1:5000']);
    expect(p.own).toEqual({ host: '127.0.0.1:5000', namespace: sessionNamespace('f'.repeat(32)) });
    expect(p.own?.namespace).toMatch(/^sessions\/[0-9a-f]{20}$/);
    expect(sessionNamespace('a'.repeat(32))).not.toBe(sessionNamespace('b'.repeat(32)));
  });

  it('adds what the operator allowed, with docker.io’s API, token and blob hosts', () => {
    const p = sessionPolicy(config, 'f'.repeat(32), ['docker.io', 'ghcr.io']);
    expect(p.allowed).toEqual(
      expect.arrayContaining(['127.0.0.1:5000', 'registry-1.docker.io', 'auth.docker.io', 'ghcr.io']),
    );
  });

  it('has no own registry (so no pushes) when the mirror is not on this host', () => {
    const remote = engineConfigSchema.parse({ mirrors: { 'docker.io': ['https://mirror.example.com'] } });
    expect(sessionPolicy(remote, 'f'.repeat(32)).own).toBeUndefined();
    expect(() => checkPush(sessionPolicy(remote, 'f'.repeat(32)), 'mirror.example.com')).toThrow(/denied/);
  });
});
