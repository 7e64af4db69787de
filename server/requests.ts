// The session API's requests, one table for both transports: each request's name, the zod schema of
// its input, its HTTP route and the type of its result. The WebSocket messages (protocol.ts) and the
// HTTP routes (api/http-routes.ts) are made from it, the implementations (api/session-api.ts) must
// cover every name, and the page's client types each result by it. Only zod at run time, so the site
// can import it; result types are type-only imports.

import { z } from 'zod';
import type { AnswerResult } from './checks/answer-evaluate.ts';
import type { CheckResult } from './checks/evaluate.ts';
import type { FileVersions, WhichLayer } from './pictures/files.ts';
import type { HostView } from './pictures/host-view.ts';
import type { SessionSnapshot } from './pictures/snapshot.ts';
import type { PrepareReport } from './reset/prepare.ts';
import type { ResetReport } from './reset/reset.ts';
import { containerNameSchema, resetTargetSchema } from './reset/target.ts';
import type {
  WorkspaceListing,
  WorkspaceSeed,
  WorkspaceText,
  WorkspaceWrite,
} from './sessions/workspace-files.ts';
import { EDIT_FILE_MAX_BYTES, WORKSPACE_PATH_MAX } from './sessions/workspace-limits.ts';

/** A lesson's route or a check's id as the pages spell them. */
export const lessonIdSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.-]+$/, 'may hold only letters, digits, ".", "_" and "-"');

const containerPathSchema = z.strictObject({
  container: z.string().min(1).max(256),
  path: z.string().min(1).max(4096),
});

/** A path of the terminal's workspace as the reader types it: `~/app/Dockerfile`, `/lessons/x`. */
const workspacePathSchema = z.string().min(1).max(WORKSPACE_PATH_MAX);

/** A named starting state (`empty`, `busybox`) or the state itself. */
export const resetToSchema = z.union([z.string().min(1).max(200), resetTargetSchema]);

export const requestSchemas = {
  /** The session's images, layers and containers, for the pictures. */
  'state.get': z.strictObject({}),
  /** Which layer a container's path comes from (upper, init or an image layer). */
  'state.which-layer': containerPathSchema,
  /** A file as the container sees it and as each layer holds it. */
  'state.file': containerPathSchema,
  /** A running container as the host sees it: its overlay mount and its processes (host and container ids). */
  'state.host': z.strictObject({ container: z.string().min(1).max(256) }),
  /** A lesson's check, named by lesson and id: the server evaluates the lessons' own definition. */
  check: z.strictObject({ lesson: lessonIdSchema, check: lessonIdSchema }),
  /**
   * A value the learner typed for a lesson's <Answer> (a diff_id, a size): the server works out the
   * true value from the session's state with the lessons' own definition, and says right or wrong.
   */
  answer: z.strictObject({ lesson: lessonIdSchema, answer: lessonIdSchema, value: z.string().max(200) }),
  /** Back to a starting state: every container goes, images not named go, named ones are pulled. */
  reset: z.strictObject({ to: resetToSchema.optional() }),
  /**
   * Arriving at a lesson: adds what its start (`to`) needs and is missing, removes nothing but the
   * `absent` names the reader agreed to remove (`remove`).
   */
  prepare: z.strictObject({
    to: resetTargetSchema,
    remove: z.array(containerNameSchema).max(16).optional(),
  }),
  /** The page shows this lesson (a workshop's dashboard shows where each student is). */
  visit: z.strictObject({ lesson: lessonIdSchema }),
  /** The in-page editor: everything under a directory of the workspace (or a lesson context). */
  'workspace.list': z.strictObject({ path: workspacePathSchema }),
  /** A text file of the workspace (or a lesson context), size-capped; binaries refused. */
  'workspace.read': z.strictObject({ path: workspacePathSchema }),
  /** Creates or replaces a text file of the workspace (its directories made), within its limits. */
  'workspace.write': z.strictObject({
    path: workspacePathSchema,
    // UTF-16 units, at most the bytes: the exact byte cap is the workspace module's.
    content: z.string().max(EDIT_FILE_MAX_BYTES),
  }),
  /** Copies `/lessons/<context>` into a workspace dir that is not there yet (or over it: `overwrite`). */
  'workspace.seed': z.strictObject({
    context: lessonIdSchema,
    dir: workspacePathSchema,
    overwrite: z.boolean().optional(),
  }),
} as const;

export type RequestName = keyof typeof requestSchemas;
export type RequestInput<K extends RequestName> = z.infer<(typeof requestSchemas)[K]>;

/** What each request answers with when it succeeds. */
export interface RequestResults {
  'state.get': SessionSnapshot;
  'state.which-layer': WhichLayer;
  'state.file': FileVersions;
  'state.host': HostView;
  check: CheckResult;
  answer: AnswerResult;
  reset: ResetReport;
  prepare: PrepareReport;
  visit: { lesson: string };
  'workspace.list': WorkspaceListing;
  'workspace.read': WorkspaceText;
  'workspace.write': WorkspaceWrite;
  'workspace.seed': WorkspaceSeed;
}
export type RequestResult<K extends RequestName> = RequestResults[K];

/**
 * Each request's HTTP route. GET takes its input from the query string, POST from a JSON body; the
 * router's origin and content-type checks apply to every POST.
 */
export const httpRoutes: { readonly [K in RequestName]: { method: 'GET' | 'POST'; path: string } } = {
  'state.get': { method: 'GET', path: '/api/state' },
  'state.which-layer': { method: 'GET', path: '/api/state/which-layer' },
  'state.file': { method: 'GET', path: '/api/state/file' },
  'state.host': { method: 'GET', path: '/api/state/host' },
  check: { method: 'POST', path: '/api/check' },
  answer: { method: 'POST', path: '/api/answer' },
  reset: { method: 'POST', path: '/api/reset' },
  prepare: { method: 'POST', path: '/api/prepare' },
  visit: { method: 'POST', path: '/api/visit' },
  'workspace.list': { method: 'GET', path: '/api/workspace' },
  'workspace.read': { method: 'GET', path: '/api/workspace/file' },
  'workspace.write': { method: 'POST', path: '/api/workspace/file' },
  'workspace.seed': { method: 'POST', path: '/api/workspace/seed' },
};

export const requestNames = Object.keys(requestSchemas) as RequestName[];

export function isRequestName(name: string): name is RequestName {
  return Object.hasOwn(requestSchemas, name);
}
