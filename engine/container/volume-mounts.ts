// A container's `-v`/`--mount` mounts: checked and prepared at create (named volumes made, host paths
// allowed only where the engine allows them), turned into binds for the runtime at each start. A
// named volume that is still empty is filled from the image's content at its path on first use, as
// Docker does; an anonymous one (`-v /path`) joins the image's VOLUMEs (image-volumes.ts).

import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import type { EngineContext } from '../context.ts';
import { InvalidArgumentError } from '../errors.ts';
import { withLock } from '../store/lock.ts';
import type { MountSpec } from '../volume/mount-spec.ts';
import { createVolume, volumeForMount } from '../volume/volumes.ts';
import { copyImageDir } from './image-volumes.ts';
import { readAllRecords } from './record.ts';

/** What a server session is told when it names a host path. */
export const HOST_PATHS_REFUSED =
  'host paths cannot be mounted in this sandbox; use a named volume: -v data:/path';

export interface PreparedMounts {
  /** Named volumes and binds, as the record keeps them. */
  mounts: MountSpec[];
  /** The anonymous volumes: the image's VOLUMEs not covered by a mount, and `-v /path`. */
  anonymous: string[];
}

/**
 * Checks the mounts of a container being created and makes what they need: each named volume
 * (created if missing, as `docker run -v data:/x` does), each host directory `-v` names.
 */
export async function prepareMounts(
  ctx: EngineContext,
  specs: readonly MountSpec[],
  imageVolumes: readonly string[],
): Promise<PreparedMounts> {
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.target)) {
      throw new InvalidArgumentError(`Duplicate mount point: ${spec.target}`, spec.target);
    }
    seen.add(spec.target);
    if (spec.type === 'bind' && !ctx.config.limits.hostBinds) {
      throw new InvalidArgumentError(HOST_PATHS_REFUSED, spec.source);
    }
  }
  const mounts: MountSpec[] = [];
  const anonymous = imageVolumes.filter((path) => !seen.has(path));
  for (const spec of specs) {
    if (spec.type === 'volume' && spec.source === '') {
      anonymous.push(spec.target);
      continue;
    }
    if (spec.type === 'volume') {
      await createVolume(ctx, { name: spec.source });
    } else if (!existsSync(spec.source)) {
      if (!spec.createSource) {
        throw new InvalidArgumentError(
          `invalid mount config for type "bind": bind source path does not exist: ${spec.source}`,
          spec.source,
        );
      }
      mkdirSync(spec.source, { recursive: true, mode: 0o755 });
    }
    mounts.push(spec);
  }
  return { mounts, anonymous };
}

export interface MountBind {
  source: string;
  destination: string;
  readonly: boolean;
}

/**
 * The binds of a container's named volumes and host paths, for the spec. `merged` is its mounted
 * rootfs, before its process runs, from which an empty volume is filled.
 */
export async function mountBinds(
  ctx: EngineContext,
  containerId: string,
  mounts: readonly MountSpec[],
  merged: string,
): Promise<MountBind[]> {
  const binds: MountBind[] = [];
  for (const spec of mounts) {
    if (spec.type === 'bind') {
      if (!ctx.config.limits.hostBinds) throw new InvalidArgumentError(HOST_PATHS_REFUSED, spec.source);
      binds.push({ source: spec.source, destination: spec.target, readonly: spec.readonly });
      continue;
    }
    const data = await volumeForMount(ctx, spec.source);
    await fillFromImage(ctx, containerId, spec.source, data, merged, spec.target);
    binds.push({ source: data, destination: spec.target, readonly: spec.readonly });
  }
  return binds;
}

/**
 * Copies the image's content at `target` into the volume when the volume is empty and no other
 * running container has it (so nothing writes in it while the copy runs), as Docker's copy-up.
 */
async function fillFromImage(
  ctx: EngineContext,
  containerId: string,
  name: string,
  data: string,
  merged: string,
  target: string,
): Promise<void> {
  if (readdirSync(data).length > 0 || !statSync(data).isDirectory()) return;
  await withLock(ctx, 'volumes', async () => {
    const busy = (await readAllRecords(ctx)).some(
      (r) =>
        r.id !== containerId &&
        r.state.status === 'running' &&
        r.config.mounts.some((m) => m.type === 'volume' && m.source === name),
    );
    if (busy || readdirSync(data).length > 0) return;
    await copyImageDir(merged, target, data);
  });
}
