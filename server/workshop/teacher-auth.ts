// Teacher sign-in: after the workshop's password is verified, the browser holds an HttpOnly,
// SameSite=Strict cookie with 256 random bits; the server keeps only its sha256, mapped to the
// workshop. Password tries are limited per client address, counted before the slow hash runs.

import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { addressKey } from '../http/connections.ts';
import { parseCookies } from '../http/router.ts';
import { PasswordBusyError } from './password.ts';

export const TEACHER_COOKIE = 'layerlab_teacher';
const TEACHER_TTL_MS = 12 * 60 * 60 * 1000;

/** How a password try ended: `limited` and `busy` checked nothing (answer 429). */
export type TryResult = 'ok' | 'wrong' | 'limited' | 'busy';

/** Addresses remembered at most; past it expired windows are forgotten first. */
const MAX_TRACKED = 10_000;

export interface Grant {
  workshopId: string;
  expires: number;
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class TeacherAuth {
  readonly #grants = new Map<string, Grant>();
  readonly #tries = new Map<string, { count: number; since: number }>();
  readonly #now: () => number;
  /** Password tries allowed per address per window (a right password gives its try back). */
  readonly maxTries: number;
  readonly windowMs: number;

  /** In a cluster, every grant (and sign-out: undefined) is shared so a cookie works on any node. */
  readonly #share: ((key: string, grant: Grant | undefined) => void) | undefined;

  constructor(
    options: {
      now?: () => number;
      maxTries?: number;
      windowMs?: number;
      share?: (key: string, grant: Grant | undefined) => void;
    } = {},
  ) {
    this.#now = options.now ?? Date.now;
    this.#share = options.share;
    this.maxTries = options.maxTries ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
  }

  /** Issues a token for the workshop; the caller sets it with `cookie()`. */
  grant(workshopId: string): string {
    const token = randomBytes(32).toString('base64url');
    const grant = { workshopId, expires: this.#now() + TEACHER_TTL_MS };
    this.#grants.set(digest(token), grant);
    this.#share?.(digest(token), grant);
    return token;
  }

  /** A grant another cluster node issued or revoked (keyed by the token's sha256, as kept here). */
  accept(key: string, grant: Grant | undefined): void {
    if (grant === undefined) this.#grants.delete(key);
    else if (grant.expires > this.#now()) this.#grants.set(key, grant);
  }

  /** The workshop id the request's teacher cookie grants, if any. */
  workshopOf(req: IncomingMessage): string | undefined {
    const token = parseCookies(req.headers.cookie).get(TEACHER_COOKIE);
    if (!token || token.length > 200) return undefined;
    const key = digest(token);
    const grant = this.#grants.get(key);
    if (!grant) return undefined;
    if (grant.expires <= this.#now()) {
      this.#grants.delete(key);
      return undefined;
    }
    return grant.workshopId;
  }

  revoke(req: IncomingMessage): void {
    const token = parseCookies(req.headers.cookie).get(TEACHER_COOKIE);
    if (!token) return;
    this.#grants.delete(digest(token));
    this.#share?.(digest(token), undefined);
  }

  revokeWorkshop(workshopId: string): void {
    for (const [key, grant] of this.#grants) if (grant.workshopId === workshopId) this.#grants.delete(key);
  }

  cookie(token: string, secure: boolean): string {
    return `${TEACHER_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${TEACHER_TTL_MS / 1000}${secure ? '; Secure' : ''}`;
  }

  clearCookie(): string {
    return `${TEACHER_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
  }

  /**
   * Checks a password on behalf of `address`. The try is counted before `check` starts, in the same
   * tick as the limit is read, so a hundred concurrent guesses take at most `maxTries` slots and the
   * rest are refused without hashing. A right password, or a check refused as busy, gives it back.
   */
  async tryPassword(address: string | undefined, check: () => Promise<boolean>): Promise<TryResult> {
    const key = addressKey(address);
    if (!this.#reserve(key)) return 'limited';
    let ok: boolean;
    try {
      ok = await check();
    } catch (err) {
      this.#release(key);
      if (err instanceof PasswordBusyError) return 'busy';
      throw err;
    }
    if (ok) this.#release(key);
    return ok ? 'ok' : 'wrong';
  }

  #reserve(key: string): boolean {
    const now = this.#now();
    const entry = this.#tries.get(key);
    if (!entry || now - entry.since > this.windowMs) {
      if (this.#tries.size >= MAX_TRACKED) this.#forgetExpired(now);
      this.#tries.set(key, { count: 1, since: now });
      return true;
    }
    if (entry.count >= this.maxTries) return false;
    entry.count++;
    return true;
  }

  #release(key: string): void {
    const entry = this.#tries.get(key);
    if (entry && entry.count > 0) entry.count--;
  }

  /** Bounded memory: expired windows go first; if every entry is live, the oldest half goes. */
  #forgetExpired(now: number): void {
    for (const [key, entry] of this.#tries) if (now - entry.since > this.windowMs) this.#tries.delete(key);
    if (this.#tries.size < MAX_TRACKED) return;
    let drop = this.#tries.size / 2;
    for (const key of this.#tries.keys()) {
      if (drop-- <= 0) break;
      this.#tries.delete(key);
    }
  }
}
