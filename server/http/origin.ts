// Whether a request comes from a page of this server: the defence against cross-site request forgery.
// A browser names the page that makes a request in `Origin` (every non-GET fetch and form post, and
// every WebSocket) and, in current browsers, says in `Sec-Fetch-Site` how it relates to the target. A
// state-changing request must come from our own origin AND carry `Content-Type: application/json`: a
// cross-site page can only send JSON after a CORS preflight, which this server never grants.
// The router applies `stateChangeRefusal` to every non-GET request, so no route can forget it.

import type { IncomingMessage } from 'node:http';
import { requestInfo } from './request-info.ts';

/** Why a request was refused, for the router to answer with. */
export interface Refusal {
  status: 403 | 415;
  code: 'cross_origin' | 'unsupported_media_type';
  message: string;
}

/**
 * Whether `Origin` names this server: the host the request was made to (http or https — the Host is
 * allow-listed already, see host-policy.ts), or one of `allowed` (configured public URLs, a dev server).
 */
export function originAllowed(req: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (!origin) return false;
  if (allowed.includes(origin)) return true;
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === requestInfo(req).host;
  } catch {
    return false;
  }
}

const CROSS_ORIGIN: Refusal = {
  status: 403,
  code: 'cross_origin',
  message: 'cross-origin request refused: this request must come from a page of this server',
};

/** Why a state-changing request (POST, PUT, DELETE, …) must be refused, or undefined when it may go on. */
export function stateChangeRefusal(req: IncomingMessage, allowed: readonly string[]): Refusal | undefined {
  if (req.headers.origin !== undefined) {
    if (!originAllowed(req, allowed)) return CROSS_ORIGIN;
  } else {
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined) {
      if (site !== 'same-origin') return CROSS_ORIGIN;
    } else if (req.headers.cookie !== undefined) {
      // Neither header: not a current browser's fetch. A program may still call the API, but not
      // with a cookie, the one credential a browser attaches on its own (it can use `?token=`).
      return {
        ...CROSS_ORIGIN,
        message:
          'request refused: a request authenticated by cookie must carry an Origin header naming this server',
      };
    }
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    return {
      status: 415,
      code: 'unsupported_media_type',
      message: `send the request body as JSON with Content-Type: application/json (got ${type || 'none'})`,
    };
  }
  return undefined;
}

/**
 * Whether the browser says another site made this request (an `<img src=/api/session>` on a hostile
 * page). Used where a GET creates something: a session per visitor is fine, a session per hostile
 * page view is a way to spend the visitor's address quota.
 */
export function crossSiteRequest(req: IncomingMessage, allowed: readonly string[]): boolean {
  if (req.headers.origin !== undefined && !originAllowed(req, allowed)) return true;
  const site = req.headers['sec-fetch-site'];
  return site !== undefined && site !== 'same-origin' && site !== 'none';
}
