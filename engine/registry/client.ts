// The OCI distribution client: manifests (size-capped, digest-checked, media types checked), blobs
// streamed and verified, uploads and manifest pushes. Pulls try the configured mirrors, then the host.
// Under a registry policy (a server session) pushes go only to the session's own namespace, and every
// repository of the session's own registry is addressed inside that namespace (policy.ts).

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { EngineContext } from '../context.ts';
import {
  CancelledError,
  DigestMismatchError,
  LayerlabError,
  RegistryError,
  redact,
  SizeExceededError,
} from '../errors.ts';
import { type Digest, digestAlgorithm, isDigest } from '../oci/digest.ts';
import { INDEX_TYPES, MANIFEST_TYPES, MediaType } from '../oci/media-types.ts';
import type { Descriptor } from '../oci/types.ts';
import { DEFAULT_DOMAIN, familiarName, familiarRepository, type Reference } from '../reference/reference.ts';
import { Authenticator, repositoryScope } from './auth.ts';
import { type CredentialStore, credentialsFor, loadCredentials } from './credentials.ts';
import { type Endpoint, pullEndpoints, registryEndpoint } from './endpoints.ts';
import { checkPush, type RegistryPolicy, wirePath } from './policy.ts';
import {
  DEFAULT_TRANSPORT,
  type HttpRequest,
  type HttpResponse,
  send,
  type TransportOptions,
} from './transport.ts';

/** One request/response the client made, for the pull inspector. */
export interface Exchange {
  step: 'ping' | 'token' | 'index' | 'manifest' | 'blob' | 'upload' | 'push';
  url: string;
  status: number;
  digest?: string;
  mediaType?: string;
}

export interface RegistryClientOptions {
  transport?: Partial<TransportOptions>;
  /** Defaults to the context's (`ctx.registry`), else `<root>/auth.json` and the local registry's. */
  credentials?: CredentialStore;
  onExchange?: (exchange: Exchange) => void;
}

export interface ManifestResponse {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
  /** Where it came from (a mirror or the registry), and the URL that answered. */
  endpoint: Endpoint;
  url: string;
}

/** What `Accept` lists for manifests: every single-image and multi-platform type we read. */
export const MANIFEST_ACCEPT = [
  MediaType.ociIndex,
  MediaType.ociManifest,
  MediaType.dockerManifestList,
  MediaType.dockerManifest,
].join(', ');

const SCHEMA1_TYPES = [
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
];
const ERROR_BODY_LIMIT = 64 * 1024;

export class RegistryClient {
  private readonly ctx: EngineContext;
  private readonly transport: TransportOptions;
  private readonly auth: Authenticator;
  private readonly observe: (exchange: Exchange) => void;
  private readonly policy: RegistryPolicy | undefined;

  constructor(ctx: EngineContext, options: RegistryClientOptions = {}) {
    this.ctx = ctx;
    this.policy = ctx.registry?.policy;
    this.transport = { ...DEFAULT_TRANSPORT, timeoutMs: ctx.config.registryTimeoutMs, ...options.transport };
    if (ctx.signal) this.transport.signal = ctx.signal;
    // Set after the caller's transport options, so no option can lift the context's policy.
    if (this.policy) this.transport.policy = this.policy;
    this.observe = options.onExchange ?? (() => {});
    let store = options.credentials ?? ctx.registry?.credentials;
    this.auth = new Authenticator(
      this.transport,
      (endpoint) => {
        store ??= loadCredentials(ctx.root);
        // A mirror gets only its own credentials, never those of the registry it stands in for.
        if (endpoint.mirror) return credentialsFor(store, endpoint.host);
        const aliases = endpoint.registry === DEFAULT_DOMAIN ? ['index.docker.io'] : [];
        return credentialsFor(store, endpoint.host, endpoint.registry, ...aliases);
      },
      (step, url, status) => this.observe({ step, url, status }),
    );
  }

  /**
   * Fetches the manifest or index `ref` names (its digest when it has one, else its tag), checking
   * size, media type and digest. Tries each mirror, then the registry.
   */
  getManifest(ref: Reference): Promise<ManifestResponse> {
    return this.fromPullEndpoints(ref, (endpoint) => this.getManifestFrom(endpoint, ref));
  }

  /**
   * Opens a blob as a stream that fails unless its bytes match the descriptor's size and digest.
   * `digestVerifiedBy: 'caller'` skips the hash here for a caller that hashes the same bytes anyway
   * (the blob store refuses a wrong digest); the size is still enforced.
   */
  fetchBlob(
    ref: Reference,
    descriptor: Descriptor,
    onResponse?: (url: string, status: number) => void,
    options: { digestVerifiedBy?: 'client' | 'caller' } = {},
  ): Promise<Readable> {
    const path = wirePath(this.policy, ref.domain, ref.path);
    return this.fromPullEndpoints(ref, async (endpoint) => {
      const url = `${endpoint.base}/v2/${path}/blobs/${descriptor.digest}`;
      const response = await this.request(endpoint, repositoryScope(path, 'pull'), {
        method: 'GET',
        url,
      });
      this.observe({ step: 'blob', url, status: response.status, digest: descriptor.digest });
      onResponse?.(url, response.status);
      if (response.status !== 200) {
        throw await statusError(response, 'GET', url, ref, `blob ${descriptor.digest}`);
      }
      const declared = response.headers.get('content-length');
      if (declared !== null && Number(declared) !== descriptor.size) {
        await response.discard();
        throw new RegistryError(
          `Get "${redact(url)}": size mismatch: expected ${descriptor.size} bytes, registry sends ${declared}`,
          { input: descriptor.digest },
        );
      }
      const hashed = options.digestVerifiedBy !== 'caller';
      return Readable.from(verified(response.chunks(), descriptor, url, hashed));
    });
  }

  /** Whether the registry named by `ref` already has the blob (a HEAD, as `docker push` does). */
  async blobExists(ref: Reference, digest: Digest): Promise<boolean> {
    const { endpoint, path } = this.pushTarget(ref);
    const url = `${endpoint.base}/v2/${path}/blobs/${digest}`;
    const response = await this.request(endpoint, repositoryScope(path, 'pull,push'), {
      method: 'HEAD',
      url,
    });
    await response.discard();
    if (response.status === 200) return true;
    if (response.status === 404) return false;
    throw await statusError(response, 'HEAD', url, ref, `blob ${digest}`, 'push');
  }

  /** Uploads a blob in one PUT (POST to start the session, PUT with `?digest=`). */
  async uploadBlob(
    ref: Reference,
    descriptor: Descriptor,
    open: () => AsyncIterable<Uint8Array>,
  ): Promise<void> {
    const { endpoint, path } = this.pushTarget(ref);
    const scope = repositoryScope(path, 'pull,push');
    const start = `${endpoint.base}/v2/${path}/blobs/uploads/`;
    const started = await this.request(endpoint, scope, { method: 'POST', url: start });
    await started.discard();
    this.observe({ step: 'upload', url: start, status: started.status, digest: descriptor.digest });
    const location = started.headers.get('location');
    if (started.status !== 202 || location === null) {
      throw await statusError(started, 'POST', start, ref, `blob ${descriptor.digest}`, 'push');
    }
    const target = new URL(location, start);
    target.searchParams.set('digest', descriptor.digest);
    const url = target.toString();
    const response = await this.request(endpoint, scope, {
      method: 'PUT',
      url,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(descriptor.size) },
      body: open,
    });
    await response.discard();
    this.observe({
      step: 'upload',
      url: redactQuery(url),
      status: response.status,
      digest: descriptor.digest,
    });
    if (response.status !== 201) {
      throw await statusError(response, 'PUT', redactQuery(url), ref, `blob ${descriptor.digest}`, 'push');
    }
  }

  /** Puts a manifest under `ref`'s tag (or digest); returns the digest the registry computed. */
  async putManifest(ref: Reference, bytes: Uint8Array, mediaType: string): Promise<Digest> {
    const { endpoint, path } = this.pushTarget(ref);
    const target = ref.tag ?? ref.digest;
    if (target === undefined) throw new RegistryError(`push ${familiarName(ref)}: no tag to push`);
    const url = `${endpoint.base}/v2/${path}/manifests/${target}`;
    const response = await this.request(endpoint, repositoryScope(path, 'pull,push'), {
      method: 'PUT',
      url,
      headers: { 'Content-Type': mediaType },
      body: () => bytes,
    });
    const digest = sha256Of(bytes);
    this.observe({ step: 'push', url, status: response.status, digest, mediaType });
    if (response.status !== 201 && response.status !== 200) {
      throw await statusError(response, 'PUT', url, ref, 'manifest', 'push');
    }
    await response.discard();
    const answered = response.headers.get('docker-content-digest');
    if (answered !== null && answered !== digest) {
      throw new DigestMismatchError(digest, answered, `push ${familiarName(ref)}: manifest`);
    }
    return digest;
  }

  private async getManifestFrom(endpoint: Endpoint, ref: Reference): Promise<ManifestResponse> {
    const target = ref.digest ?? ref.tag ?? 'latest';
    const path = wirePath(this.policy, ref.domain, ref.path);
    const url = `${endpoint.base}/v2/${path}/manifests/${target}`;
    const response = await this.request(endpoint, repositoryScope(path, 'pull'), {
      method: 'GET',
      url,
      headers: { Accept: MANIFEST_ACCEPT },
    });
    if (response.status !== 200) {
      this.observe({ step: 'manifest', url, status: response.status });
      throw await statusError(response, 'GET', url, ref, 'manifest');
    }
    const bytes = await response.bytes(this.ctx.config.limits.manifestBytes, `manifest ${familiarName(ref)}`);
    const mediaType = manifestMediaType(response.headers.get('content-type'), bytes, url);

    const expected = ref.digest ?? headerDigest(response);
    const actual = expected ? hashAs(expected, bytes) : sha256Of(bytes);
    this.observe({
      step: INDEX_TYPES.includes(mediaType) ? 'index' : 'manifest',
      url,
      status: response.status,
      digest: actual,
      mediaType,
    });
    if (expected && actual !== expected) {
      throw new DigestMismatchError(expected, actual, `manifest for ${familiarName(ref)}`);
    }
    return { bytes, mediaType, digest: actual, endpoint, url };
  }

  /** Where a push of `ref` goes: refused by the policy unless it is the session's own registry. */
  private pushTarget(ref: Reference): { endpoint: Endpoint; path: string } {
    checkPush(this.policy, ref.domain);
    return {
      endpoint: registryEndpoint(this.ctx.config, ref.domain),
      path: wirePath(this.policy, ref.domain, ref.path),
    };
  }

  /**
   * Deletes every tagged manifest in the policy's own namespace (a session's pushes), when the
   * session ends. Returns how many manifests went. Blobs stay until the registry's garbage collection.
   */
  async deleteOwnNamespace(): Promise<number> {
    const own = this.policy?.own;
    if (!own) return 0;
    const endpoint = registryEndpoint(this.ctx.config, own.host);
    const prefix = `${own.namespace}/`;
    let deleted = 0;
    for (const repository of await this.catalog(endpoint, prefix)) {
      const scope = repositoryScope(repository, 'pull,push');
      const tagsUrl = `${endpoint.base}/v2/${repository}/tags/list`;
      const listed = await this.request(endpoint, scope, { method: 'GET', url: tagsUrl });
      if (listed.status === 404) {
        await listed.discard();
        continue;
      }
      if (listed.status !== 200)
        throw new RegistryError(`Get "${redact(tagsUrl)}": unexpected status ${listed.status}`);
      const { tags } = JSON.parse(
        (await listed.bytes(ERROR_BODY_LIMIT * 16, 'tag list')).toString('utf8'),
      ) as {
        tags?: string[] | null;
      };
      const digests = new Set<string>();
      for (const tag of tags ?? []) {
        const url = `${endpoint.base}/v2/${repository}/manifests/${tag}`;
        const head = await this.request(endpoint, scope, {
          method: 'HEAD',
          url,
          headers: { Accept: MANIFEST_ACCEPT },
        });
        await head.discard();
        const digest = head.headers.get('docker-content-digest');
        if (head.status === 200 && digest !== null && isDigest(digest)) digests.add(digest);
      }
      for (const digest of digests) {
        const url = `${endpoint.base}/v2/${repository}/manifests/${digest}`;
        const response = await this.request(endpoint, scope, { method: 'DELETE', url });
        await response.discard();
        if (response.status === 202 || response.status === 200) deleted++;
        else if (response.status !== 404)
          throw new RegistryError(`Delete "${redact(url)}": unexpected status ${response.status}`);
      }
    }
    return deleted;
  }

  /** Repositories of the registry at `endpoint` whose names start with `prefix`, page by page. */
  private async catalog(endpoint: Endpoint, prefix: string): Promise<string[]> {
    const found: string[] = [];
    // The catalog is sorted: start just before the prefix and stop at the first name past it.
    let last = prefix.slice(0, -1);
    for (;;) {
      const url = `${endpoint.base}/v2/_catalog?n=1000&last=${encodeURIComponent(last)}`;
      const response = await this.request(endpoint, 'registry:catalog:*', { method: 'GET', url });
      if (response.status !== 200) {
        await response.discard();
        throw new RegistryError(`Get "${redact(url)}": unexpected status ${response.status}`);
      }
      const { repositories } = JSON.parse(
        (await response.bytes(16 * 1024 * 1024, 'catalog')).toString('utf8'),
      ) as { repositories?: string[] };
      const page = repositories ?? [];
      for (const repository of page) {
        if (repository.startsWith(prefix)) found.push(repository);
        else if (repository > prefix) return found;
      }
      if (page.length < 1000) return found;
      last = page[page.length - 1]!;
    }
  }

  /** One authorised request; a 401 that brings a new challenge or outdates our token is retried once. */
  private async request(endpoint: Endpoint, scope: string, request: HttpRequest): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.auth.authorization(endpoint, scope);
      const headers = { ...request.headers };
      if (authorization) headers.Authorization = authorization;
      const response = await send({ ...request, headers }, this.transport);
      if (response.status !== 401 || attempt > 0 || !this.auth.forget(endpoint, scope, response))
        return response;
      await response.discard();
    }
  }

  /** Tries the mirrors and then the registry, returning the first success. */
  private async fromPullEndpoints<T>(ref: Reference, fn: (endpoint: Endpoint) => Promise<T>): Promise<T> {
    const failures: LayerlabError[] = [];
    for (const endpoint of pullEndpoints(this.ctx.config, ref.domain)) {
      try {
        return await fn(endpoint);
      } catch (err) {
        if (err instanceof CancelledError || !(err instanceof LayerlabError)) throw err;
        failures.push(err);
      }
    }
    // An answer from a registry ("not found", "denied", a bad digest) says more than a refused
    // connection to another endpoint, so report the first of those.
    const answered = failures.find((e) => !(e instanceof RegistryError) || e.status !== undefined);
    throw answered ?? failures[0]!;
  }
}

async function* verified(
  chunks: AsyncIterable<Uint8Array>,
  descriptor: Descriptor,
  url: string,
  hashed = true,
): AsyncGenerator<Uint8Array> {
  const hash = hashed ? createHash(digestAlgorithm(descriptor.digest)) : undefined;
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.byteLength;
    if (size > descriptor.size)
      throw new SizeExceededError(`blob ${descriptor.digest} from ${redact(url)}`, descriptor.size);
    hash?.update(chunk);
    yield chunk;
  }
  if (size !== descriptor.size) {
    throw new RegistryError(`Get "${redact(url)}": unexpected EOF: got ${size} of ${descriptor.size} bytes`, {
      input: descriptor.digest,
    });
  }
  const actual = hash && `${digestAlgorithm(descriptor.digest)}:${hash.digest('hex')}`;
  if (actual !== undefined && actual !== descriptor.digest)
    throw new DigestMismatchError(descriptor.digest, actual, `blob from ${redact(url)}`);
}

function sha256Of(bytes: Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;
}

function hashAs(expected: Digest, bytes: Uint8Array): Digest {
  const algorithm = digestAlgorithm(expected);
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}` as Digest;
}

function headerDigest(response: HttpResponse): Digest | undefined {
  const value = response.headers.get('docker-content-digest');
  return value !== null && isDigest(value) ? value : undefined;
}

/**
 * The media type from Content-Type, or from the document when the server says only "json". The two
 * must agree: a manifest sent as an index (or the reverse) would be read by the wrong schema.
 */
function manifestMediaType(contentType: string | null, bytes: Buffer, url: string): string {
  let mediaType = contentType?.split(';')[0]?.trim() ?? '';
  let doc: { mediaType?: unknown; manifests?: unknown; config?: unknown } | undefined;
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) doc = parsed;
  } catch {
    // Judged below: schema 1 and unknown types get their own messages, anything else is "not JSON".
  }
  const generic = mediaType === '' || mediaType === 'application/json' || mediaType === 'text/plain';
  if (
    doc === undefined &&
    (generic || MANIFEST_TYPES.includes(mediaType) || INDEX_TYPES.includes(mediaType))
  ) {
    throw new RegistryError(`Get "${redact(url)}": manifest is not a JSON object`, { input: redact(url) });
  }
  const declared = typeof doc?.mediaType === 'string' ? doc.mediaType : undefined;
  const shape = Array.isArray(doc?.manifests)
    ? MediaType.ociIndex
    : doc?.config !== undefined
      ? MediaType.ociManifest
      : undefined;
  if (generic) mediaType = declared ?? shape ?? mediaType;
  else if (MANIFEST_TYPES.includes(mediaType) || INDEX_TYPES.includes(mediaType)) {
    const isIndex = INDEX_TYPES.includes(mediaType);
    const body = declared ?? shape;
    const bodyIsIndex = body === undefined ? undefined : INDEX_TYPES.includes(body);
    if (
      (declared !== undefined && declared !== mediaType) ||
      (bodyIsIndex !== undefined && bodyIsIndex !== isIndex)
    ) {
      throw new RegistryError(
        `Get "${redact(url)}": Content-Type ${mediaType} does not match the document, which is ${describeBody(declared, shape)}`,
        { input: redact(url) },
      );
    }
  }
  if (SCHEMA1_TYPES.includes(mediaType)) {
    throw new LayerlabError(
      'UNSUPPORTED',
      `${redact(url)}: Docker Image manifest version 2, schema 1 is not supported`,
      {
        input: mediaType,
      },
    );
  }
  if (!MANIFEST_TYPES.includes(mediaType) && !INDEX_TYPES.includes(mediaType)) {
    throw new LayerlabError(
      'UNSUPPORTED',
      `${redact(url)}: unsupported manifest media type ${JSON.stringify(mediaType)}`,
      {
        input: mediaType,
      },
    );
  }
  return mediaType;
}

function describeBody(declared: string | undefined, shape: string | undefined): string {
  if (declared !== undefined) return `a ${declared}`;
  return shape === MediaType.ociIndex ? 'an index (it lists manifests)' : 'a manifest (it has a config)';
}

function redactQuery(url: string): string {
  const u = new URL(url);
  // Upload URLs carry the registry's session state, which is noise in messages.
  u.searchParams.delete('_state');
  return redact(u.toString());
}

/** The registry's `{"errors":[{code,message}]}` as Docker prints it: `manifest unknown: …`. */
async function serverMessage(response: HttpResponse): Promise<string | undefined> {
  let body: Buffer;
  try {
    body = await response.bytes(ERROR_BODY_LIMIT, 'error body');
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string }[] };
    const first = parsed.errors?.[0];
    if (!first) return undefined;
    const code = (first.code ?? '').toLowerCase().replace(/_/g, ' ');
    const message = first.message ?? '';
    if (code && message && code !== message) return `${code}: ${message}`;
    return code || message || undefined;
  } catch {
    return undefined;
  }
}

async function statusError(
  response: HttpResponse,
  method: string,
  url: string,
  ref: Reference,
  what: string,
  action: 'pull' | 'push' = 'pull',
): Promise<RegistryError> {
  const status = response.status;
  const message = await serverMessage(response);
  const options = { status, input: redact(url) };
  if (status === 401 || status === 403) {
    if (action === 'push') {
      return new RegistryError(
        `denied: requested access to the resource is denied${message ? ` (${message})` : ''}`,
        options,
      );
    }
    return new RegistryError(
      `pull access denied for ${familiarRepository(ref)}, repository does not exist or may require authorization${message ? `: ${message}` : ''}`,
      options,
    );
  }
  if (status === 404 && what === 'manifest') {
    return new RegistryError(
      `manifest for ${familiarName(ref)} not found: ${message ?? 'manifest unknown'}`,
      options,
    );
  }
  const verb = method.charAt(0) + method.slice(1).toLowerCase();
  return new RegistryError(
    `${verb} "${redact(url)}": ${what}: unexpected status ${status}${message ? `: ${message}` : ''}`,
    options,
  );
}
