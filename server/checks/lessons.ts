// The server's table of lesson checks: content/lesson-checks.ts, parsed once with the check schema
// when this module loads (a bad declaration stops the server from starting, not a reader's click).
// A page asks for a check by `{ lesson, check }` only; what that check tests is decided here.

import { z } from 'zod';
import { lessonChecks } from '../../content/lesson-checks.ts';
import { InvalidArgumentError, NotFoundError } from '../../engine/errors.ts';
import { type Check, parseCheck } from './schema.ts';

/** A lesson's route or a check's id as the pages spell them. */
const idSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.-]+$/, 'may hold only letters, digits, ".", "_" and "-"');

/** What a page sends to have a check evaluated (WebSocket `check` and `POST /api/check`). */
export const checkRequestSchema = z.strictObject({ lesson: idSchema, check: idSchema });
export type CheckRequest = z.infer<typeof checkRequestSchema>;

function parseTable(): ReadonlyMap<string, ReadonlyMap<string, Check>> {
  const table = new Map<string, Map<string, Check>>();
  for (const [lesson, checks] of Object.entries(lessonChecks)) {
    const byId = new Map<string, Check>();
    for (const [id, input] of Object.entries(checks)) {
      const parsed = parseCheck(input);
      if (!parsed.ok) throw new Error(`content/lesson-checks.ts: ${lesson} › ${id}: ${parsed.message}`);
      byId.set(id, parsed.check);
    }
    table.set(lesson, byId);
  }
  return table;
}

const TABLE = parseTable();

/** The check `request` names, as the lessons declare it; a NotFoundError when there is none. */
export function lessonCheck(request: CheckRequest): Check {
  const lesson = TABLE.get(request.lesson);
  if (!lesson) throw new NotFoundError(`no lesson "${request.lesson}" has checks`, request.lesson);
  const check = lesson.get(request.check);
  if (!check) {
    throw new NotFoundError(`lesson "${request.lesson}" has no check "${request.check}"`, request.check);
  }
  return check;
}

/** Validates what a page sent as a check request: only a lesson and a check id, nothing else. */
export function parseCheckRequest(value: unknown): CheckRequest {
  const parsed = checkRequestSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.join('.') || 'request';
  throw new InvalidArgumentError(
    `a check is named by { "lesson": …, "check": … } (the id of a lesson's check): ${where}: ${issue?.message ?? 'invalid'}`,
  );
}
