// The session API: what each request of the table (requests.ts) does for a session. One
// implementation serves the WebSocket and HTTP alike, so both answer the same and both report checks
// to whoever listens (the teacher's dashboard).

import { InvalidArgumentError } from '../../engine/errors.ts';
import { type CheckResult, evaluateCondition } from '../checks/evaluate.ts';
import { lessonCheck } from '../checks/lessons.ts';
import { withContainerLimitNote } from '../checks/limit-note.ts';
import { fileVersions, whichLayer } from '../pictures/files.ts';
import { snapshotState } from '../pictures/snapshot.ts';
import { type RequestInput, type RequestName, type RequestResult, requestSchemas } from '../requests.ts';
import { prepareState } from '../reset/prepare.ts';
import { resetState, resolveResetTarget } from '../reset/reset.ts';
import type { Session } from '../sessions/session.ts';

/** A check a session had evaluated, named by its lesson step, with the outcome. */
export interface CheckReport {
  lesson: string;
  check: string;
  pass: boolean;
  /** The hint the page was given for a check that did not pass. */
  hint?: string;
}

export interface SessionApiHooks {
  /** Told about every check evaluated, whichever transport asked. */
  onCheck?: (sessionId: string, report: CheckReport) => void;
  /** Told which lesson a session's page shows (the `visit` request). */
  onVisit?: (sessionId: string, lesson: string) => void;
}

/** One implementation per request name: a request the table adds and this misses fails to compile. */
export type SessionApi = {
  readonly [K in RequestName]: (session: Session, input: RequestInput<K>) => Promise<RequestResult<K>>;
};

export function createSessionApi(hooks: SessionApiHooks = {}): SessionApi {
  return {
    'state.get': (session) => snapshotState(session.ctx),
    'state.which-layer': (session, { container, path }) => whichLayer(session.ctx, container, path),
    'state.file': (session, { container, path }) => fileVersions(session.ctx, container, path),
    async check(session, named): Promise<CheckResult> {
      // The lessons' own definition of the check: a page names it, it never sends one.
      const evaluated = await evaluateCondition(session.ctx, lessonCheck(named), {
        commands: session.commands,
      });
      // A step that fails because `run` was refused at the container limit says so, and what to remove.
      const result = await withContainerLimitNote(session.ctx, evaluated);
      hooks.onCheck?.(session.id, {
        ...named,
        pass: result.pass,
        ...(result.hint ? { hint: result.hint } : {}),
      });
      return result;
    },
    reset: (session, { to }) => resetState(session.ctx, resolveResetTarget(to), { owner: session.id }),
    prepare: (session, { to, remove }) =>
      prepareState(session.ctx, to, { owner: session.id, ...(remove ? { remove } : {}) }),
    async visit(session, { lesson }) {
      hooks.onVisit?.(session.id, lesson);
      return { lesson };
    },
  };
}

/**
 * Validates `raw` as request `name`'s input with the table's schema; an `InvalidArgumentError` names
 * the field otherwise, so both transports refuse bad input in the same words.
 */
export function parseRequestInput<K extends RequestName>(name: K, raw: unknown): RequestInput<K> {
  const parsed = requestSchemas[name].safeParse(raw);
  if (parsed.success) return parsed.data as RequestInput<K>;
  const issue = parsed.error.issues[0];
  const where = issue?.path.join('.') || 'input';
  throw new InvalidArgumentError(`${name}: ${where}: ${issue?.message ?? 'invalid'}`);
}

/** Runs request `name` for `session` with input already validated. */
export function runRequest<K extends RequestName>(
  api: SessionApi,
  name: K,
  session: Session,
  input: RequestInput<K>,
): Promise<RequestResult<K>> {
  const handler: (session: Session, input: RequestInput<K>) => Promise<RequestResult<K>> = api[name];
  return handler(session, input);
}
