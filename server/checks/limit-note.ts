// A check that fails while the session holds as many containers as it may: the likely reason is that
// the lesson's `docker run` was refused, so the hint says so and names what to remove, in the same
// words as the refusal (engine/container/limit-message.ts).

import { containerLimitAdvice } from '../../engine/container/limit-message.ts';
import { readAllRecords } from '../../engine/container/record.ts';
import { reconcile } from '../../engine/container/state.ts';
import type { EngineContext } from '../../engine/context.ts';
import type { CheckResult } from './evaluate.ts';

/** The sentence added to a failed check's hint when the container limit is reached, else undefined. */
export async function containerLimitNote(ctx: EngineContext): Promise<string | undefined> {
  const max = ctx.config.limits.maxContainers;
  if (max === undefined) return undefined;
  const records = await readAllRecords(ctx);
  if (records.length < max) return undefined;
  const now = await Promise.all(records.map((r) => reconcile(ctx, r)));
  return `Your session holds ${records.length} containers, the most it may keep, so new ones are refused ${containerLimitAdvice(now)}, then run this step's blocks again.`;
}

/** `result` with the limit note (shown after the page's hint) when it failed at the limit. */
export async function withContainerLimitNote(ctx: EngineContext, result: CheckResult): Promise<CheckResult> {
  if (result.pass) return result;
  const note = await containerLimitNote(ctx);
  return note === undefined ? result : { ...result, note };
}
