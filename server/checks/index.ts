// Lesson checks: the condition schema (for content/lesson-checks.ts), the server's table of the
// lessons' checks, the evaluator over an engine context, and the session-level `evaluateCheck` that
// the WebSocket and HTTP layers both call with a `{ lesson, check }` name.

export { evaluateCheck } from '../state/index.ts';
export { type CheckResult, type EvaluateOptions, evaluateCondition, type RanCommand } from './evaluate.ts';
export { type CheckRequest, checkRequestSchema, lessonCheck, parseCheckRequest } from './lessons.ts';
export {
  type Check,
  type CheckInput,
  checkSchema,
  globMatch,
  MAX_CHECK_DEPTH,
  parseCheck,
} from './schema.ts';
