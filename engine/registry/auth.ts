// Registry authentication: the `/v2/` ping learns the challenge; Bearer challenges are answered with a
// token from the realm (anonymous or with Basic credentials), cached per scope; Basic with credentials.

import { RegistryError, redact } from '../errors.ts';
import type { Credentials } from './credentials.ts';
import { basicAuthorization } from './credentials.ts';
import type { Endpoint } from './endpoints.ts';
import { type HttpResponse, send, type TransportOptions } from './transport.ts';

export interface Challenge {
  /** Lower-cased: `bearer`, `basic`. */
  scheme: string;
  params: Record<string, string>;
}

/** Parses a `WWW-Authenticate` header (RFC 7235), which may hold several challenges. */
export function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let i = 0;
  const skip = (chars: string) => {
    while (i < header.length && chars.includes(header[i]!)) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < header.length && !' \t,='.includes(header[i]!)) i++;
    return header.slice(start, i);
  };
  while (i < header.length) {
    skip(' \t,');
    const word = token();
    if (word === '') {
      i++;
      continue;
    }
    skip(' \t');
    if (header[i] === '=') {
      i++;
      skip(' \t');
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < header.length && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < header.length) i++;
          value += header[i];
          i++;
        }
        i++;
      } else {
        value = token();
      }
      // A parameter before any scheme belongs to nothing and is dropped.
      const current = challenges[challenges.length - 1];
      if (current) current.params[word.toLowerCase()] = value;
    } else {
      challenges.push({ scheme: word.toLowerCase(), params: {} });
    }
  }
  return challenges;
}

/** The scope a repository operation needs, as in the distribution token spec. */
export function repositoryScope(path: string, actions: 'pull' | 'pull,push'): string {
  return `repository:${path}:${actions}`;
}

export type AuthStep = (step: 'ping' | 'token', url: string, status: number) => void;

interface CachedToken {
  value: string;
  expiresAt: number;
}

const DEFAULT_TOKEN_SECONDS = 60;
const TOKEN_BYTES_LIMIT = 1024 * 1024;

/** Holds what one client learned about each endpoint: its challenge and the tokens it was given. */
export class Authenticator {
  private readonly challenges = new Map<string, Challenge | null>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly transport: TransportOptions;
  private readonly lookup: (endpoint: Endpoint) => Credentials | undefined;
  private readonly observe: AuthStep;

  constructor(
    transport: TransportOptions,
    lookup: (endpoint: Endpoint) => Credentials | undefined,
    observe: AuthStep = () => {},
  ) {
    this.transport = transport;
    this.lookup = lookup;
    this.observe = observe;
  }

  /** Pings `/v2/` once per endpoint to learn whether and how it wants authentication. */
  async ping(endpoint: Endpoint): Promise<void> {
    if (this.challenges.has(endpoint.base)) return;
    const url = `${endpoint.base}/v2/`;
    const response = await send({ method: 'GET', url }, this.transport);
    await response.discard();
    this.observe('ping', url, response.status);
    this.challenges.set(endpoint.base, response.status === 401 ? pickChallenge(response) : null);
  }

  /** The Authorization header value for a request in `scope`, fetching a token when needed. */
  async authorization(endpoint: Endpoint, scope: string): Promise<string | undefined> {
    await this.ping(endpoint);
    const challenge = this.challenges.get(endpoint.base);
    if (!challenge) return undefined;
    const credentials = this.lookup(endpoint);
    if (challenge.scheme === 'basic') return credentials ? basicAuthorization(credentials) : undefined;
    if (challenge.scheme !== 'bearer') return undefined;
    const key = `${endpoint.base} ${scope}`;
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.value}`;
    const token = await this.fetchToken(challenge, scope, credentials);
    this.tokens.set(key, token);
    return `Bearer ${token.value}`;
  }

  /**
   * After a 401 on a request: adopts the challenge it carried and forgets the cached token for the
   * scope. Returns true when asking again with fresh authorization may succeed.
   */
  forget(endpoint: Endpoint, scope: string, response: HttpResponse): boolean {
    const fresh = pickChallenge(response);
    const before = this.challenges.get(endpoint.base);
    const hadToken = this.tokens.delete(`${endpoint.base} ${scope}`);
    if (!fresh) return false;
    this.challenges.set(endpoint.base, fresh);
    // A first challenge on an endpoint that claimed to need none, or an expired/insufficient token.
    return !before || hadToken;
  }

  private async fetchToken(
    challenge: Challenge,
    scope: string,
    credentials: Credentials | undefined,
  ): Promise<CachedToken> {
    const realm = challenge.params.realm;
    if (!realm) throw new RegistryError('registry token challenge names no realm');
    const url = new URL(realm);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    url.searchParams.set('scope', scope);
    const headers: Record<string, string> = {};
    if (credentials) headers.Authorization = basicAuthorization(credentials);
    const response = await send({ method: 'GET', url: url.toString(), headers }, this.transport);
    this.observe('token', redact(url.toString()), response.status);
    const body = await response.bytes(TOKEN_BYTES_LIMIT, 'token response');
    if (response.status === 401 || response.status === 403) {
      const what = credentials ? 'incorrect username or password' : 'authentication required';
      throw new RegistryError(`Get "${redact(realm)}": unauthorized: ${what}`, { status: 401, input: realm });
    }
    if (response.status !== 200) {
      throw new RegistryError(`Get "${redact(realm)}": token request failed: ${response.status}`, {
        status: response.status,
        input: realm,
      });
    }
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new RegistryError(`Get "${redact(realm)}": token response is not JSON`);
    }
    const value = typeof parsed.token === 'string' ? parsed.token : parsed.access_token;
    if (typeof value !== 'string' || value === '') {
      throw new RegistryError(`Get "${redact(realm)}": token response has no token`);
    }
    const seconds =
      typeof parsed.expires_in === 'number' && parsed.expires_in > 0
        ? parsed.expires_in
        : DEFAULT_TOKEN_SECONDS;
    // Renew a little early so a token does not expire between the check and the request.
    return { value, expiresAt: Date.now() + Math.max(seconds - 5, 1) * 1000 };
  }
}

function pickChallenge(response: HttpResponse): Challenge | null {
  const header = response.headers.get('www-authenticate');
  if (!header) return null;
  const challenges = parseChallenges(header);
  return (
    challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic') ?? null
  );
}
