// HTTP for the registry client: Node's fetch with bounded retries on network errors, 5xx and 429,
// redirects followed by hand (Authorization dropped when the host changes), timeouts and cancellation.
// `sendOnce` is the only place a registry connection is opened, and it asks the policy first.

import { CancelledError, RegistryError, redact, SizeExceededError } from '../errors.ts';
import { checkRequest, RegistryNotAllowedError, type RegistryPolicy } from './policy.ts';

export interface TransportOptions {
  /** Cancels the whole exchange (the operation's signal). */
  signal?: AbortSignal;
  /** How long to wait for response headers, and for each chunk of a body, before giving up. */
  timeoutMs: number;
  /** Extra attempts after the first, for retryable failures. */
  retries: number;
  /** First backoff delay; doubled each retry. */
  backoffMs: number;
  /** Which hosts may be connected to, for the registry, its token realm and every redirect. */
  policy?: RegistryPolicy;
}

export const DEFAULT_TRANSPORT: TransportOptions = { timeoutMs: 30_000, retries: 3, backoffMs: 200 };

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** Opens the body afresh for each attempt, so a streamed upload can be retried. */
  body?: () => Uint8Array | AsyncIterable<Uint8Array>;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Headers;
  /** The URL that finally answered, after redirects. */
  readonly url: string;
  /** The body as chunks; a chunk that takes longer than the timeout aborts the read. */
  chunks(): AsyncIterable<Uint8Array>;
  /** Reads the whole body, refusing more than `limit` bytes. */
  bytes(limit: number, what: string): Promise<Buffer>;
  /** Releases the connection without reading the body. */
  discard(): Promise<void>;
}

const MAX_REDIRECTS = 10;
const MAX_RETRY_AFTER_MS = 5_000;

class TimeoutSignal extends Error {}

/** Failures that another attempt cannot fix (a name that does not resolve). */
const permanent = new WeakSet<Error>();

/** Sends one request, retrying transient failures and following redirects. */
export async function send(request: HttpRequest, options: TransportOptions): Promise<HttpResponse> {
  let attempt = 0;
  for (;;) {
    try {
      const response = await sendFollowingRedirects(request, options);
      if ((response.status >= 500 || response.status === 429) && attempt < options.retries) {
        const retryAfter = Number(response.headers.get('retry-after'));
        await response.discard();
        await sleep(backoff(options, attempt, retryAfter), options.signal, request);
        attempt++;
        continue;
      }
      return response;
    } catch (err) {
      if (
        !(err instanceof RegistryError) ||
        err.status !== undefined ||
        permanent.has(err) ||
        err instanceof RegistryNotAllowedError
      )
        throw err;
      if (attempt >= options.retries) throw err;
      // A network error: the connection was refused, reset or timed out. Try again after a pause.
      await sleep(backoff(options, attempt, Number.NaN), options.signal, request);
      attempt++;
    }
  }
}

function backoff(options: TransportOptions, attempt: number, retryAfterSec: number): number {
  if (Number.isFinite(retryAfterSec) && retryAfterSec >= 0)
    return Math.min(retryAfterSec * 1000, MAX_RETRY_AFTER_MS);
  return options.backoffMs * 2 ** attempt;
}

async function sendFollowingRedirects(
  request: HttpRequest,
  options: TransportOptions,
): Promise<HttpResponse> {
  let current = request;
  for (let hops = 0; ; hops++) {
    const response = await sendOnce(current, options);
    const location = response.headers.get('location');
    if (![301, 302, 303, 307, 308].includes(response.status) || location === null) return response;
    await response.discard();
    if (hops >= MAX_REDIRECTS) {
      throw new RegistryError(
        `${goMethod(request.method)} "${redact(request.url)}": stopped after 10 redirects`,
      );
    }
    const next = new URL(location, current.url);
    const headers = { ...current.headers };
    // Credentials are for the registry that asked for them; a blob store elsewhere must not see them.
    if (next.host !== new URL(current.url).host) {
      for (const name of Object.keys(headers))
        if (name.toLowerCase() === 'authorization') delete headers[name];
    }
    const method = response.status === 303 ? 'GET' : current.method;
    current = {
      method,
      url: next.toString(),
      headers,
      ...(method === current.method && current.body ? { body: current.body } : {}),
    };
  }
}

async function sendOnce(request: HttpRequest, options: TransportOptions): Promise<HttpResponse> {
  // Before any socket is opened: a refused host never sees a packet, so it cannot be probed.
  checkRequest(options.policy, request.method, request.url);
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([controller.signal, options.signal]) : controller.signal;
  let timer = setTimeout(() => controller.abort(new TimeoutSignal('headers')), options.timeoutMs);
  let res: Response;
  try {
    const init: RequestInit & { duplex?: 'half' } = {
      method: request.method,
      headers: request.headers ?? {},
      redirect: 'manual',
      signal,
    };
    if (request.body) {
      init.body = request.body() as RequestInit['body'];
      init.duplex = 'half';
    }
    res = await fetch(request.url, init);
  } catch (err) {
    throw transportError(request, err, options);
  } finally {
    clearTimeout(timer);
  }

  const body = res.body;
  const chunks = async function* (): AsyncGenerator<Uint8Array> {
    if (!body) return;
    const reader = body.getReader();
    try {
      for (;;) {
        timer = setTimeout(() => controller.abort(new TimeoutSignal('body')), options.timeoutMs);
        let step: Awaited<ReturnType<typeof reader.read>>;
        try {
          step = await reader.read();
        } catch (err) {
          throw transportError(request, err, options);
        } finally {
          clearTimeout(timer);
        }
        if (step.done) return;
        yield step.value;
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  };
  return {
    status: res.status,
    headers: res.headers,
    url: request.url,
    chunks,
    async bytes(limit: number, what: string): Promise<Buffer> {
      const declared = Number(res.headers.get('content-length'));
      if (Number.isFinite(declared) && declared > limit) {
        await body?.cancel().catch(() => {});
        throw new SizeExceededError(what, limit);
      }
      const parts: Uint8Array[] = [];
      let total = 0;
      for await (const chunk of chunks()) {
        total += chunk.byteLength;
        if (total > limit) throw new SizeExceededError(what, limit);
        parts.push(chunk);
      }
      return Buffer.concat(parts);
    },
    async discard(): Promise<void> {
      await body?.cancel().catch(() => {});
    },
  };
}

/** Go's way of naming a request in an error: `Get "http://…/v2/"`. */
function goMethod(method: string): string {
  return method.charAt(0) + method.slice(1).toLowerCase();
}

/** Turns a fetch failure into the error Docker would print for it. */
function transportError(request: HttpRequest, err: unknown, options: TransportOptions): Error {
  if (err instanceof RegistryError || err instanceof SizeExceededError) return err;
  const where = `${goMethod(request.method)} "${redact(request.url)}"`;
  if (options.signal?.aborted) return new CancelledError(where);
  const reason = (err as { cause?: unknown })?.cause ?? err;
  if (reason instanceof TimeoutSignal || (err as Error)?.name === 'TimeoutSignal') {
    const phase =
      reason instanceof TimeoutSignal && reason.message === 'body' ? 'reading the body' : 'awaiting headers';
    return new RegistryError(`${where}: timeout after ${options.timeoutMs} ms ${phase}`, { cause: err });
  }
  const url = new URL(request.url);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const hostPort = `${url.hostname}:${port}`;
  const code = (reason as NodeJS.ErrnoException)?.code;
  let detail: string;
  switch (code) {
    case 'ECONNREFUSED':
      detail = `dial tcp ${hostPort}: connect: connection refused`;
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      detail = `dial tcp: lookup ${url.hostname}: no such host`;
      break;
    case 'ECONNRESET':
    case 'EPIPE':
      detail = `read tcp ${hostPort}: connection reset by peer`;
      break;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      detail = `dial tcp ${hostPort}: i/o timeout`;
      break;
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      detail = 'unexpected EOF';
      break;
    default:
      detail = redact((reason as Error)?.message ?? String(reason));
  }
  const error = new RegistryError(`${where}: ${detail}`, { cause: err, input: redact(request.url) });
  // Offline, a resolver's "try again" never succeeds either; resolvers retry on their own.
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') permanent.add(error);
  return error;
}

function sleep(ms: number, signal: AbortSignal | undefined, request: HttpRequest): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new CancelledError(`${goMethod(request.method)} "${redact(request.url)}"`));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new CancelledError(`${goMethod(request.method)} "${redact(request.url)}"`));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
