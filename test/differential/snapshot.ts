// What the differential suite compares of an image: read from a docker-archive (`save`), the same way
// whichever engine wrote it, so Layerlab and Docker are judged by one reader. A snapshot holds the
// layers above the base image as sorted `ls -l`-like lines (type, mode, owner, path, size and
// content hash, link target, device numbers), the config fields a Dockerfile sets, and the history.
// One normalisation: a directory entry that changes nothing but its mtime is left out (see below).

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';

/** One entry of a layer: its line, and its mtime (seconds), which only some cases check. */
export interface LayerEntry {
  line: string;
  path: string;
  mtime: number;
}

export interface ImageSnapshot {
  /** diff_ids of every layer, base included. */
  diffIds: string[];
  /** The layers above the base, each as its entries' lines, sorted by path. */
  layers: string[][];
  /** The same entries with their mtimes, for the cases that check times. */
  entries: LayerEntry[][];
  config: Record<string, unknown>;
  /** History above the base: `created_by` and whether the step made no layer. */
  history: { created_by: string; empty_layer: boolean }[];
  /** The image's `created`, as seconds since the epoch. */
  created: number;
}

/** The config fields a Dockerfile or `commit --change` sets, as Docker names them. */
export const CONFIG_FIELDS = [
  'Env',
  'Cmd',
  'Entrypoint',
  'WorkingDir',
  'User',
  'ExposedPorts',
  'Volumes',
  'Labels',
  'Healthcheck',
  'Shell',
  'OnBuild',
  'StopSignal',
] as const;

/** All files of a tar (small archives only: the suite's images are a few MB). */
async function readTar(data: Buffer): Promise<{ header: tar.Header; body: Buffer }[]> {
  const extract = tar.extract();
  const out: { header: tar.Header; body: Buffer }[] = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c) => {
        if (Buffer.isBuffer(c)) chunks.push(c);
      });
      stream.on('end', () => {
        out.push({ header, body: Buffer.concat(chunks) });
        next();
      });
      stream.on('error', reject);
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  Readable.from([data]).pipe(extract);
  await done;
  return out;
}

const TYPE_CHAR: Record<string, string> = {
  file: '-',
  'contiguous-file': '-',
  directory: 'd',
  symlink: 'l',
  link: 'h',
  fifo: 'p',
  'character-device': 'c',
  'block-device': 'b',
};

function cleanPath(name: string): string {
  return name.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
}

/** An entry as a line: `-0644 0:0 etc/motd 6 sha256:0123456789ab`, `l0777 0:0 bin/sh -> busybox`. */
export function entryLine(header: tar.Header, body: Buffer): string {
  const type = TYPE_CHAR[header.type ?? 'file'] ?? `?${header.type}`;
  const mode = ((header.mode ?? 0) & 0o7777).toString(8).padStart(4, '0');
  let line = `${type}${mode} ${header.uid ?? 0}:${header.gid ?? 0} ${cleanPath(header.name)}`;
  if (type === '-')
    line += ` ${body.length} sha256:${createHash('sha256').update(body).digest('hex').slice(0, 12)}`;
  if (type === 'l') line += ` -> ${header.linkname}`;
  if (type === 'h') line += ` => ${cleanPath(header.linkname ?? '')}`;
  if (type === 'c' || type === 'b') line += ` ${header.devmajor ?? 0},${header.devminor ?? 0}`;
  return line;
}

function unpackBlob(data: Buffer): Buffer {
  // Saved layers are plain tars (Docker, and Layerlab's own builds and commits) or gzip (pulled ones).
  return data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data;
}

function pickConfig(config: Record<string, unknown> | undefined): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const field of CONFIG_FIELDS) {
    const value = config?.[field];
    // Docker leaves out what is unset; an engine may write it as null, "" or {}: all mean unset.
    if (value === undefined || value === null || value === '') continue;
    if (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0) continue;
    picked[field] = value;
  }
  return picked;
}

/**
 * Reads the image in a docker-archive (the first in its manifest.json). `baseLayers` and
 * `baseHistory` are how many of each belong to the base image (busybox), left out of the snapshot.
 */
export async function snapshotArchive(
  file: string,
  base: { layers: number; history: number },
): Promise<ImageSnapshot> {
  const files = new Map((await readTar(readFileSync(file))).map((f) => [cleanPath(f.header.name), f.body]));
  const manifestText = files.get('manifest.json');
  if (!manifestText) throw new Error(`${file}: no manifest.json (not a docker-archive)`);
  const [manifest] = JSON.parse(manifestText.toString()) as { Config: string; Layers: string[] }[];
  if (!manifest) throw new Error(`${file}: empty manifest.json`);
  const configBody = files.get(cleanPath(manifest.Config));
  if (!configBody) throw new Error(`${file}: config ${manifest.Config} missing`);
  const config = JSON.parse(configBody.toString()) as {
    created?: string;
    config?: Record<string, unknown>;
    rootfs: { diff_ids: string[] };
    history?: { created_by?: string; empty_layer?: boolean }[];
  };
  const entries: LayerEntry[][] = [];
  // Each path's type, mode and owner in the layers read so far (the base's included).
  const below = new Map<string, string>();
  for (const [index, layerPath] of manifest.Layers.entries()) {
    const blob = files.get(cleanPath(layerPath));
    if (!blob) throw new Error(`${file}: layer ${layerPath} missing`);
    let layer = (await readTar(unpackBlob(blob))).map(({ header, body }) => {
      const line = entryLine(header, body);
      return {
        line,
        path: cleanPath(header.name),
        mtime: Math.floor((header.mtime?.getTime() ?? 0) / 1000),
        head: line.slice(0, line.indexOf(' ', 6)),
      };
    });
    if (index >= base.layers) {
      // A directory that only says "still here, same mode and owner" (nothing under it changed in this
      // layer) records an mtime and nothing else: Docker's build containers leave /etc so, from the
      // mount points of their /etc/hosts and /etc/resolv.conf. Left out for both engines.
      layer = layer.filter(
        (e) =>
          !(
            e.line.startsWith('d') &&
            below.get(e.path) === e.head &&
            !layer.some((o) => o.path.startsWith(`${e.path}/`))
          ),
      );
    }
    for (const e of layer) below.set(e.path, e.head);
    if (index < base.layers) continue;
    layer.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    entries.push(layer.map(({ line, path, mtime }) => ({ line, path, mtime })));
  }
  return {
    diffIds: config.rootfs.diff_ids,
    layers: entries.map((layer) => layer.map((e) => e.line)),
    entries,
    config: pickConfig(config.config),
    history: (config.history ?? []).slice(base.history).map((h) => ({
      created_by: h.created_by ?? '',
      empty_layer: h.empty_layer === true,
    })),
    created: Math.floor(new Date(config.created ?? 0).getTime() / 1000),
  };
}
