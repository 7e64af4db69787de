// The pure parts of the server's edge: who a request is from behind trusted (and untrusted) proxies,
// which host names the server answers, and how client addresses are counted for session quotas.

import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createHostPolicy, parsePublicUrls } from '../../server/http/host-policy.ts';
import { plainAddress, resolveRequestInfo, TrustedProxies } from '../../server/http/request-info.ts';
import { AddressQuota, addressKey, SessionQuotaError } from '../../server/sessions/address-quota.ts';

const req = (peer: string, headers: Record<string, string>, encrypted = false) =>
  ({ socket: { remoteAddress: peer, encrypted }, headers }) as unknown as IncomingMessage;

describe('request info', () => {
  const proxies = new TrustedProxies(['127.0.0.1', '10.0.0.0/8']);

  it('ignores forwarding headers from a peer that is not a trusted proxy', () => {
    const info = resolveRequestInfo(
      req('192.0.2.7', {
        host: 'example.org',
        'x-forwarded-for': '203.0.113.1',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'evil.test',
        forwarded: 'for=198.51.100.1;proto=https',
      }),
      proxies,
    );
    expect(info).toEqual({
      client: '192.0.2.7',
      scheme: 'http',
      host: 'example.org',
      hostname: 'example.org',
    });
  });

  it('takes the client, scheme and host a trusted proxy names, skipping trusted hops', () => {
    const info = resolveRequestInfo(
      req('::ffff:127.0.0.1', {
        host: '127.0.0.1:8080',
        'x-forwarded-for': '203.0.113.66, 198.51.100.9, 10.1.2.3',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'Layerlab.Example.org',
      }),
      proxies,
    );
    // 198.51.100.9 is the first untrusted hop from the right: what a client prepends is not believed.
    expect(info).toEqual({
      client: '198.51.100.9',
      scheme: 'https',
      host: 'layerlab.example.org',
      hostname: 'layerlab.example.org',
    });
  });

  it('reads RFC 7239 Forwarded, quoted IPv6 and ports included', () => {
    const info = resolveRequestInfo(
      req('10.0.0.5', {
        host: 'internal:8080',
        forwarded: 'for=192.0.2.43, for="[2001:db8:cafe::17]:4711";proto=https;host=example.org',
      }),
      proxies,
    );
    expect(info).toMatchObject({ client: '2001:db8:cafe::17', scheme: 'https', host: 'example.org' });
  });

  it('refuses a trusted proxy entry that is not an address or range', () => {
    expect(() => new TrustedProxies(['proxy.local'])).toThrow(/not an IP address or CIDR range/);
    expect(() => new TrustedProxies(['10.0.0.0/33'])).toThrow(/trusted proxy "10.0.0.0\/33"/);
  });

  it('normalises addresses', () => {
    expect(plainAddress('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(plainAddress('[2001:DB8::1]:443')).toBe('2001:db8::1');
    expect(plainAddress('192.0.2.1:80')).toBe('192.0.2.1');
  });
});

describe('host policy', () => {
  const policy = createHostPolicy(
    parsePublicUrls(['https://layerlab.example.org', 'class.local:8080']),
    'box',
  );

  it('answers loopback names, IP literals, its own name and the public hosts', () => {
    for (const name of [
      'localhost',
      'app.localhost',
      '127.0.0.1',
      '[::1]',
      '192.168.1.20',
      'box',
      'box.local',
    ]) {
      expect(policy.allows(name), name).toBe(true);
    }
    expect(policy.allows('layerlab.example.org')).toBe(true);
    expect(policy.allows('class.local')).toBe(true);
  });

  it('refuses every other name, and IPv6 without brackets', () => {
    for (const name of [
      'attacker.test',
      'localhost.attacker.test',
      'example.org',
      '',
      '::1',
      '[127.0.0.1]',
    ]) {
      expect(policy.allows(name), name).toBe(false);
    }
  });

  it('refuses public URLs that are not http(s)', () => {
    expect(() => parsePublicUrls(['ftp://example.org'])).toThrow(/must be an http/);
  });
});

describe('address quota', () => {
  it('counts IPv6 clients per /64', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2::ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('192.0.2.1')).toBe('192.0.2.1');
  });

  it('caps live sessions and the creation rate, and frees a slot when a session ends', () => {
    let now = 0;
    const quota = new AddressQuota({ max: 3, burst: 2, perMinute: 6 }, () => now);
    const a = quota.admit('192.0.2.1');
    quota.admit('192.0.2.1');
    expect(() => quota.admit('192.0.2.1')).toThrow(SessionQuotaError);
    try {
      quota.admit('192.0.2.1');
    } catch (err) {
      expect((err as SessionQuotaError).retryAfterSeconds).toBe(10);
    }
    expect(quota.admit('192.0.2.2')).toBeTypeOf('function');
    now += 10_000;
    quota.admit('192.0.2.1');
    now += 60_000;
    expect(() => quota.admit('192.0.2.1')).toThrow(/holds 3, at most 3/);
    a();
    expect(quota.holding('192.0.2.1')).toBe(2);
    expect(quota.admit('192.0.2.1')).toBeTypeOf('function');
  });
});
