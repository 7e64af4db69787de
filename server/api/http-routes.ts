// The session API over HTTP, made from the request table: one route per request (GET takes the input
// from the query string, POST from the JSON body), answered by the same implementation as the
// WebSocket. Engine errors the caller caused become 4xx with the engine's message.

import { LayerlabError } from '../../engine/errors.ts';
import { HttpError, type Router, sendJson } from '../http/router.ts';
import { httpRoutes, type RequestName, requestNames, requestSchemas } from '../requests.ts';
import type { Session } from '../sessions/session.ts';
import { parseRequestInput, runRequest, type SessionApi } from './session-api.ts';

/** Longest query parameter accepted (a container path is at most 4096 bytes). */
const MAX_QUERY_VALUE = 4096;

/** A GET request's input: the query parameters its schema names; a missing one is refused by name. */
function queryInput(name: RequestName, query: URLSearchParams): Record<string, string> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(requestSchemas[name].shape)) {
    const value = query.get(key);
    if (value === null || value === '')
      throw new HttpError(400, 'invalid', `missing query parameter "${key}"`);
    if (value.length > MAX_QUERY_VALUE)
      throw new HttpError(400, 'invalid', `query parameter "${key}" is too long`);
    input[key] = value;
  }
  return input;
}

/** Maps what the engine refused to the HTTP status that says why; anything else stays a 500. */
function httpErrorOf(err: unknown): unknown {
  if (!(err instanceof LayerlabError)) return err;
  switch (err.code) {
    case 'NOT_FOUND':
      return new HttpError(404, 'not_found', err.message);
    case 'INVALID_ARGUMENT':
    case 'INVALID_REFERENCE':
      return new HttpError(400, 'invalid', err.message);
    case 'CONFLICT':
      return new HttpError(409, 'conflict', err.message);
    case 'SIZE_EXCEEDED':
      return new HttpError(413, 'too_large', err.message);
    case 'REGISTRY':
    case 'UNAUTHORIZED':
      return new HttpError(502, 'registry', err.message);
    default:
      return err;
  }
}

async function answer<K extends RequestName>(
  api: SessionApi,
  name: K,
  session: Session,
  raw: unknown,
): Promise<unknown> {
  try {
    return await runRequest(api, name, session, parseRequestInput(name, raw));
  } catch (err) {
    throw httpErrorOf(err);
  }
}

/** Registers every request of the table on `router`, each at its route (requests.ts `httpRoutes`). */
export function registerRequestRoutes(router: Router, api: SessionApi): void {
  for (const name of requestNames) {
    const route = httpRoutes[name];
    if (route.method === 'GET') {
      router.get(route.path, async (_req, res, { session, query }) => {
        // The router answers 401 before this runs when there is no session (auth: 'session').
        if (!session) throw new HttpError(401, 'no_session', 'no valid session');
        sendJson(res, 200, await answer(api, name, session, queryInput(name, query)));
      });
    } else {
      router.post(route.path, async (_req, res, { session, body }) => {
        if (!session) throw new HttpError(401, 'no_session', 'no valid session');
        sendJson(res, 200, await answer(api, name, session, body ?? {}));
      });
    }
  }
}
