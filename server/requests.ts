// The session API's requests, one table for both transports: each request's name, the zod schema of
// its input, its HTTP route and the type of its result. The WebSocket messages (protocol.ts) and the
// HTTP routes (api/http-routes.ts) are made from it, the implementations (api/session-api.ts) must
// cover every name, and the page's client types each result by it. Only zod at run time, so the site
// can import it; result types are type-only imports.

import { z } from 'zod';
import type { CheckResult } from './checks/evaluate.ts';
import type { FileVersions, WhichLayer } from './pictures/files.ts';
import type { SessionSnapshot } from './pictures/snapshot.ts';
import type { PrepareReport } from './reset/prepare.ts';
import type { ResetReport } from './reset/reset.ts';
import { containerNameSchema, resetTargetSchema } from './reset/target.ts';

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

/** A named starting state (`empty`, `busybox`) or the state itself. */
export const resetToSchema = z.union([z.string().min(1).max(200), resetTargetSchema]);

export const requestSchemas = {
  /** The session's images, layers and containers, for the pictures. */
  'state.get': z.strictObject({}),
  /** Which layer a container's path comes from (upper, init or an image layer). */
  'state.which-layer': containerPathSchema,
  /** A file as the container sees it and as each layer holds it. */
  'state.file': containerPathSchema,
  /** A lesson's check, named by lesson and id: the server evaluates the lessons' own definition. */
  check: z.strictObject({ lesson: lessonIdSchema, check: lessonIdSchema }),
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
} as const;

export type RequestName = keyof typeof requestSchemas;
export type RequestInput<K extends RequestName> = z.infer<(typeof requestSchemas)[K]>;

/** What each request answers with when it succeeds. */
export interface RequestResults {
  'state.get': SessionSnapshot;
  'state.which-layer': WhichLayer;
  'state.file': FileVersions;
  check: CheckResult;
  reset: ResetReport;
  prepare: PrepareReport;
  visit: { lesson: string };
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
  check: { method: 'POST', path: '/api/check' },
  reset: { method: 'POST', path: '/api/reset' },
  prepare: { method: 'POST', path: '/api/prepare' },
  visit: { method: 'POST', path: '/api/visit' },
};

export const requestNames = Object.keys(requestSchemas) as RequestName[];

export function isRequestName(name: string): name is RequestName {
  return Object.hasOwn(requestSchemas, name);
}
