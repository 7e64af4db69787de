// The HAProxy configs deploy/cluster.ts renders, run for real on loopback in front of stub servers:
// the router pins a session to its node by cookie, re-hashes it consistently when that node dies and
// keeps new visitors off nodes that are not ready; the registry gate lets only reads of allow-listed
// repositories through to the cache.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CACHE_ALLOWED_REPOSITORIES,
  NODE_COOKIE,
  renderHaproxyConfig,
  renderRegistryGateConfig,
  SESSION_COOKIE,
} from '../../deploy/cluster.ts';
import { freePort } from '../support/registry.ts';

interface Reply {
  status: number;
  body: string;
}

function send(port: number, method: string, path: string, cookie?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, headers: cookie ? { cookie } : {}, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Polls `probe` until it returns true, failing with `what` after `ms`. */
async function until(what: string, probe: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

class Haproxy {
  readonly #dir = mkdtempSync(join(tmpdir(), 'layerlab-haproxy-'));
  #child: ChildProcess | undefined;
  #stderr = '';

  async start(config: string, port: number): Promise<void> {
    const file = join(this.#dir, 'haproxy.cfg');
    writeFileSync(file, config);
    const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr += chunk.toString();
    });
    const exited = new Promise<never>((_, reject) => {
      child.once('exit', (code) => reject(new Error(`haproxy exited ${code}: ${this.#stderr}`)));
      child.once('error', reject);
    });
    const accepting = until(`haproxy on port ${port}`, () => tcpOpen(port));
    await Promise.race([accepting, exited]);
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await gone;
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A stand-in engine node: names itself in every answer; its probes answer as its flags say. Like the
 * real server's Host allow-list, it refuses a request without a Host header (421).
 */
class StubNode {
  alive = true;
  ready = true;
  /** `/readyz` checks answered 503 so far: HAProxy takes a node out after two in a row. */
  readyRefusals = 0;
  port = 0;
  readonly id: string;
  readonly server: Server;

  constructor(id: string) {
    this.id = id;
    this.server = createServer((req, res) => {
      if (req.headers.host === undefined) res.writeHead(421).end();
      else if (req.url === '/healthz') res.writeHead(this.alive ? 200 : 503).end();
      else if (req.url === '/readyz') {
        const ok = this.alive && this.ready;
        if (!ok) this.readyRefusals++;
        res.writeHead(ok ? 200 : 503).end();
      } else res.writeHead(200, { 'content-type': 'text/plain' }).end(this.id);
    });
  }
}

describe('the router config on loopback', () => {
  const nodes = ['node-0', 'node-1', 'node-2'].map((id) => new StubNode(id));
  const haproxy = new Haproxy();
  let port = 0;

  const visit = async (cookie?: string): Promise<string> => {
    const reply = await send(port, 'GET', '/lessons/', cookie);
    expect(reply.status).toBe(200);
    return reply.body;
  };
  const sessions = Array.from({ length: 24 }, (_, i) => `${SESSION_COOKIE}=session-${i}`);
  // A node cookie naming no live node: the session cookie's hash alone decides.
  const orphaned = (session: string) => `${NODE_COOKIE}=node-gone; ${session}`;
  const placement = async () => Promise.all(sessions.map((s) => visit(orphaned(s))));

  beforeAll(async () => {
    for (const node of nodes) node.port = await listen(node.server);
    port = await freePort();
    const config = renderHaproxyConfig({
      bind: { host: '127.0.0.1', port },
      nodes: nodes.map((n) => ({ id: n.id, host: '127.0.0.1', port: n.port })),
    });
    await haproxy.start(config, port);
    // Servers start up; wait until every node has answered a pinned request.
    for (const node of nodes) {
      await until(
        `${node.id} in service`,
        async () => (await visit(`${NODE_COOKIE}=${node.id}`)) === node.id,
      );
    }
  });

  afterAll(async () => {
    await haproxy.stop();
    await Promise.all(nodes.map((n) => new Promise((resolve) => n.server.close(resolve))));
  });

  it('sends a page with a node cookie to that node, ready or not', async () => {
    nodes[2]!.ready = false;
    await until('node-2 out of the admit pool', async () => {
      const seen = await Promise.all(Array.from({ length: 9 }, () => visit()));
      return !seen.includes('node-2');
    });
    for (let i = 0; i < 5; i++) expect(await visit(`${NODE_COOKIE}=node-2; ${sessions[0]}`)).toBe('node-2');
    nodes[2]!.ready = true;
  });

  it('keeps new visitors off a node that is not ready', async () => {
    nodes[1]!.ready = false;
    await until('node-1 out of the admit pool', async () => {
      const seen = await Promise.all(Array.from({ length: 12 }, () => visit()));
      return !seen.includes('node-1');
    });
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) seen.add(await visit());
    expect(seen.has('node-1')).toBe(false);
    nodes[1]!.ready = true;
    await until('node-1 admitting again', async () => {
      const seen = await Promise.all(Array.from({ length: 12 }, () => visit()));
      return seen.includes('node-1');
    });
  });

  it('still serves new visitors when no node is ready, through the live ones', async () => {
    for (const node of nodes) {
      node.readyRefusals = 0;
      node.ready = false;
    }
    // Three refused checks each: HAProxy has taken every node out of the admit pool by then.
    await until('every node refused by its readiness check', async () =>
      nodes.every((n) => n.readyRefusals >= 3),
    );
    for (let i = 0; i < 6; i++) {
      const reply = await send(port, 'GET', '/');
      expect(reply.status).toBe(200);
      expect(nodes.map((n) => n.id)).toContain(reply.body);
    }
    for (const node of nodes) node.ready = true;
  });

  it('moves only the sessions of a dead node, each to the same new node on every request', async () => {
    const before = await placement();
    expect(new Set(before).size).toBeGreaterThan(1);
    nodes[2]!.alive = false;
    await until('node-2 marked down', async () => !(await placement()).includes('node-2'));
    const after = await placement();
    sessions.forEach((_, i) => {
      if (before[i] !== 'node-2') expect(after[i], `session ${i} stays`).toBe(before[i]);
    });
    expect(await placement()).toEqual(after);
    // Its own node cookie no longer holds a session on a dead node: the hash decides there too.
    const pinnedToDead = await visit(`${NODE_COOKIE}=node-2; ${sessions[3]}`);
    expect(pinnedToDead).toBe(after[3]);
    nodes[2]!.alive = true;
    await until('node-2 back', async () => (await visit(`${NODE_COOKIE}=node-2`)) === 'node-2');
    expect(await placement()).toEqual(before);
  });
});

describe('the registry gate config on loopback', () => {
  const cache = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`cache ${req.method} ${req.url}`);
  });
  const haproxy = new Haproxy();
  let port = 0;
  const digest = `sha256:${'ab'.repeat(32)}`;

  beforeAll(async () => {
    const cachePort = await listen(cache);
    port = await freePort();
    const config = renderRegistryGateConfig({
      bind: { host: '127.0.0.1', port },
      cache: { host: '127.0.0.1', port: cachePort },
      repositories: CACHE_ALLOWED_REPOSITORIES,
    });
    await haproxy.start(config, port);
  });

  afterAll(async () => {
    await haproxy.stop();
    await new Promise((resolve) => cache.close(resolve));
  });

  it('passes reads of the API root and of allow-listed manifests and blobs to the cache', async () => {
    const reads: [string, string][] = [
      ['GET', '/v2/'],
      ['GET', '/v2/library/busybox/manifests/latest'],
      ['HEAD', '/v2/library/busybox/manifests/latest'],
      ['GET', `/v2/library/busybox/manifests/${digest}`],
      ['GET', `/v2/library/alpine/blobs/${digest}`],
      ['HEAD', `/v2/library/alpine/blobs/${digest}`],
    ];
    for (const [method, path] of reads) {
      const reply = await send(port, method, path);
      expect(reply.status, `${method} ${path}`).toBe(200);
      if (method === 'GET') expect(reply.body).toBe(`cache GET ${path}`);
    }
  });

  it('refuses everything else with 403 before it reaches the cache', async () => {
    const refused: [string, string][] = [
      ['GET', '/v2/library/nginx/manifests/latest'],
      ['GET', '/v2/layerlab/webapp/manifests/latest'],
      ['GET', '/v2/_catalog'],
      ['GET', '/v2/library/busybox/tags/list'],
      ['GET', '/v2/library%2Fbusybox/manifests/latest'],
      ['GET', '/v2/library/busybox/manifests/..'],
      ['GET', '/v2/library/busybox/blobs/latest'],
      ['GET', '/v2/library/busybox/manifests/latest/../../../nginx/manifests/latest'],
      ['GET', '/v2/library/busyboxx/manifests/latest'],
      ['GET', '/v2'],
      ['GET', '/'],
      ['PUT', '/v2/library/busybox/manifests/latest'],
      ['POST', '/v2/library/busybox/blobs/uploads/'],
      ['DELETE', `/v2/library/busybox/manifests/${digest}`],
      ['PATCH', '/v2/library/busybox/blobs/uploads/x'],
    ];
    for (const [method, path] of refused) {
      const reply = await send(port, method, path);
      expect(reply.status, `${method} ${path}`).toBe(403);
      expect(reply.body).not.toContain('cache');
    }
  });
});
