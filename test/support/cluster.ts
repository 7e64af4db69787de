// A Layerlab cluster on loopback for tests and the cluster benchmark: Debian's redis-server, N
// `layerlab serve --cluster` processes on their own roots and ports, and Debian's HAProxy configured
// by deploy/cluster.ts's renderHaproxyConfig — the function the Kubernetes router's config comes
// from, so the test routes exactly as the manifests do.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderHaproxyConfig } from '../../deploy/cluster.ts';
import { engineConfigSchema } from '../../engine/config.ts';
import { createContext } from '../../engine/context.ts';
import { closeRoot } from '../../engine/recover.ts';
import { cleanupPreviousRun } from '../../server/cleanup.ts';
import { testRegistryHost, writeServerRegistryCredentials } from './context.ts';
import { freePort } from './registry.ts';

const REPO = join(import.meta.dirname, '..', '..');

export interface ClusterNodeProcess {
  id: string;
  port: number;
  root: string;
  /** `http://127.0.0.1:PORT`, the node itself (bypassing the router). */
  url: string;
  process: ChildProcess;
  /** Everything the node printed, stdout and stderr. */
  output(): string;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
}

export interface LoopbackCluster {
  /** The router: what browsers and students open. */
  url: string;
  redisUrl: string;
  nodes: ClusterNodeProcess[];
  adminPassword: string;
  teacherPassword: string;
  /** `kill -9` of one node: the process dies with no chance to leave the cluster or tell anyone. */
  kill(id: string): Promise<void>;
  /** Starts a killed node again under the same id. */
  restart(id: string): Promise<ClusterNodeProcess>;
  /** Stops the router, every node and Redis, and removes what killed nodes left in their roots. */
  stop(): Promise<void>;
}

export interface LoopbackClusterOptions {
  nodes?: number;
  /** Sessions per node (the limits file's maxSessions). */
  maxSessions?: number;
  /** Seconds a node drains when stopped with SIGTERM. */
  drainSeconds?: number;
}

/** Polls `check` until it is true or the deadline passes (then throws `what`). */
export async function waitUntil(check: () => Promise<boolean> | boolean, what: string, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function answers(url: string, status = 200): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.body?.cancel();
  return res.status === status;
}

function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout?.on('data', (d: Buffer) => {
    text += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    text += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

export async function startLoopbackCluster(options: LoopbackClusterOptions = {}): Promise<LoopbackCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'layerlab-cluster-'));
  const count = options.nodes ?? 3;
  const adminPassword = 'cluster-admin-password';
  const teacherPassword = 'cluster-teacher-password';
  const killers: (() => Promise<void>)[] = [];

  const redisPort = await freePort();
  const redis = startProcess('redis-server', [
    '--port',
    String(redisPort),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
  ]);
  killers.push(async () => {
    redis.child.kill('SIGKILL');
    await redis.exited;
  });
  await waitUntil(() => /Ready to accept connections/.test(redis.output()), 'redis-server to start', 15_000);
  const redisUrl = `redis://127.0.0.1:${redisPort}`;

  const limitsFile = join(dir, 'limits.json');
  writeFileSync(
    limitsFile,
    JSON.stringify({
      maxSessions: options.maxSessions ?? 40,
      // Every student of the test comes from 127.0.0.1.
      sessionsPerAddress: { max: 100_000, burst: 100_000, perMinute: 100_000 },
    }),
  );
  const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
  const nodes: ClusterNodeProcess[] = [];

  const startNode = async (id: string, port: number): Promise<ClusterNodeProcess> => {
    const root = join(dir, id);
    mkdirSync(root, { recursive: true });
    const host = testRegistryHost();
    writeFileSync(
      join(root, 'config.json'),
      JSON.stringify({ mirrors: host ? { 'docker.io': [`http://${host}`] } : {} }),
    );
    writeServerRegistryCredentials(root);
    const node = startProcess(
      process.execPath,
      [
        join(REPO, 'server', 'bin.js'),
        '--root',
        root,
        'serve',
        '--port',
        String(port),
        '--cluster',
        redisUrl,
        '--node-id',
        id,
        '--trusted-proxy',
        '127.0.0.1',
        '--limits',
        limitsFile,
        '--drain-seconds',
        String(options.drainSeconds ?? 2),
      ],
      {
        ...process.env,
        LAYERLAB_ADMIN_PASSWORD: adminPassword,
        LAYERLAB_TEACHER_PASSWORD: teacherPassword,
      },
    );
    const url = `http://127.0.0.1:${port}`;
    await waitUntil(
      () => /Layerlab is serving/.test(node.output()),
      `node ${id} to serve (${node.output().slice(-400)})`,
      60_000,
    );
    return { id, port, root, url, process: node.child, output: node.output, exited: node.exited };
  };

  for (let i = 0; i < count; i++) nodes.push(await startNode(`node-${i + 1}`, ports[i]!));
  killers.unshift(async () => {
    for (const node of nodes) {
      if (node.process.exitCode === null && node.process.signalCode === null) node.process.kill('SIGINT');
    }
    await Promise.all(nodes.map((n) => n.exited));
  });

  const routerPort = await freePort();
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    renderHaproxyConfig({
      bind: { host: '127.0.0.1', port: routerPort },
      nodes: nodes.map((n) => ({ id: n.id, host: '127.0.0.1', port: n.port })),
    }),
  );
  const haproxy = startProcess('haproxy', ['-db', '-f', config]);
  killers.unshift(async () => {
    haproxy.child.kill('SIGKILL');
    await haproxy.exited;
  });
  const url = `http://127.0.0.1:${routerPort}`;
  // Every node up in the router's health checks before anyone is let in.
  await waitUntil(async () => {
    const seen = new Set<string>();
    for (let i = 0; i < count * 4; i++) {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      const body = (await res.json()) as { node?: string };
      if (body.node) seen.add(body.node);
    }
    return seen.size === count;
  }, 'the router to reach every node');

  return {
    url,
    redisUrl,
    nodes,
    adminPassword,
    teacherPassword,
    async kill(id) {
      const node = nodes.find((n) => n.id === id);
      if (!node) throw new Error(`no node ${id}`);
      node.process.kill('SIGKILL');
      await node.exited;
    },
    async restart(id) {
      const at = nodes.findIndex((n) => n.id === id);
      const old = nodes[at];
      if (!old) throw new Error(`no node ${id}`);
      const node = await startNode(id, old.port);
      nodes[at] = node;
      await waitUntil(() => answers(`${node.url}/healthz`), `node ${id} to answer`);
      return node;
    },
    async stop() {
      for (const kill of killers) await kill().catch(() => {});
      // A node killed with -9 left its sessions' containers, shims and mounts: what a restarted node
      // clears at start (server/cleanup.ts) clears them here.
      for (const node of nodes) {
        const config = engineConfigSchema.parse({});
        await cleanupPreviousRun(node.root, config).catch(() => undefined);
        closeRoot(createContext(node.root, { config }));
      }
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}
