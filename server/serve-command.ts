// `layerlab serve`: the one subcommand that belongs to the server rather than the engine. It is
// added to the engine's CLI by server/cli.ts, so the engine never imports the server. Start-up is
// the only time the server reads its environment: the workshop passwords are taken out of it here.

import { hostname } from 'node:os';
import { bool, int, list, str, UsageError } from '../engine/cli/args.ts';
import type { Command } from '../engine/cli/cli.ts';
import { CommandFailure } from '../engine/cli/failure.ts';
import { InvalidArgumentError } from '../engine/errors.ts';
import { HostRequirementsError, requireHost } from '../engine/host/requirements.ts';
import { ClusterError, checkNodeId, parseClusterUrl } from './cluster/address.ts';
import { loadLimitsFile } from './limits-file.ts';
import { takeSecret } from './secrets.ts';
import { serve } from './serve.ts';

export const DEFAULT_PORT = 8080;

function portFromEnv(): number | undefined {
  const raw = process.env.LAYERLAB_PORT;
  if (raw === undefined || raw === '') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port)) throw new InvalidArgumentError(`LAYERLAB_PORT: not a port: ${raw}`, raw);
  return port;
}

/** A repeatable flag's values, else the variable's comma-separated ones. */
function flagOrEnvList(values: string[], variable: string): string[] {
  const raw = values.length > 0 ? values.join(',') : (process.env[variable] ?? '');
  return raw
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

export const command: Command = {
  spec: {
    name: 'serve',
    usage: '[OPTIONS]',
    description: 'Start the Layerlab server (the lessons site and its engine API)',
    maxArgs: 0,
    flags: [
      {
        name: 'port',
        short: 'p',
        type: 'int',
        description: `Port to listen on (default $LAYERLAB_PORT or ${DEFAULT_PORT})`,
      },
      { name: 'host', type: 'string', description: 'Address to listen on (default 127.0.0.1)' },
      {
        name: 'public-url',
        type: 'list',
        description:
          'URL readers reach this server at, e.g. https://layerlab.example.org (repeatable; default $LAYERLAB_PUBLIC_URL, comma-separated); other host names get 421',
      },
      {
        name: 'trusted-proxy',
        type: 'list',
        description:
          'Address or CIDR range of a reverse proxy whose Forwarded/X-Forwarded-* headers are believed (repeatable; default $LAYERLAB_TRUSTED_PROXIES, comma-separated)',
      },
      { name: 'workshop', type: 'string', description: 'Start a classroom workshop with this name' },
      {
        name: 'workshop-readers',
        type: 'bool',
        description:
          'In a workshop, give anonymous readers a sandbox too (default: only students who joined)',
      },
      {
        name: 'teacher-password-file',
        type: 'string',
        description:
          'File holding the workshop teacher password (default $LAYERLAB_TEACHER_PASSWORD_FILE, or $LAYERLAB_TEACHER_PASSWORD; generated when absent)',
      },
      {
        name: 'admin-password-file',
        type: 'string',
        description:
          'File holding the password that lets a teacher start a workshop over HTTP (default $LAYERLAB_ADMIN_PASSWORD_FILE, or $LAYERLAB_ADMIN_PASSWORD)',
      },
      {
        name: 'require-host',
        type: 'bool',
        description:
          'Exit at once, naming each missing host requirement (root, CAP_SYS_ADMIN, user namespaces, writable cgroups, overlayfs, crun or runc), instead of serving without a runtime (the container image sets it)',
      },
      {
        name: 'cluster',
        type: 'string',
        description:
          'Join a cluster whose shared state is in this Redis, e.g. redis://redis:6379 (default $LAYERLAB_CLUSTER; see docs/DEPLOY.md)',
      },
      {
        name: 'node-id',
        type: 'string',
        description:
          "This node's name in the cluster, unique per node (default $LAYERLAB_NODE_ID, else the host name)",
      },
      {
        name: 'drain-seconds',
        type: 'int',
        description: 'In a cluster, how long a stopping node drains before its students move (default 10)',
      },
      {
        name: 'limits',
        type: 'string',
        description:
          'JSON file overriding the server limits (default $LAYERLAB_LIMITS; see docs/OPERATIONS.md)',
      },
    ],
  },
  async run(cli, parsed) {
    // Before anything else: in a container started without --privileged, the one useful output is
    // what to add, not a server whose every `docker run` fails.
    if (bool(parsed, 'require-host')) {
      try {
        requireHost();
      } catch (err) {
        if (err instanceof HostRequirementsError) throw new CommandFailure(err.message, 1);
        throw err;
      }
    }
    const port = int(parsed, 'port') ?? portFromEnv() ?? DEFAULT_PORT;
    if (port < 0 || port > 65535) throw new InvalidArgumentError(`invalid port ${port}`, String(port));
    const workshop = str(parsed, 'workshop');
    const limitsPath = str(parsed, 'limits') ?? (process.env.LAYERLAB_LIMITS || undefined);
    const limits = limitsPath === undefined ? undefined : loadLimitsFile(limitsPath);
    // Taken (and deleted from the environment) before anything serves: a visitor's `docker run -e
    // NAME` reads its own shell's environment anyway, and this makes the process hold no copy either.
    const teacherPassword = takeSecret(
      process.env,
      'LAYERLAB_TEACHER_PASSWORD',
      str(parsed, 'teacher-password-file'),
    );
    const adminPassword = takeSecret(
      process.env,
      'LAYERLAB_ADMIN_PASSWORD',
      str(parsed, 'admin-password-file'),
    );
    const seats = Number(process.env.LAYERLAB_WORKSHOP_SEATS) || undefined;
    // Without a token /metrics answers this machine only.
    const metricsToken = takeSecret(process.env, 'LAYERLAB_METRICS_TOKEN');
    const publicUrls = flagOrEnvList(list(parsed, 'public-url'), 'LAYERLAB_PUBLIC_URL');
    const trustedProxies = flagOrEnvList(list(parsed, 'trusted-proxy'), 'LAYERLAB_TRUSTED_PROXIES');
    const clusterUrl = str(parsed, 'cluster') ?? (process.env.LAYERLAB_CLUSTER || undefined);
    const nodeId = str(parsed, 'node-id') ?? (process.env.LAYERLAB_NODE_ID || hostname().toLowerCase());
    const drainSeconds = int(parsed, 'drain-seconds');
    if (drainSeconds !== undefined && (drainSeconds < 0 || drainSeconds > 3600))
      throw new UsageError(
        `invalid argument "${drainSeconds}" for "--drain-seconds" flag: not 0-3600`,
        'serve',
      );
    if (clusterUrl === undefined && str(parsed, 'node-id') !== undefined)
      throw new UsageError('--node-id needs --cluster redis://HOST:PORT', 'serve');
    let cluster: { url: string; node: string } | undefined;
    if (clusterUrl !== undefined) {
      try {
        parseClusterUrl(clusterUrl);
        cluster = { url: clusterUrl, node: checkNodeId(nodeId) };
      } catch (err) {
        // A flag's mistake, worded as one: the usage hint, not an engine error.
        if (err instanceof ClusterError) throw new UsageError(err.message, 'serve');
        throw err;
      }
    }
    await serve({
      root: cli.root,
      publicUrls,
      trustedProxies,
      port,
      host: str(parsed, 'host') ?? '127.0.0.1',
      signal: cli.signal,
      ...(workshop !== undefined ? { workshop } : {}),
      ...(bool(parsed, 'workshop-readers') ? { workshopReaders: true } : {}),
      ...(limits !== undefined ? { limits } : {}),
      ...(teacherPassword !== undefined ? { teacherPassword } : {}),
      ...(adminPassword !== undefined ? { adminPassword } : {}),
      ...(seats !== undefined ? { seats } : {}),
      ...(metricsToken !== undefined ? { metricsToken } : {}),
      ...(cluster ? { cluster } : {}),
      ...(drainSeconds !== undefined ? { drainSeconds } : {}),
    });
    return 0;
  },
};
