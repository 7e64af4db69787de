// S3's face to the rest of the server: the session-level calls the WebSocket layer makes (`state.get`,
// `check`, `reset`), the per-session watcher it starts, and the HTTP routes of the state API.

import { LayerlabError } from '../../engine/errors.ts';
import { type CheckResult, evaluateCondition, type RanCommand } from '../checks/evaluate.ts';
import { lessonCheck, parseCheckRequest } from '../checks/lessons.ts';
import { HttpError, type Router, sendJson } from '../http/router.ts';
import { type ResetReport, resetState, resolveResetTarget } from '../reset/reset.ts';
import type { Session } from '../sessions/session.ts';
import { fileVersions, whichLayer } from './files.ts';
import { type SessionSnapshot, snapshotState } from './snapshot.ts';
import { watchSession as startWatcher } from './watch.ts';

/** `state.get`: the session's images and containers for the pictures. */
export function sessionSnapshot(session: Session): Promise<SessionSnapshot> {
  return snapshotState(session.ctx);
}

/**
 * `check`, for the WebSocket and `POST /api/check` alike: `request` names a lesson's check
 * (`{ lesson, check }`), and the condition evaluated is the one the lessons declare for it. A page
 * cannot send a condition of its own, so a pass means the session really did the step.
 */
export async function evaluateCheck(session: Session, request: unknown): Promise<CheckResult> {
  const check = lessonCheck(parseCheckRequest(request));
  return evaluateCondition(session.ctx, check, { commands: commandsOf(session) });
}

/** `reset`: `to` names a starting state (`busybox`) or is one (an object or its JSON text). */
export function resetSession(session: Session, to?: unknown): Promise<ResetReport> {
  return resetState(session.ctx, resolveResetTarget(to), { owner: session.id });
}

/**
 * Starts what S3 keeps per session: the upper-dir watchers (`fs.change`) and the record of commands
 * run (for `command-ran` checks). Both end with the session; the returned function ends them sooner.
 */
export function watchSession(session: Session): () => void {
  const watcher = startWatcher(session);
  const stopRecording = recordCommands(session);
  return () => {
    watcher.close();
    stopRecording();
  };
}

const COMMANDS_KEY = 'checks.commands';
/** Commands kept per session: a lesson's checks look back a few steps, not forever. */
const MAX_COMMANDS = 200;

function commandsOf(session: Session): RanCommand[] {
  return (session.data.get(COMMANDS_KEY) as RanCommand[] | undefined) ?? [];
}

function recordCommands(session: Session): () => void {
  if (!session.data.has(COMMANDS_KEY)) session.data.set(COMMANDS_KEY, []);
  const unsubscribe = session.events.on((event) => {
    if (event.type !== 'terminal.command') return;
    const list = commandsOf(session);
    list.push({ command: event.command, exitCode: event.exitCode });
    if (list.length > MAX_COMMANDS) list.splice(0, list.length - MAX_COMMANDS);
  });
  session.onDispose(unsubscribe);
  return unsubscribe;
}

/** Engine errors the caller caused become 4xx with the engine's message; the rest stay 500s. */
async function answer<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LayerlabError) {
      if (err.code === 'NOT_FOUND') throw new HttpError(404, 'not_found', err.message);
      if (err.code === 'INVALID_ARGUMENT' || err.code === 'INVALID_REFERENCE') {
        throw new HttpError(400, 'invalid', err.message);
      }
      if (err.code === 'CONFLICT') throw new HttpError(409, 'conflict', err.message);
      if (err.code === 'REGISTRY' || err.code === 'UNAUTHORIZED')
        throw new HttpError(502, 'registry', err.message);
    }
    throw err;
  }
}

function required(query: URLSearchParams, name: string): string {
  const value = query.get(name);
  if (!value) throw new HttpError(400, 'invalid', `missing query parameter "${name}"`);
  if (value.length > 4096) throw new HttpError(400, 'invalid', `query parameter "${name}" is too long`);
  return value;
}

function sessionOf(session: Session | undefined): Session {
  if (!session) throw new HttpError(401, 'no_session', 'no valid session: open the page again to get one');
  return session;
}

/**
 * The state API: `GET /api/state`, `GET /api/state/which-layer?container=&path=`,
 * `GET /api/state/file?container=&path=`, `POST /api/check` (`{ lesson, check }`), `POST /api/reset` (`{ to? }`).
 */
export function registerStateRoutes(router: Router): void {
  router.get('/api/state', async (_req, res, { session }) => {
    sendJson(res, 200, await answer(() => sessionSnapshot(sessionOf(session))));
  });
  router.get('/api/state/which-layer', async (_req, res, { session, query }) => {
    const s = sessionOf(session);
    const container = required(query, 'container');
    const path = required(query, 'path');
    sendJson(res, 200, await answer(() => whichLayer(s.ctx, container, path)));
  });
  router.get('/api/state/file', async (_req, res, { session, query }) => {
    const s = sessionOf(session);
    const container = required(query, 'container');
    const path = required(query, 'path');
    sendJson(res, 200, await answer(() => fileVersions(s.ctx, container, path)));
  });
  router.post('/api/check', async (_req, res, { session, body }) => {
    const s = sessionOf(session);
    sendJson(res, 200, await answer(() => evaluateCheck(s, body)));
  });
  router.post('/api/reset', async (_req, res, { session, body }) => {
    const s = sessionOf(session);
    const to = body !== null && typeof body === 'object' && 'to' in body ? body.to : undefined;
    sendJson(res, 200, await answer(() => resetSession(s, to)));
  });
}

export { fileVersions, whichLayer } from './files.ts';
export { snapshotState } from './snapshot.ts';
export { createSessionWatcher, watchContainer } from './watch.ts';
