// `docker pause`/`unpause`: every process of a running container frozen or thawed through its freezer
// cgroup (engine/host/cgroups.ts); `ps` and `inspect` read the same cgroup to say "Paused".

import { join } from 'node:path';
import type { EngineContext } from '../context.ts';
import { ConflictError, RuntimeError } from '../errors.ts';
import { isFrozen, setFrozen } from '../host/cgroups.ts';
import { resolveContainer } from './lifecycle.ts';
import type { ContainerRecord } from './record.ts';
import { containerDir } from './state.ts';

/**
 * Present while `commit` holds the container frozen. A freeze without it is the user's `pause`, which
 * lasts until `unpause`: start-up recovery (engine/recover.ts) thaws only a commit's, left by a commit
 * that died before it could resume the container.
 */
export function commitFreezeMarker(ctx: EngineContext, id: string): string {
  return join(containerDir(ctx, id), 'frozen-by-commit');
}

/** Freezes (`pause`) or thaws (`unpause`) the container; Docker's conflicts when it cannot. */
export async function setPaused(
  ctx: EngineContext,
  idOrName: string,
  paused: boolean,
): Promise<ContainerRecord> {
  const record = await resolveContainer(ctx, idOrName);
  if (record.state.status !== 'running') {
    throw new ConflictError(`Container ${record.id} is not running`, idOrName);
  }
  const frozen = isFrozen(record.id);
  if (paused && frozen) throw new ConflictError(`Container ${record.id} is already paused`, idOrName);
  if (!paused && !frozen) throw new ConflictError(`Container ${record.id} is not paused`, idOrName);
  if (!(await setFrozen(record.id, paused))) {
    throw new RuntimeError(
      `${paused ? 'pause' : 'unpause'} ${record.name}: the freezer cgroup did not answer`,
      {
        input: idOrName,
      },
    );
  }
  return record;
}
