// `docker rename`: a container's name changed under the lock every name check takes, with Docker's errors.

import type { EngineContext } from '../context.ts';
import { InvalidArgumentError } from '../errors.ts';
import { withLock } from '../store/lock.ts';
import { validateName } from './names.ts';
import { assertNameFree, findRecord, readAllRecords, readRecord, writeRecord } from './record.ts';

/** The lock createContainer holds while it picks a name (lifecycle.ts's NAMES_LOCK). */
const NAMES_LOCK = 'containers';

export async function renameContainer(ctx: EngineContext, idOrName: string, newName: string): Promise<void> {
  const name = validateName(newName);
  const found = await findRecord(ctx, idOrName);
  await withLock(ctx, NAMES_LOCK, async () => {
    const record = (await readRecord(ctx, found.id)) ?? found;
    if (record.name === name) {
      throw new InvalidArgumentError('Renaming a container with the same name as its current name', newName);
    }
    assertNameFree(await readAllRecords(ctx), name);
    await writeRecord(ctx, { ...record, name });
  });
}
