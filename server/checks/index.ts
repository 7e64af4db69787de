// Lesson checks: the condition schema (for the site's lesson frontmatter too), the evaluator over an
// engine context, and the session-level `evaluateCheck` the WebSocket and HTTP layers call.

export { evaluateCheck } from '../state/index.ts';
export { type CheckResult, type EvaluateOptions, evaluateCondition, type RanCommand } from './evaluate.ts';
export {
  type Check,
  type CheckInput,
  checkSchema,
  globMatch,
  MAX_CHECK_DEPTH,
  parseCheck,
} from './schema.ts';
