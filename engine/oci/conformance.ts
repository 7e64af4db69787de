// OCI conformance of the documents themselves, written from the image-spec text: descriptor, manifest,
// index and config shapes, with every problem worded for a reader. Pure: no I/O. The zod schemas in
// types.ts say what the engine accepts off the wire; these say whether a document follows the spec.

import { isDigest } from './digest.ts';
import { layerCompression, MediaType } from './media-types.ts';

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
