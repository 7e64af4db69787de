// The audit behind `layerlab system check`: a whole state root verified — blobs re-hashed, images down
// to their layers (image/validate.ts), unpacked layers, container records, and runtime leftovers
// (run dirs, runtime state, shims, mounts) that no container owns.

import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type ContainerRecord, readRecord } from './container/record.ts';
import type { EngineContext } from './context.ts';
import { isFrozen } from './host/cgroups.ts';
import { mountsUnder } from './host/mounts.ts';
import { shimProcessesUnder } from './host/processes.ts';
import { checkImage } from './image/validate.ts';
import { isDigest } from './oci/digest.ts';
import { detectRuntime, type RuntimeInfo, runtimeStateDir } from './runtime/detect.ts';
import { isTempName, readJsonIfExists } from './store/atomic.ts';
import { verifyBlobs } from './store/blobs.ts';
import { loadImage } from './store/images.ts';
import { containerPath, containerRunPath } from './store/paths.ts';
import { listVolumes, volumeDataDir } from './volume/volumes.ts';

/** What `auditRoot` found, section by section; `problems` holds every one, worded for a user. */
export interface RootAudit {
  blobs: { checked: number; problems: number };
  images: { checked: number; problems: number };
  layers: { checked: number; problems: number };
  containers: { checked: number; problems: number };
  /** Run dirs, runtime states, shims and mounts under the root that no container owns. */
  orphans: number;
  /** Temp files of writes in progress (or, without recovery, of writes that were killed). */
  temps: string[];
  problems: string[];
}

const ID_RE = /^[a-f0-9]{64}$/;

/**
 * Verifies a whole state root: every blob re-hashed; every image record → manifest → config →
 * layer blobs present and agreeing (`checkImage`); every tag naming a recorded image; every unpacked
 * layer dir complete (layer.json naming its own diff_id, a diff/ dir); every container record
 * readable, its lower dirs complete layers, a running one not frozen, a created one not half-started;
 * no run dir, runtime state, shim or mount without a container. Temp files are listed, not counted
 * as problems: another engine process may be writing them right now.
 */
export async function auditRoot(ctx: EngineContext): Promise<RootAudit> {
  const check: RootAudit = {
    blobs: { checked: 0, problems: 0 },
    images: { checked: 0, problems: 0 },
    layers: { checked: 0, problems: 0 },
    containers: { checked: 0, problems: 0 },
    orphans: 0,
    temps: [],
    problems: [],
  };
  const problem = (section: { problems: number } | undefined, text: string) => {
    if (section) section.problems++;
    else check.orphans++;
    check.problems.push(text);
  };

  const blobs = await verifyBlobs(ctx);
  check.blobs.checked = blobs.checked;
  for (const { digest, actual } of blobs.corrupt)
    problem(check.blobs, `blob ${digest}: content hashes to ${actual}`);

  const imageIds = new Set<string>();
  for (const name of await listDir(ctx.paths.images)) {
    if (isTempName(name)) {
      check.temps.push(join(ctx.paths.images, name));
      continue;
    }
    const id = `sha256:${name.replace(/\.json$/, '')}`;
    if (!name.endsWith('.json') || !isDigest(id)) continue;
    imageIds.add(id);
    check.images.checked++;
    const found = await loadImage(ctx, id)
      .then((image) => checkImage(ctx, image))
      .catch((err: Error) => [err.message]);
    for (const p of found) problem(check.images, `image ${id}: ${p}`);
  }
  const repos = (await readJsonIfExists(ctx.paths.repositories).catch((err: Error) => {
    problem(check.images, `${ctx.paths.repositories}: ${err.message}`);
    return undefined;
  })) as { refs?: Record<string, string> } | undefined;
  for (const [ref, id] of Object.entries(repos?.refs ?? {})) {
    if (!imageIds.has(id)) problem(check.images, `tag ${ref}: names ${id}, which has no image record`);
  }

  const completeLayers = new Set<string>();
  for (const name of await listDir(ctx.paths.layers)) {
    const dir = join(ctx.paths.layers, name);
    if (isTempName(name)) {
      check.temps.push(dir);
      continue;
    }
    check.layers.checked++;
    const info = (await readJsonIfExists(join(dir, 'layer.json')).catch(() => null)) as {
      diffId?: string;
    } | null;
    if (!ID_RE.test(name)) problem(check.layers, `layer dir ${dir}: not named by a diff_id`);
    else if (info === undefined || info === null)
      problem(check.layers, `layer ${name.slice(0, 12)}: no readable layer.json (a half-unpacked dir)`);
    else if (info.diffId !== `sha256:${name}`)
      problem(check.layers, `layer ${name.slice(0, 12)}: layer.json names ${String(info.diffId)}`);
    else if (!(await isDir(join(dir, 'diff'))))
      problem(check.layers, `layer ${name.slice(0, 12)}: no diff/ dir`);
    else completeLayers.add(join(dir, 'diff'));
  }

  const containerIds = new Set<string>();
  const runtime = await detectRuntime(ctx).catch(() => undefined);
  for (const id of (await listDir(ctx.paths.containers)).filter((n) => ID_RE.test(n))) {
    containerIds.add(id);
    check.containers.checked++;
    const short = id.slice(0, 12);
    for (const name of (await listDir(containerPath(ctx.paths, id))).filter(isTempName))
      check.temps.push(join(containerPath(ctx.paths, id), name));
    let record: ContainerRecord | undefined;
    try {
      record = await readRecord(ctx, id);
    } catch (err) {
      problem(check.containers, (err as Error).message);
      continue;
    }
    if (record === undefined) {
      problem(
        check.containers,
        `container ${short}: a directory without container.json (an interrupted create)`,
      );
      continue;
    }
    const where = `container ${short} (${record.name})`;
    const [init, ...layers] = record.lowerDirs;
    // The init layer lives on the container's tmpfs (containers/<id>/init is a link to it): after a
    // reboot that tmpfs is gone until the next start remounts it, so only a running container needs it.
    if (init !== join(containerPath(ctx.paths, id), 'init'))
      problem(check.containers, `${where}: init layer ${init ?? '(none)'} is not the container's own`);
    else if (record.state.status === 'running' && !(await isDir(init)))
      problem(check.containers, `${where}: init layer ${init} is missing`);
    for (const dir of layers) {
      if (!completeLayers.has(dir))
        problem(check.containers, `${where}: layer ${dir} is missing or incomplete`);
    }
    if (record.state.status === 'running' && isFrozen(id))
      problem(check.containers, `${where}: frozen (a commit was interrupted before it resumed it)`);
    const runDir = containerRunPath(ctx.paths, id);
    if (record.state.status === 'created' && (existsSync(runDir) || runtimeKnows(ctx, runtime, id)))
      problem(
        check.containers,
        `${where}: created, but a start left a run dir or runtime state (an interrupted start)`,
      );
  }

  const shortIds = new Set([...containerIds].map((id) => id.slice(0, 12)));
  for (const name of await listDir(ctx.paths.run)) {
    if (/^[a-f0-9]{12}$/.test(name) && !shortIds.has(name))
      problem(undefined, `run dir ${join(ctx.paths.run, name)}: no container owns it`);
  }
  if (runtime) {
    const stateDir = runtimeStateDir(ctx, runtime);
    for (const id of (await listDir(stateDir)).filter((n) => ID_RE.test(n))) {
      if (!containerIds.has(id))
        problem(undefined, `runtime state ${join(stateDir, id)}: no container owns it`);
    }
  }
  const volumeNames = new Set((await listVolumes(ctx)).map((v) => v.name));
  for (const point of mountsUnder(ctx.root)) {
    // A capped volume's tmpfs (engine/volume/volumes.ts) belongs to its volume.
    const volume = /\/volumes\/([^/]+)\/_data$/.exec(point);
    if (volume && volumeNames.has(volume[1]!) && point === volumeDataDir(ctx, volume[1]!)) continue;
    const match = /\/containers\/([a-f0-9]{64})\/(rw|merged)$/.exec(point);
    if (!match || !containerIds.has(match[1]!) || !point.startsWith(ctx.paths.containers))
      problem(undefined, `mount ${point}: no container owns it`);
  }
  for (const shim of shimProcessesUnder(ctx.paths.run)) {
    if (shim.container === undefined || !containerIds.has(shim.container))
      problem(undefined, `shim pid ${shim.pid}: no container owns it`);
  }

  for (const name of await listDir(ctx.paths.tmp)) check.temps.push(join(ctx.paths.tmp, name));
  for (const name of (await listDir(ctx.root)).filter(isTempName)) check.temps.push(join(ctx.root, name));
  return check;
}

async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).sort();
}

async function isDir(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

function runtimeKnows(ctx: EngineContext, runtime: RuntimeInfo | undefined, id: string): boolean {
  return runtime !== undefined && existsSync(join(runtimeStateDir(ctx, runtime), id));
}
