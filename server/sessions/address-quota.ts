// Per-address admission of new sessions: how many sessions one client address may hold at once, and
// a token bucket of how fast it may create them. Without it one address took every session of the node
// (186 in 3.8 s) and everyone else got "server full" for half an hour. An IPv6 client is counted per
// /64, the block one subscriber usually gets, so rotating addresses inside it does not multiply the cap.

import { isIP } from 'node:net';
import type { ServerLimits } from '../limits.ts';

/** Thrown by SessionManager.create() when the client's address is over its share; the page gets 429. */
export class SessionQuotaError extends Error {
  /** The address (or /64) that is over its share. */
  readonly client: string;
  /** For `Retry-After`. */
  readonly retryAfterSeconds: number;
  constructor(client: string, message: string, retryAfterSeconds: number) {
    super(message);
    this.name = 'SessionQuotaError';
    this.client = client;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The key an address is counted under: IPv4 as is, IPv6 as its /64 prefix (`2001:db8:1:2::/64`). */
export function addressKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const groups = expandIpv6(address);
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : address;
}

function expandIpv6(address: string): string[] | undefined {
  let text = address.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return undefined;
  return [...left, ...Array<string>(missing).fill('0'), ...right].map((g) =>
    Number.parseInt(g, 16).toString(16),
  );
}

interface Entry {
  live: number;
  tokens: number;
  at: number;
}

export class AddressQuota {
  readonly #limits: ServerLimits['sessionsPerAddress'];
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(limits: ServerLimits['sessionsPerAddress'], now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
  }

  /** Sessions `client` holds now. */
  holding(client: string): number {
    return this.#entries.get(addressKey(client))?.live ?? 0;
  }

  /**
   * Counts a new session of `client` in, or throws SessionQuotaError (nothing counted). Returns the
   * function that counts it out when the session ends.
   */
  admit(client: string): () => void {
    const key = addressKey(client);
    const { max, burst, perMinute } = this.#limits;
    const now = this.#now();
    const entry = this.#refill(key, now);
    if (entry.live >= max) {
      throw new SessionQuotaError(
        key,
        `too many sessions from your address (${key} holds ${entry.live}, at most ${max}); ` +
          'close other Layerlab tabs, or try again in a minute',
        60,
      );
    }
    if (entry.tokens < 1) {
      const wait = Math.ceil(((1 - entry.tokens) * 60) / perMinute);
      throw new SessionQuotaError(
        key,
        `too many new sessions from your address (${key}: at most ${burst} at once, then ${perMinute} a minute); ` +
          `try again in ${wait} s`,
        wait,
      );
    }
    entry.tokens -= 1;
    entry.live++;
    this.#entries.set(key, entry);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      entry.live--;
      this.#prune();
    };
  }

  #refill(key: string, now: number): Entry {
    const { burst, perMinute } = this.#limits;
    const entry = this.#entries.get(key) ?? { live: 0, tokens: burst, at: now };
    entry.tokens = Math.min(burst, entry.tokens + ((now - entry.at) * perMinute) / 60_000);
    entry.at = now;
    return entry;
  }

  /** Forgets addresses that hold nothing and have a full bucket: they look exactly like new ones. */
  #prune(): void {
    if (this.#entries.size < 1024) return;
    const now = this.#now();
    for (const [key, entry] of this.#entries) {
      if (entry.live === 0 && this.#refill(key, now).tokens >= this.#limits.burst) this.#entries.delete(key);
    }
  }
}
