// An in-process HTTP server in front of a test registry that demands authentication (Bearer tokens
// from its own token endpoint, or Basic), with switches to misbehave: corrupt bodies, redirect blobs
// to another host, hang or drop connections. It records what it was sent so tests can inspect it.
import { randomBytes } from 'node:crypto';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';

export interface FrontRequest {
  method: string;
  path: string;
  authorization: string | undefined;
}

export interface TokenFrontOptions {
  /** The registry behind it: `http://127.0.0.1:PORT`. */
  upstream: string;
  mode?: 'bearer' | 'basic';
  /** When set, the token endpoint (bearer) or every request (basic) demands these. */
  credentials?: { username: string; password: string };
  service?: string;
}

export interface TokenFront {
  url: string;
  host: string;
  requests: FrontRequest[];
  tokenRequests: { scope: string | null; service: string | null; authorization: string | undefined }[];
  /** Flip a byte in manifest / blob bodies served with 200; `blob` may name one digest only. */
  corrupt: { manifest: boolean; blob: boolean | string };
  /** Answer blob GETs with a 307 to this base URL (another host) instead of serving them. */
  redirectBlobsTo: string | undefined;
  /** Requests whose path matches are never answered. */
  hang: RegExp | undefined;
  /** The next N proxied requests have their connection destroyed before any answer. */
  dropNext: number;
  /** The next N proxied requests are answered 503 Service Unavailable. */
  failNext: number;
  /** The next N blob GETs send their headers and half the body, then the connection is cut. */
  cutBlobNext: number;
  close(): Promise<void>;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

function trackSockets(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return sockets;
}

/** Forwards a request to `upstream`, optionally rewriting the answer. */
function proxy(
  req: IncomingMessage,
  res: ServerResponse,
  upstream: string,
  frontUrl: string,
  damage: boolean | 'cut',
): void {
  const headers = { ...req.headers };
  delete headers.authorization;
  delete headers.host;
  const target = new URL(req.url ?? '/', upstream);
  const out = httpRequest(target, { method: req.method, headers }, (answer) => {
    const responseHeaders = { ...answer.headers };
    if (typeof responseHeaders.location === 'string' && responseHeaders.location.startsWith(upstream)) {
      responseHeaders.location = frontUrl + responseHeaders.location.slice(upstream.length);
    }
    if (!damage || answer.statusCode !== 200 || req.method !== 'GET') {
      res.writeHead(answer.statusCode ?? 502, responseHeaders);
      answer.pipe(res);
      return;
    }
    const chunks: Buffer[] = [];
    answer.on('data', (c: Buffer) => chunks.push(c));
    answer.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, responseHeaders);
      if (damage === 'cut') {
        res.write(body.subarray(0, body.length >> 1), () => res.destroy());
        return;
      }
      if (body.length > 0) body[body.length >> 1] = body[body.length >> 1]! ^ 0xff;
      res.end(body);
    });
  });
  out.on('error', () => {
    res.destroy();
  });
  req.pipe(out);
}

export async function startTokenFront(options: TokenFrontOptions): Promise<TokenFront> {
  const mode = options.mode ?? 'bearer';
  const service = options.service ?? 'layerlab-test-registry';
  const basic = options.credentials
    ? `Basic ${Buffer.from(`${options.credentials.username}:${options.credentials.password}`).toString('base64')}`
    : undefined;
  const tokens = new Map<string, string[]>(); // token → granted scopes
  let frontUrl = '';

  const state: TokenFront = {
    url: '',
    host: '',
    requests: [],
    tokenRequests: [],
    corrupt: { manifest: false, blob: false },
    redirectBlobsTo: undefined,
    hang: undefined,
    dropNext: 0,
    failNext: 0,
    cutBlobNext: 0,
    close: async () => {},
  };

  const challenge = (res: ServerResponse, scope?: string) => {
    const header =
      mode === 'basic'
        ? 'Basic realm="layerlab-test"'
        : `Bearer realm="${frontUrl}/token",service="${service}"${scope ? `,scope="${scope}"` : ''}`;
    res.writeHead(401, { 'WWW-Authenticate': header, 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', frontUrl);
    if (url.pathname === '/token' && mode === 'bearer') {
      state.tokenRequests.push({
        scope: url.searchParams.get('scope'),
        service: url.searchParams.get('service'),
        authorization: req.headers.authorization,
      });
      if (basic && req.headers.authorization !== basic) {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ details: 'incorrect username or password' }));
        return;
      }
      const token = randomBytes(16).toString('hex');
      tokens.set(token, url.searchParams.getAll('scope'));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ token, expires_in: 300 }));
      return;
    }

    state.requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      authorization: req.headers.authorization,
    });
    const repo = /^\/v2\/(.+?)\/(manifests|blobs|tags)\//.exec(url.pathname);
    const action = req.method === 'GET' || req.method === 'HEAD' ? 'pull' : 'push';
    const scope = repo ? `repository:${repo[1]}:${action === 'pull' ? 'pull' : 'pull,push'}` : undefined;

    if (mode === 'basic') {
      if (!basic || req.headers.authorization !== basic) return challenge(res);
    } else {
      const auth = req.headers.authorization ?? '';
      const granted = auth.startsWith('Bearer ') ? tokens.get(auth.slice(7)) : undefined;
      const allowed =
        granted !== undefined &&
        (!repo ||
          granted.some((s) => {
            const [kind, name, actions] = s.split(':');
            return kind === 'repository' && name === repo[1] && (actions ?? '').split(',').includes(action);
          }));
      if (!allowed) return challenge(res, scope);
    }

    if (state.hang?.test(url.pathname)) return; // never answered
    if (state.dropNext > 0) {
      state.dropNext--;
      req.socket.destroy();
      return;
    }
    if (state.failNext > 0) {
      state.failNext--;
      res.writeHead(503, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'service unavailable' }] }));
      return;
    }
    const isBlob = repo?.[2] === 'blobs' && !url.pathname.includes('/uploads/');
    if (isBlob && req.method === 'GET' && state.cutBlobNext > 0) {
      state.cutBlobNext--;
      proxy(req, res, options.upstream, frontUrl, 'cut');
      return;
    }
    if (isBlob && req.method === 'GET' && state.redirectBlobsTo) {
      res.writeHead(307, { Location: `${state.redirectBlobsTo}${url.pathname}` });
      res.end();
      return;
    }
    const blobCorrupt =
      typeof state.corrupt.blob === 'string'
        ? url.pathname.endsWith(`/${state.corrupt.blob}`)
        : state.corrupt.blob;
    const corrupt = repo?.[2] === 'manifests' ? state.corrupt.manifest : isBlob ? blobCorrupt : false;
    proxy(req, res, options.upstream, frontUrl, corrupt);
  });
  const sockets = trackSockets(server);
  const port = await listen(server);
  frontUrl = `http://127.0.0.1:${port}`;
  state.url = frontUrl;
  state.host = `127.0.0.1:${port}`;
  state.close = () => closeServer(server, sockets);
  return state;
}

export interface BlobHost {
  url: string;
  requests: FrontRequest[];
  close(): Promise<void>;
}

/** A plain server standing for a blob store on another host (a CDN): records headers, serves blobs. */
export async function startBlobHost(upstream: string): Promise<BlobHost> {
  const requests: FrontRequest[] = [];
  const server = createServer((req, res) => {
    requests.push({
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      authorization: req.headers.authorization,
    });
    proxy(req, res, upstream, '', false);
  });
  const sockets = trackSockets(server);
  const port = await listen(server);
  // `localhost` rather than 127.0.0.1, so the redirect changes host by name as well as by port.
  return { url: `http://localhost:${port}`, requests, close: () => closeServer(server, sockets) };
}
