// A tiny HTTP router for the JSON API: `router.get/post(path, handler)` with `:param` segments,
// session resolution (cookie `layerlab_session` or `?token=`), a capped JSON body, and typed errors
// that become `{ error: { code, message } }` responses — never a stack. Every non-GET request must
// come from this server's origin with a JSON body (origin.ts), checked here once for all routes.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Session } from '../sessions/session.ts';
import { stateChangeRefusal } from './origin.ts';
import { requestInfo } from './request-info.ts';

export const SESSION_COOKIE = 'layerlab_session';

/**
 * The `Set-Cookie` value that gives a browser its session: HttpOnly, SameSite=Lax, and Secure when
 * the request came over HTTPS (directly, or through a trusted proxy that says so).
 */
export function sessionCookie(req: IncomingMessage, token: string): string {
  const secure = requestInfo(req).scheme === 'https' ? '; Secure' : '';
  return `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Lax${secure}`;
}

export interface RouteContext {
  /** The caller's session; present whenever the route requires one (the default). */
  session: Session | undefined;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The parsed JSON body of a POST (undefined when empty). */
  body: unknown;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, ctx: RouteContext) => unknown;

export interface RouteOptions {
  /** `session` (default): 401 without a valid session. `none`: resolved if present, never required. */
  auth?: 'session' | 'none';
}

/** An error with an HTTP status, thrown by handlers; the message is shown to the caller. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  /** Headers the answer carries too (a `Retry-After`, a cookie that sends the retry elsewhere). */
  readonly headers: Record<string, string | string[]>;
  constructor(
    status: number,
    code: string,
    message: string,
    headers: Record<string, string | string[]> = {},
  ) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

interface Route {
  method: 'GET' | 'POST';
  path: string;
  segments: string[];
  handler: Handler;
  auth: 'session' | 'none';
}

export interface Router {
  get(path: string, handler: Handler, options?: RouteOptions): void;
  post(path: string, handler: Handler, options?: RouteOptions): void;
  /** Every route registered, in order (tests check each state-changing one refuses cross-site requests). */
  list(): { method: 'GET' | 'POST'; path: string }[];
  /** Handles the request if a route matches; returns false otherwise (the caller serves static files). */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  data: unknown,
  headers: Record<string, string | string[]> = {},
) {
  const body = JSON.stringify(data);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string | string[]> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: { code, message } }, headers);
}

/** Reads the cookie header into a map (first value wins, as browsers send the most specific first). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!name || cookies.has(name)) continue;
    try {
      cookies.set(name, decodeURIComponent(part.slice(eq + 1).trim()));
    } catch {
      // a malformed escape: ignore that cookie
    }
  }
  return cookies;
}

/** The session token a request presents: `?token=` first (explicit), else the cookie. */
export function requestToken(req: IncomingMessage, url: URL): string | undefined {
  return url.searchParams.get('token') || parseCookies(req.headers.cookie).get(SESSION_COOKIE) || undefined;
}

export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw new HttpError(413, 'too_large', `request body over ${maxBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new HttpError(413, 'too_large', `request body over ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'bad_json', 'request body is not valid JSON');
  }
}

export function createRouter(options: {
  resolveSession: (token: string | undefined) => Session | undefined;
  maxBodyBytes: number;
  /** Origins besides the request's own host accepted on state-changing requests (public URLs, a dev server). */
  allowedOrigins?: readonly string[];
  /** Called with unexpected handler errors (logged and counted by the server). */
  onError?: (err: unknown, req: IncomingMessage) => void;
}): Router {
  const routes: Route[] = [];
  const add =
    (method: Route['method']) =>
    (path: string, handler: Handler, opts: RouteOptions = {}) => {
      routes.push({ method, path, segments: split(path), handler, auth: opts.auth ?? 'session' });
    };

  return {
    get: add('GET'),
    post: add('POST'),
    list: () => routes.map(({ method, path }) => ({ method, path })),
    async handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      const segments = split(url.pathname);
      let params: Record<string, string> | undefined;
      let route: Route | undefined;
      let pathMatched = false;
      for (const r of routes) {
        const p = match(r.segments, segments);
        if (!p) continue;
        pathMatched = true;
        if (r.method === method) {
          route = r;
          params = p;
          break;
        }
      }
      if (!route || !params) {
        if (!pathMatched) return false;
        sendError(res, 405, 'method_not_allowed', `${req.method} is not allowed here`);
        return true;
      }
      try {
        if (route.method !== 'GET') {
          const refusal = stateChangeRefusal(req, options.allowedOrigins ?? []);
          if (refusal) throw new HttpError(refusal.status, refusal.code, refusal.message);
        }
        const session = options.resolveSession(requestToken(req, url));
        if (route.auth === 'session' && !session) {
          throw new HttpError(401, 'no_session', 'no valid session: open the page again to get one');
        }
        session?.touch();
        const body = route.method === 'POST' ? await readJsonBody(req, options.maxBodyBytes) : undefined;
        await route.handler(req, res, { session, params, query: url.searchParams, body });
        if (!res.headersSent) {
          res.writeHead(204);
          res.end();
        }
      } catch (err) {
        if (err instanceof HttpError) sendError(res, err.status, err.code, err.message, err.headers);
        else {
          options.onError?.(err, req);
          sendError(res, 500, 'internal', 'internal server error');
        }
      }
      return true;
    },
  };
}

function split(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

function match(pattern: string[], actual: string[]): Record<string, string> | undefined {
  if (pattern.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const a = actual[i]!;
    if (p.startsWith(':')) {
      try {
        params[p.slice(1)] = decodeURIComponent(a);
      } catch {
        return undefined;
      }
    } else if (p !== a) return undefined;
  }
  return params;
}
