// What `volume inspect` and `volume ls` show of a volume, in Docker's shape (api/types/volume).

import type { EngineContext } from '../context.ts';
import { type VolumeRecord, volumeDataDir } from './volumes.ts';

export interface VolumeView {
  CreatedAt: string;
  Driver: 'local';
  Labels: Record<string, string> | null;
  Mountpoint: string;
  Name: string;
  Options: null;
  Scope: 'local';
}

export function volumeView(ctx: EngineContext, record: VolumeRecord): VolumeView {
  return {
    CreatedAt: record.createdAt,
    Driver: 'local',
    Labels: Object.keys(record.labels).length > 0 ? record.labels : null,
    Mountpoint: volumeDataDir(ctx, record.name),
    Name: record.name,
    Options: null,
    Scope: 'local',
  };
}
