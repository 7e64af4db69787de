// A hostile registry for the hardening tests: an in-process HTTP server on 127.0.0.1 port 0 speaking just
// enough of the distribution API to be pulled from (ping, manifests, blobs), serving crafted content,
// and misbehaving on request: hanging, stalling or dropping mid-body, lying about sizes, endless bodies.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import type { Digest } from '../../engine/oci/digest.ts';
import { type Compression, MediaType } from '../../engine/oci/media-types.ts';
import { hostPlatform } from '../../engine/registry/platform.ts';
import { type Blob, digestOf } from './random-image.ts';

/** What the registry would answer, before any fault is applied. */
interface Answer {
  status: number;
  contentType: string;
  body: Buffer;
  digest?: string;
}

/** A way to misbehave on the requests a pattern matches. */
export type Fault =
  /** Reads the request and never answers (the connection stays open). */
  | { kind: 'hang' }
  /** Sends the headers (with the true Content-Length) and the first `after` body bytes, then nothing. */
  | { kind: 'stall'; after: number }
  /** Sends the headers (with the true Content-Length) and the first `after` body bytes, then cuts the connection. */
  | { kind: 'drop'; after: number }
  /** Answers with these bytes instead; `contentLength: false` sends them chunked, without a length. */
  | {
      kind: 'serve';
      body: Buffer;
      contentType?: string;
      contentLength?: number | false;
      /** A Docker-Content-Digest header to send instead of the true one. */
      digest?: string;
    }
  /** A chunked body that never ends (until the client goes away). */
  | { kind: 'endless'; contentType?: string };

export interface HostileRegistry {
  url: string;
  /** `127.0.0.1:PORT`, the domain part of references. */
  host: string;
  /** Every request, in order. */
  requests: { method: string; path: string }[];
  /** Body bytes written so far, over all responses. */
  bytesSent: number;
  /** Serves `blob` under `repo`, by `tag` when given and always by its digest. */
  manifest(repo: string, tag: string | undefined, blob: Blob): void;
  /** Serves a blob in every repository. */
  blob(bytes: Buffer): Digest;
  /** Serves a whole image: its blobs, and its manifest by `tag` and by digest. */
  image(repo: string, tag: string, image: BuiltImage): void;
  /** Misbehaves on the next `times` requests whose path matches (every one when `times` is absent). */
  fault(match: RegExp, fault: Fault, times?: number): void;
  clearFaults(): void;
  close(): Promise<void>;
}

export interface BuiltImage {
  manifest: Blob;
  config: Blob;
  layers: LayerBlob[];
}

const HOST_ARCH = hostPlatform().architecture;

const LAYER_TYPES: Record<Compression, string> = {
  gzip: MediaType.ociLayerGzip,
  zstd: MediaType.ociLayerZstd,
  none: MediaType.ociLayer,
};

export type LayerBlob = Blob & { diffId: Digest };

/** A layer blob: `tar` compressed as asked, or `blob` as given (a bomb, a truncated stream). */
export function layerBlob(
  content: { tar: Buffer } | { blob: Buffer; diffId?: Digest },
  compression: Compression = 'gzip',
): LayerBlob {
  const bytes =
    'blob' in content
      ? content.blob
      : compression === 'gzip'
        ? gzipSync(content.tar)
        : compression === 'zstd'
          ? zstdCompressSync(content.tar)
          : content.tar;
  // A blob given as is has no honest diff_id; it is refused before one would be compared.
  const diffId = 'tar' in content ? digestOf(content.tar) : (content.diffId ?? digestOf(bytes));
  return { bytes, digest: digestOf(bytes), mediaType: LAYER_TYPES[compression], diffId };
}

/**
 * An OCI image of the given layers. `edit` may change the manifest document before it is serialised
 * (a wrong media type, a wrong size), so the digests of everything else stay true.
 */
export function imageOf(
  layers: LayerBlob[],
  edit?: (manifest: { config: Record<string, unknown>; layers: Record<string, unknown>[] }) => void,
): BuiltImage {
  const configBytes = Buffer.from(
    JSON.stringify({
      created: '2024-01-01T00:00:00Z',
      architecture: HOST_ARCH,
      os: 'linux',
      config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'hostile' })),
    }),
  );
  const config = { bytes: configBytes, digest: digestOf(configBytes), mediaType: MediaType.ociConfig };
  const describe = (b: Blob) => ({ mediaType: b.mediaType, digest: b.digest, size: b.bytes.length });
  const doc = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: describe(config) as Record<string, unknown>,
    layers: layers.map(describe) as Record<string, unknown>[],
  };
  edit?.(doc);
  const manifestBytes = Buffer.from(JSON.stringify(doc));
  return {
    manifest: { bytes: manifestBytes, digest: digestOf(manifestBytes), mediaType: MediaType.ociManifest },
    config,
    layers,
  };
}

/** An OCI index of one manifest entry for the host's platform. */
export function indexOf(entry: Blob): Blob {
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [
        {
          mediaType: entry.mediaType,
          digest: entry.digest,
          size: entry.bytes.length,
          platform: { os: 'linux', architecture: HOST_ARCH },
        },
      ],
    }),
  );
  return { bytes, digest: digestOf(bytes), mediaType: MediaType.ociIndex };
}

function errorAnswer(status: number, code: string, message: string): Answer {
  return {
    status,
    contentType: 'application/json',
    body: Buffer.from(JSON.stringify({ errors: [{ code, message }] })),
  };
}

export async function startHostileRegistry(): Promise<HostileRegistry> {
  const manifests = new Map<string, Blob>(); // `${repo}:${tag or digest}`
  const blobs = new Map<string, Buffer>();
  const faults: { match: RegExp; fault: Fault; left: number }[] = [];
  const sockets = new Set<Socket>();

  const state: HostileRegistry = {
    url: '',
    host: '',
    requests: [],
    bytesSent: 0,
    manifest(repo, tag, blob) {
      if (tag !== undefined) manifests.set(`${repo}:${tag}`, blob);
      manifests.set(`${repo}:${blob.digest}`, blob);
    },
    blob(bytes) {
      const digest = digestOf(bytes);
      blobs.set(digest, bytes);
      return digest;
    },
    image(repo, tag, image) {
      state.blob(image.config.bytes);
      for (const layer of image.layers) state.blob(layer.bytes);
      state.manifest(repo, tag, image.manifest);
    },
    fault(match, fault, times = Number.POSITIVE_INFINITY) {
      faults.push({ match, fault, left: times });
    },
    clearFaults() {
      faults.length = 0;
    },
    close: async () => {},
  };

  const answerFor = (path: string): Answer => {
    if (path === '/v2/' || path === '/v2')
      return { status: 200, contentType: 'application/json', body: Buffer.from('{}') };
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    if (!m) return errorAnswer(404, 'NAME_UNKNOWN', 'repository name not known to registry');
    const [, repo, kind, reference] = m as unknown as [string, string, string, string];
    if (kind === 'manifests') {
      const blob = manifests.get(`${repo}:${reference}`);
      if (!blob) return errorAnswer(404, 'MANIFEST_UNKNOWN', 'manifest unknown');
      return { status: 200, contentType: blob.mediaType, body: blob.bytes, digest: blob.digest };
    }
    const bytes = blobs.get(reference);
    if (!bytes) return errorAnswer(404, 'BLOB_UNKNOWN', 'blob unknown to registry');
    return { status: 200, contentType: 'application/octet-stream', body: bytes, digest: reference };
  };

  const write = (res: ServerResponse, chunk: Buffer, done?: () => void) => {
    state.bytesSent += chunk.length;
    return res.write(chunk, done);
  };

  const respond = (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://registry').pathname;
    state.requests.push({ method: req.method ?? 'GET', path });
    const answer = answerFor(path);
    const rule = faults.find((f) => f.left > 0 && f.match.test(path));
    if (rule) rule.left--;
    const fault = rule?.fault;
    const headers = (a: Answer, length: number | false = a.body.length): Record<string, string> => ({
      'Content-Type': a.contentType,
      'Docker-Distribution-API-Version': 'registry/2.0',
      ...(length === false ? {} : { 'Content-Length': String(length) }),
      ...(a.digest ? { 'Docker-Content-Digest': a.digest } : {}),
    });
    const head = req.method === 'HEAD';

    switch (fault?.kind) {
      case 'hang':
        return;
      case 'stall':
      case 'drop': {
        res.writeHead(answer.status, headers(answer));
        write(res, answer.body.subarray(0, fault.after), () => {
          if (fault.kind === 'drop') res.socket?.destroy();
        });
        return;
      }
      case 'serve': {
        const served: Answer = {
          ...answer,
          status: 200,
          body: fault.body,
          contentType: fault.contentType ?? answer.contentType,
          ...(fault.digest ? { digest: fault.digest } : {}),
        };
        res.writeHead(200, headers(served, fault.contentLength ?? fault.body.length));
        if (head) res.end();
        else {
          state.bytesSent += fault.body.length;
          res.end(fault.body);
        }
        return;
      }
      case 'endless': {
        res.writeHead(200, {
          ...headers({ ...answer, contentType: fault.contentType ?? answer.contentType }, false),
        });
        const chunk = Buffer.alloc(64 * 1024, 0x41);
        const pump = () => {
          while (!res.destroyed && write(res, chunk)) {}
          if (!res.destroyed) res.once('drain', pump);
        };
        res.on('close', () => res.off('drain', pump));
        write(res, Buffer.from('{"padding":"'));
        pump();
        return;
      }
      default: {
        res.writeHead(answer.status, headers(answer));
        if (head) res.end();
        else {
          state.bytesSent += answer.body.length;
          res.end(answer.body);
        }
      }
    }
  };

  const server = createServer(respond);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await new Promise<number>((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
  state.url = `http://127.0.0.1:${port}`;
  state.host = `127.0.0.1:${port}`;
  state.close = () => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return state;
}
