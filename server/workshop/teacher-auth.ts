// Teacher sign-in: after the workshop's password is verified, the browser holds an HttpOnly,
// SameSite=Strict cookie with 256 random bits; the server keeps only its sha256, mapped to the
// workshop. Failed passwords are rate-limited per client address.

import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { parseCookies } from '../http/router.ts';

export const TEACHER_COOKIE = 'layerlab_teacher';
const TEACHER_TTL_MS = 12 * 60 * 60 * 1000;

interface Grant {
  workshopId: string;
  expires: number;
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class TeacherAuth {
  readonly #grants = new Map<string, Grant>();
  readonly #failures = new Map<string, { count: number; since: number }>();
  readonly #now: () => number;
  /** Wrong passwords allowed per address per window before logins are refused for the rest of it. */
  readonly maxFailures: number;
  readonly windowMs: number;

  constructor(options: { now?: () => number; maxFailures?: number; windowMs?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.maxFailures = options.maxFailures ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
  }

  /** Issues a token for the workshop; the caller sets it with `cookie()`. */
  grant(workshopId: string): string {
    const token = randomBytes(32).toString('base64url');
    this.#grants.set(digest(token), { workshopId, expires: this.#now() + TEACHER_TTL_MS });
    return token;
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
    if (token) this.#grants.delete(digest(token));
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

  /** Whether this address may try a password now. */
  mayTry(address: string): boolean {
    const entry = this.#failures.get(address);
    if (!entry) return true;
    if (this.#now() - entry.since > this.windowMs) {
      this.#failures.delete(address);
      return true;
    }
    return entry.count < this.maxFailures;
  }

  failed(address: string): void {
    const now = this.#now();
    const entry = this.#failures.get(address);
    if (!entry || now - entry.since > this.windowMs) this.#failures.set(address, { count: 1, since: now });
    else entry.count++;
    // Bounded: an attacker rotating addresses cannot grow the map without limit.
    if (this.#failures.size > 10_000) this.#failures.clear();
  }
}
