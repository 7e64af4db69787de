// A private Docker daemon for the tests and the bench that compare Layerlab with Docker: its own data
// root, exec root and socket (never the machine's default daemon or its images), no iptables and no
// bridge, so it changes nothing on the host's network. Docker is never a dependency of Layerlab: the
// callers run without it (and say so) when `dockerd` is not installed.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { mountsUnder, unmountIfMounted } from '../../engine/host/mounts.ts';
import { findExecutable } from '../../engine/runtime/detect.ts';

export interface Dockerd {
  /** The client to run: docker.io's own (its builder talks to this daemon's BuildKit without buildx). */
  client: string;
  /** `unix:///…/docker.sock`, for DOCKER_HOST. */
  host: string;
  /** The daemon's version (`docker version --format {{.Server.Version}}`). */
  version: string;
  /** Runs the client against this daemon (BuildKit on); rejects with the output on a non-zero exit. */
  docker(args: string[], options?: { cwd?: string; env?: Record<string, string> }): Promise<DockerAnswer>;
  stop(): Promise<void>;
}

export interface DockerAnswer {
  status: number;
  stdout: string;
  stderr: string;
}

/** Where Docker's executables are, or why there is none to use. */
export function dockerInstalled(): { client: string; daemon: string } | { missing: string } {
  const daemon = findExecutable('dockerd');
  // docker.io's client first: a newer client elsewhere in PATH needs the buildx plugin for BuildKit.
  const client = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : findExecutable('docker');
  if (!daemon || !client) return { missing: 'Docker is not installed (no dockerd or docker in PATH)' };
  return { client, daemon };
}

function runClient(
  client: string,
  host: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<DockerAnswer> {
  return new Promise((resolve) => {
    execFile(
      client,
      args,
      {
        cwd: options.cwd,
        maxBuffer: 256 * 1024 * 1024,
        timeout: 300_000,
        env: {
          PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
          HOME: process.env.HOME ?? '/root',
          DOCKER_HOST: host,
          DOCKER_BUILDKIT: '1',
          // No client config or credentials of the machine's user.
          DOCKER_CONFIG: join(host.replace(/^unix:\/\//, ''), '..', 'client-config'),
          ...options.env,
        },
      },
      (err, stdout, stderr) => {
        const status = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ status, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/**
 * Starts dockerd with its state under `dir` (kept short for the socket paths: a hash names the exec
 * root under /run) and waits until it answers. Throws with the daemon's log when it does not.
 */
export async function startDockerd(dir: string, timeoutMs = 120_000): Promise<Dockerd> {
  const installed = dockerInstalled();
  if ('missing' in installed) throw new Error(installed.missing);
  const exec = join('/run', `layerlab-docker-${createHash('sha256').update(dir).digest('hex').slice(0, 12)}`);
  mkdirSync(join(dir, 'data'), { recursive: true });
  mkdirSync(join(exec, 'client-config'), { recursive: true });
  const host = `unix://${join(exec, 'docker.sock')}`;
  const log = join(dir, 'dockerd.log');
  const out = openSync(log, 'a');
  const daemon: ChildProcess = spawn(
    installed.daemon,
    [
      '--iptables=false',
      '--ip-masq=false',
      '--bridge=none',
      '--data-root',
      join(dir, 'data'),
      '--exec-root',
      join(exec, 'exec'),
      '--pidfile',
      join(exec, 'dockerd.pid'),
      '--host',
      host,
      // containerd's own state beside the daemon's, not the machine's /var/lib/containerd.
      '--containerd-namespace',
      'layerlab-test',
      '--containerd-plugins-namespace',
      'layerlab-test-plugins',
    ],
    { stdio: ['ignore', out, out] },
  );
  let exited: string | undefined;
  daemon.on('exit', (code, signal) => {
    exited = `dockerd exited (${signal ?? code}); see ${log}`;
  });
  const client = installed.client;
  const docker = (args: string[], options?: { cwd?: string; env?: Record<string, string> }) =>
    runClient(client, host, args, options);
  const deadline = Date.now() + timeoutMs;
  let version = '';
  for (;;) {
    if (exited) throw new Error(exited);
    const answer = await docker(['version', '--format', '{{.Server.Version}}']);
    if (answer.status === 0) {
      version = answer.stdout.trim();
      break;
    }
    if (Date.now() > deadline) {
      daemon.kill('SIGKILL');
      throw new Error(
        `dockerd did not answer within ${timeoutMs / 1000}s (see ${log}): ${answer.stderr.trim()}`,
      );
    }
    await sleep(250);
  }
  return {
    client,
    host,
    version,
    docker,
    async stop() {
      if (exited) return;
      const gone = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
      daemon.kill('SIGTERM');
      const timer = setTimeout(() => daemon.kill('SIGKILL'), 30_000);
      await gone;
      clearTimeout(timer);
      // dockerd leaves mounts behind when it exits: after a --network host container, the host's
      // netns bind-mounted at exec/netns/default (rmSync then fails EBUSY), and whatever a killed
      // container kept under the data root. Deepest first, then the dirs can go.
      for (const point of [...mountsUnder(exec), ...mountsUnder(dir)]) unmountIfMounted(point);
      rmSync(exec, { recursive: true, force: true });
    },
  };
}
