// The session API: what each request of the table (requests.ts) does for a session. One
// implementation serves the WebSocket and HTTP alike, so both answer the same and both report checks
// to whoever listens (the teacher's dashboard).

import { InvalidArgumentError } from '../../engine/errors.ts';
import { evaluateAnswer, GuessLimiter } from '../checks/answer-evaluate.ts';
import { lessonAnswer } from '../checks/answer-lessons.ts';
import { type CheckResult, evaluateCondition } from '../checks/evaluate.ts';
import { lessonCheck } from '../checks/lessons.ts';
import { withContainerLimitNote } from '../checks/limit-note.ts';
import { fileVersions, whichLayer } from '../pictures/files.ts';
import { hostView } from '../pictures/host-view.ts';
import { snapshotState } from '../pictures/snapshot.ts';
import { type RequestInput, type RequestName, type RequestResult, requestSchemas } from '../requests.ts';
import { prepareState } from '../reset/prepare.ts';
import { resetState, resolveResetTarget } from '../reset/reset.ts';
import type { Session } from '../sessions/session.ts';
import { sessionWorkspace } from '../sessions/workspace.ts';
import {
  listWorkspaceDir,
  readWorkspaceText,
  seedWorkspaceDir,
  writeWorkspaceText,
} from '../sessions/workspace-files.ts';

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
  // Guesses at each answer, per session: a value cannot be found by trying digit after digit.
  const guesses = new WeakMap<Session, GuessLimiter>();
  return {
    'state.get': (session) => snapshotState(session.ctx),
    'state.which-layer': (session, { container, path }) => whichLayer(session.ctx, container, path),
    'state.file': (session, { container, path }) => fileVersions(session.ctx, container, path),
    'state.host': (session, { container }) => hostView(session.ctx, container),
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
    async answer(session, { lesson, answer: id, value }) {
      // The lessons' own definition (content/lesson-checks.ts): a page names the answer, never its value.
      const answer = lessonAnswer({ lesson, answer: id });
      const limiter = guesses.get(session) ?? new GuessLimiter();
      guesses.set(session, limiter);
      if (!limiter.take(`${lesson}/${id}`)) {
        return {
          right: false,
          limited: true,
          detail: 'too many guesses at this one: look again, and try in a few minutes',
        };
      }
      return evaluateAnswer(session.ctx, answer, value);
    },
    reset: (session, { to }) => resetState(session.ctx, resolveResetTarget(to), { owner: session.id }),
    prepare: (session, { to, remove }) =>
      prepareState(session.ctx, to, { owner: session.id, ...(remove ? { remove } : {}) }),
    async visit(session, { lesson }) {
      hooks.onVisit?.(session.id, lesson);
      return { lesson };
    },
    // The in-page editor: the same workspace, paths and limits as the session's terminals.
    'workspace.list': (session, { path }) => listWorkspaceDir(sessionWorkspace(session.ctx), path),
    'workspace.read': (session, { path }) => readWorkspaceText(sessionWorkspace(session.ctx), path),
    'workspace.write': (session, { path, content }) =>
      writeWorkspaceText(sessionWorkspace(session.ctx), path, content),
    'workspace.seed': (session, { context, dir, overwrite }) =>
      seedWorkspaceDir(sessionWorkspace(session.ctx), context, dir, overwrite ? { overwrite } : {}),
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
