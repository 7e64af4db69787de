// OCI conformance check for an image in the store, written from the image-spec text: the manifest,
// its config and every layer must be well-formed and agree with the bytes the store holds.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { type ContainerRecord, readRecord } from './container/record.ts';
import type { EngineContext } from './context.ts';
import { StoreError } from './errors.ts';
import { isFrozen } from './host/cgroups.ts';
import { mountsUnder } from './host/mounts.ts';
import { type Digest, digestFromHash, isDigest, sha256 } from './oci/digest.ts';
import { layerCompression, MediaType } from './oci/media-types.ts';
import type { Image } from './oci/types.ts';
import { detectRuntime, type RuntimeInfo, runtimeStateDir } from './runtime/detect.ts';
import { isTempName, readJsonIfExists } from './store/atomic.ts';
import { hasBlob, openBlob, readBlob, verifyBlobs } from './store/blobs.ts';
import { loadImage } from './store/images.ts';
import { containerPath, containerRunPath } from './store/paths.ts';

// RFC 3339 date-time, as the spec requires for `created`.
const RFC3339_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const MEDIA_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;
const PORT_RE = /^\d+(\/(tcp|udp|sctp))?$/;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringMap(value: unknown): boolean {
  return isObject(value) && Object.values(value).every((v) => typeof v === 'string');
}

function isStringArray(value: unknown): boolean {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** Checks one descriptor's shape (image-spec descriptor.md); returns problems prefixed by `where`. */
export function checkDescriptor(value: unknown, where: string): string[] {
  if (!isObject(value)) return [`${where}: not an object`];
  const problems: string[] = [];
  if (typeof value.mediaType !== 'string' || !MEDIA_TYPE_RE.test(value.mediaType)) {
    problems.push(`${where}.mediaType: not a media type: ${JSON.stringify(value.mediaType)}`);
  }
  if (typeof value.digest !== 'string' || !isDigest(value.digest)) {
    problems.push(`${where}.digest: not a digest: ${JSON.stringify(value.digest)}`);
  }
  if (typeof value.size !== 'number' || !Number.isSafeInteger(value.size) || value.size < 0) {
    problems.push(`${where}.size: not a non-negative integer`);
  }
  if (value.urls !== undefined && !isStringArray(value.urls)) problems.push(`${where}.urls: not strings`);
  if (value.annotations !== undefined && !isStringMap(value.annotations)) {
    problems.push(`${where}.annotations: not a string map`);
  }
  return problems;
}

/** Checks a manifest document (image-spec manifest.md). */
export function checkManifest(value: unknown): string[] {
  if (!isObject(value)) return ['manifest: not an object'];
  const problems: string[] = [];
  if (value.schemaVersion !== 2) problems.push('manifest.schemaVersion: must be 2');
  const docker = value.mediaType === MediaType.dockerManifest;
  if (value.mediaType !== undefined && value.mediaType !== MediaType.ociManifest && !docker) {
    problems.push(`manifest.mediaType: unexpected ${JSON.stringify(value.mediaType)}`);
  }
  problems.push(...checkDescriptor(value.config, 'manifest.config'));
  const config = value.config as Json | undefined;
  const configTypes: string[] = docker ? [MediaType.dockerConfig] : [MediaType.ociConfig, MediaType.ociEmpty];
  if (isObject(config) && !configTypes.includes(String(config.mediaType))) {
    problems.push(`manifest.config.mediaType: unexpected ${JSON.stringify(config.mediaType)}`);
  }
  if (!Array.isArray(value.layers)) {
    problems.push('manifest.layers: missing');
  } else {
    value.layers.forEach((layer, i) => {
      problems.push(...checkDescriptor(layer, `manifest.layers[${i}]`));
      if (isObject(layer) && layerCompression(String(layer.mediaType)) === undefined) {
        problems.push(
          `manifest.layers[${i}].mediaType: not a layer type: ${JSON.stringify(layer.mediaType)}`,
        );
      }
    });
  }
  if (value.annotations !== undefined && !isStringMap(value.annotations)) {
    problems.push('manifest.annotations: not a string map');
  }
  return problems;
}

/** Checks an image index document (image-spec image-index.md). */
export function checkIndex(value: unknown): string[] {
  if (!isObject(value)) return ['index: not an object'];
  const problems: string[] = [];
  if (value.schemaVersion !== 2) problems.push('index.schemaVersion: must be 2');
  if (value.mediaType !== undefined && value.mediaType !== MediaType.ociIndex) {
    problems.push(`index.mediaType: unexpected ${JSON.stringify(value.mediaType)}`);
  }
  if (!Array.isArray(value.manifests)) problems.push('index.manifests: missing');
  else {
    for (const [i, m] of value.manifests.entries())
      problems.push(...checkDescriptor(m, `index.manifests[${i}]`));
  }
  if (value.annotations !== undefined && !isStringMap(value.annotations)) {
    problems.push('index.annotations: not a string map');
  }
  return problems;
}

function checkRuntimeConfig(value: unknown): string[] {
  if (value === undefined) return [];
  if (!isObject(value)) return ['config.config: not an object'];
  const problems: string[] = [];
  for (const key of ['User', 'WorkingDir', 'StopSignal'] as const) {
    if (value[key] !== undefined && typeof value[key] !== 'string')
      problems.push(`config.config.${key}: not a string`);
  }
  if (value.Env !== undefined) {
    if (!isStringArray(value.Env)) problems.push('config.config.Env: not strings');
    else if ((value.Env as string[]).some((e) => !e.includes('=')))
      problems.push('config.config.Env: entry without =');
  }
  for (const key of ['Entrypoint', 'Cmd'] as const) {
    if (value[key] !== undefined && value[key] !== null && !isStringArray(value[key])) {
      problems.push(`config.config.${key}: not strings`);
    }
  }
  if (value.ExposedPorts !== undefined) {
    if (!isObject(value.ExposedPorts)) problems.push('config.config.ExposedPorts: not an object');
    else {
      for (const port of Object.keys(value.ExposedPorts)) {
        if (!PORT_RE.test(port))
          problems.push(`config.config.ExposedPorts: bad port ${JSON.stringify(port)}`);
      }
    }
  }
  if (value.Labels !== undefined && value.Labels !== null && !isStringMap(value.Labels)) {
    problems.push('config.config.Labels: not a string map');
  }
  return problems;
}

/** Checks an image config document (image-spec config.md). */
export function checkConfig(value: unknown): string[] {
  if (!isObject(value)) return ['config: not an object'];
  const problems: string[] = [];
  if (typeof value.architecture !== 'string' || value.architecture === '')
    problems.push('config.architecture: missing');
  if (typeof value.os !== 'string' || value.os === '') problems.push('config.os: missing');
  if (value.created !== undefined && (typeof value.created !== 'string' || !RFC3339_RE.test(value.created))) {
    problems.push(`config.created: not RFC 3339: ${JSON.stringify(value.created)}`);
  }
  const rootfs = value.rootfs;
  if (!isObject(rootfs)) problems.push('config.rootfs: missing');
  else {
    if (rootfs.type !== 'layers') problems.push('config.rootfs.type: must be "layers"');
    if (!Array.isArray(rootfs.diff_ids)) problems.push('config.rootfs.diff_ids: missing');
    else if (rootfs.diff_ids.some((d) => typeof d !== 'string' || !isDigest(d))) {
      problems.push('config.rootfs.diff_ids: not digests');
    }
  }
  if (value.history !== undefined) {
    if (!Array.isArray(value.history)) problems.push('config.history: not an array');
    else {
      for (const [i, h] of value.history.entries()) {
        if (!isObject(h)) {
          problems.push(`config.history[${i}]: not an object`);
          continue;
        }
        if (h.created !== undefined && (typeof h.created !== 'string' || !RFC3339_RE.test(h.created))) {
          problems.push(`config.history[${i}].created: not RFC 3339`);
        }
        for (const key of ['created_by', 'author', 'comment'] as const) {
          if (h[key] !== undefined && typeof h[key] !== 'string')
            problems.push(`config.history[${i}].${key}: not a string`);
        }
        if (h.empty_layer !== undefined && typeof h.empty_layer !== 'boolean') {
          problems.push(`config.history[${i}].empty_layer: not a boolean`);
        }
      }
    }
  }
  problems.push(...checkRuntimeConfig(value.config));
  return problems;
}

/** Digest and size of a blob as stored. */
async function hashBlob(ctx: EngineContext, digest: Digest): Promise<{ digest: Digest; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of openBlob(ctx, digest)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: digestFromHash(hash), size };
}

/** Digest of a layer's uncompressed tar (its diff_id as it should be). */
async function hashUncompressed(ctx: EngineContext, digest: Digest, mediaType: string): Promise<Digest> {
  const hash = createHash('sha256');
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback();
    },
  });
  const compression = layerCompression(mediaType);
  if (compression === 'gzip') await pipeline(openBlob(ctx, digest), createGunzip(), sink);
  else if (compression === 'zstd') await pipeline(openBlob(ctx, digest), createZstdDecompress(), sink);
  else await pipeline(openBlob(ctx, digest), sink);
  return digestFromHash(hash);
}

/**
 * Every problem with `image` as stored: document shapes, blob digests and sizes, diff_ids against the
 * uncompressed layers, and history against the layer count. An empty list means it conforms.
 */
export async function checkImage(ctx: EngineContext, image: Image): Promise<string[]> {
  const problems: string[] = [];
  const manifestBytes = await readBlob(ctx, image.manifestDigest);
  if (sha256(manifestBytes) !== image.manifestDigest)
    problems.push('manifest: blob does not match its digest');
  let manifest: unknown;
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8'));
  } catch {
    return [...problems, 'manifest: not JSON'];
  }
  problems.push(...checkManifest(manifest));
  if (problems.length > 0) return problems;
  const m = manifest as {
    config: { digest: Digest; size: number };
    layers: { digest: Digest; size: number; mediaType: string }[];
  };

  if (m.config.digest !== image.id)
    problems.push(`manifest.config.digest: ${m.config.digest} is not the image id ${image.id}`);
  const configBytes = await readBlob(ctx, m.config.digest);
  if (sha256(configBytes) !== m.config.digest) problems.push('config: blob does not match its digest');
  if (configBytes.length !== m.config.size) {
    problems.push(`manifest.config.size: ${m.config.size}, blob has ${configBytes.length} bytes`);
  }
  let config: unknown;
  try {
    config = JSON.parse(configBytes.toString('utf8'));
  } catch {
    return [...problems, 'config: not JSON'];
  }
  problems.push(...checkConfig(config));
  if (problems.length > 0) return problems;
  const c = config as { rootfs: { diff_ids: Digest[] }; history?: { empty_layer?: boolean }[] };

  if (c.rootfs.diff_ids.length !== m.layers.length) {
    problems.push(
      `config.rootfs.diff_ids: ${c.rootfs.diff_ids.length} entries for ${m.layers.length} layers`,
    );
  }
  if (c.history !== undefined) {
    const nonEmpty = c.history.filter((h) => h.empty_layer !== true).length;
    if (nonEmpty !== m.layers.length) {
      problems.push(`config.history: ${nonEmpty} non-empty entries for ${m.layers.length} layers`);
    }
  }
  for (const [i, layer] of m.layers.entries()) {
    if (!(await hasBlob(ctx, layer.digest))) {
      problems.push(`manifest.layers[${i}]: blob ${layer.digest} is not in the store`);
      continue;
    }
    const hashed = await hashBlob(ctx, layer.digest);
    if (hashed.digest !== layer.digest)
      problems.push(`manifest.layers[${i}]: blob does not match its digest`);
    if (hashed.size !== layer.size)
      problems.push(`manifest.layers[${i}].size: ${layer.size}, blob has ${hashed.size} bytes`);
    const diffId = c.rootfs.diff_ids[i];
    try {
      const actual = await hashUncompressed(ctx, layer.digest, layer.mediaType);
      if (diffId !== undefined && actual !== diffId) {
        problems.push(`config.rootfs.diff_ids[${i}]: ${diffId}, uncompressed layer is ${actual}`);
      }
    } catch (err) {
      problems.push(`manifest.layers[${i}]: cannot decompress: ${(err as Error).message}`);
    }
  }
  return problems;
}

/** Throws a `StoreError` listing every problem when `image` does not conform to the OCI image spec. */
export async function validateImage(ctx: EngineContext, image: Image): Promise<void> {
  const problems = await checkImage(ctx, image);
  if (problems.length > 0) {
    throw new StoreError(
      `image ${image.id} does not conform to the OCI image spec:\n  ${problems.join('\n  ')}`,
      {
        input: image.id,
      },
    );
  }
}

/** What `checkStore` found, section by section; `problems` holds every one, worded for a user. */
export interface StoreCheck {
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
export async function checkStore(ctx: EngineContext): Promise<StoreCheck> {
  const check: StoreCheck = {
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
  for (const point of mountsUnder(ctx.root)) {
    const match = /\/containers\/([a-f0-9]{64})\/(rw|merged)$/.exec(point);
    if (!match || !containerIds.has(match[1]!) || !point.startsWith(ctx.paths.containers))
      problem(undefined, `mount ${point}: no container owns it`);
  }
  for (const pid of shimsUnder(ctx.paths.run)) {
    const id = shimContainer(pid);
    if (id === undefined || !containerIds.has(id))
      problem(undefined, `shim pid ${pid}: no container owns it`);
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

/** Pids of live layerlab-shim processes whose run dir is under `runDir`. */
function shimsUnder(runDir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (!argv[0]?.endsWith('layerlab-shim')) continue;
      const r = argv.indexOf('-r');
      if (r !== -1 && argv[r + 1]?.startsWith(`${runDir}/`)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** The container id a shim serves (its `-i` argument). */
function shimContainer(pid: number): string | undefined {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const i = argv.indexOf('-i');
    return i === -1 ? undefined : argv[i + 1];
  } catch {
    return undefined;
  }
}
