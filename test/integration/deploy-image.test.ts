// deploy/Dockerfile, built and run for real by a private dockerd: with no Docker Hub here, the test
// makes its own bases (Debian bookworm by mmdebstrap, plus this machine's Node 24 and npm for the
// build stage), passes them as the build arguments, runs the image privileged with its own local
// registry as its only mirror, as a cluster node's config has it first (/healthz names the runtime;
// lesson images are pulled from that registry, a container runs, a session pushes as lesson 18
// does), and checks that without privileges it exits at once with the host-requirements message.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { basicAuthorization, readCredentialsFile } from '../../engine/registry/credentials.ts';
import { sessionNamespace } from '../../engine/registry/session-access.ts';
import { findExecutable } from '../../engine/runtime/detect.ts';
import { type Dockerd, startDockerd } from '../support/dockerd.ts';
import { freePort } from '../support/registry.ts';
import { openClient, openShell } from '../support/server.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
/** Survives the run (node_modules/.cache, beside the compile cache): the bases take a minute each. */
const cacheDir = join(repoRoot, 'node_modules', '.cache', 'layerlab-deploy-image');
const MIRROR = 'http://deb.debian.org/debian';
/** The build stage's toolchain (the Dockerfile installs it only when missing, so here it is not). */
const BUILD_PACKAGES = ['gcc', 'make', 'libc6-dev'];
/** The runtime stage's packages, for the same reason. */
const RUNTIME_PACKAGES = ['crun', 'runc', 'busybox-static', 'docker-registry'];
const BUILD_MINUTES = 20;
/** Where the build base keeps this machine's extra CA certificates, when it has any. */
const BASE_CA = '/usr/local/share/ca-certificates/layerlab-test-extra.crt';

const tag = `${process.pid}-${Date.now().toString(36)}`;
const IMAGE = `layerlab-test/layerlab:${tag}`;
let dockerd: Dockerd;
let dockerDir: string;
const timings: Record<string, number> = {};

/** Runs `work`, recording its wall time under `name` (reported at the end). */
async function timed<T>(name: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await work();
  } finally {
    timings[name] = Math.round((Date.now() - started) / 100) / 10;
  }
}

interface Exit {
  status: number;
  output: string;
}

/** Runs a command to its end with its output in `log`; no timeout but the test's own. */
function run(command: string, args: string[], log: string, env: Record<string, string> = {}): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const out = openSync(log, 'w');
    const child = spawn(command, args, { stdio: ['ignore', out, out], env: { ...process.env, ...env } });
    closeSync(out); // the child has its own copy
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ status: code ?? 128, output: readFileSync(log, 'utf8') + (signal ? `\n(${signal})` : '') }),
    );
  });
}

/** The last lines of a long output, for a failure message. */
function tail(text: string, lines = 40): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** The docker client against the private daemon, for the long-running commands (a build). */
function dockerLong(args: string[], log: string): Promise<Exit> {
  return run(dockerd.client, args, log, {
    DOCKER_HOST: dockerd.host,
    DOCKER_BUILDKIT: '1',
    DOCKER_CONFIG: join(dockerd.host.replace(/^unix:\/\//, ''), '..', 'client-config'),
  });
}

async function docker(args: string[]): Promise<string> {
  const answer = await dockerd.docker(args);
  if (answer.status !== 0) throw new Error(`docker ${args.join(' ')}: ${answer.stderr || answer.stdout}`);
  return answer.stdout.trim();
}

/**
 * A bookworm rootfs tarball from mmdebstrap with `packages`, cached under a name that hashes
 * everything that goes into it; `customize` copies this machine's files in.
 */
async function debianBase(name: string, packages: string[], customize: string[], key: string[]) {
  const args = [
    '--quiet',
    '--variant=minbase',
    '--format=tar',
    `--include=${packages.join(',')}`,
    '--dpkgopt=path-exclude=/usr/share/doc/*',
    '--dpkgopt=path-exclude=/usr/share/man/*',
    '--dpkgopt=path-exclude=/usr/share/locale/*',
    ...customize.map((hook) => `--customize-hook=${hook}`),
  ];
  const hash = createHash('sha256')
    .update(JSON.stringify([args, key]))
    .digest('hex')
    .slice(0, 16);
  const tarball = join(cacheDir, `${name}-${hash}.tar`);
  if (existsSync(tarball)) return tarball;
  mkdirSync(cacheDir, { recursive: true });
  const partial = `${tarball}.${process.pid}.partial`;
  const made = await run(
    'mmdebstrap',
    [...args, 'bookworm', partial, MIRROR],
    join(dockerDir, `mmdebstrap-${name}.log`),
  );
  if (made.status !== 0) {
    rmSync(partial, { force: true });
    throw new Error(`mmdebstrap ${name} failed (${made.status}):\n${tail(made.output)}`);
  }
  renameSync(partial, tarball);
  // Bases made for an earlier package list or Node (another run's .partial may still be growing).
  for (const file of readdirSync(cacheDir)) {
    if (file.startsWith(`${name}-`) && join(cacheDir, file) !== tarball && !file.includes('.partial')) {
      rmSync(join(cacheDir, file), { force: true });
    }
  }
  return tarball;
}

/** Imports a rootfs tarball as an image (a PATH, since `docker import` gives it no config). */
async function importBase(tarball: string, image: string, changes: string[] = []): Promise<void> {
  await docker([
    'import',
    '--change',
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ...changes.flatMap((change) => ['--change', change]),
    tarball,
    image,
  ]);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Capability names by number (linux/capability.h), for the ones this machine may lack. */
const CAPABILITIES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE',
];

/**
 * `--privileged`, or where this machine is itself a container whose bounding set lacks some
 * capability (runc then fails "unable to apply caps" on --privileged, which grants all), what
 * --privileged gives the engine spelled out: every capability there is, no seccomp, AppArmor or
 * masked /proc paths, and the cgroup tree writable.
 */
function privileged(): string[] {
  const bounding = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  const lastCap = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
  const missing = CAPABILITIES.slice(0, lastCap + 1).filter(
    (_, bit) => ((BigInt(`0x${bounding}`) >> BigInt(bit)) & 1n) === 0n,
  );
  if (missing.length === 0) return ['--privileged'];
  return [
    '--cap-add',
    'ALL',
    ...missing.flatMap((cap) => ['--cap-drop', cap]),
    '--security-opt',
    'seccomp=unconfined',
    '--security-opt',
    'apparmor=unconfined',
    '--security-opt',
    'systempaths=unconfined',
    '--volume',
    '/sys/fs/cgroup:/sys/fs/cgroup',
  ];
}

/** Exits non-zero, saying why, unless bin.js would load the CLI bundle in the image. */
const BUNDLE_CHECK = [
  "import { cliModule } from '/app/server/cli-bundle.js';",
  "const found = cliModule('/app');",
  'if (!found.bundle) { console.error(found.stale); process.exit(1); }',
].join(' ');

const healthSchema = z.object({
  ok: z.boolean(),
  runtime: z.string(),
  sessions: z.number(),
  registry: z.object({ url: z.string(), ok: z.boolean() }).nullable(),
});

beforeAll(async () => {
  // A short dir: dockerd's socket paths are under it.
  dockerDir = mkdtempSync(join(tmpdir(), 'layerlab-deploy-'));
  // Fails (no skip) when Docker is missing: setup installs docker.io for the integration tests.
  dockerd = await timed('dockerd', () => startDockerd(join(dockerDir, 'd')));
}, 180_000);

afterAll(async () => {
  if (dockerd) {
    // Every container, a half-created one too, then every image this daemon holds.
    const made = await dockerd.docker(['ps', '-aq']);
    for (const id of made.stdout.split('\n').filter(Boolean)) await dockerd.docker(['rm', '-f', '-v', id]);
    const images = await dockerd.docker(['images', '-q', '--filter', 'reference=layerlab-test/*']);
    const ids = [...new Set(images.stdout.split('\n').filter(Boolean))];
    if (ids.length > 0) await dockerd.docker(['rmi', '-f', ...ids]);
    await dockerd.stop();
  }
  if (dockerDir) rmSync(dockerDir, { recursive: true, force: true });
  process.stdout.write(`deploy-image timings (s): ${JSON.stringify(timings)}\n`);
}, 180_000);

describe('deploy/Dockerfile', () => {
  it(
    'builds offline from local bases, serves /healthz with a runtime, and refuses to start unprivileged',
    async () => {
      const started = Date.now();
      // The build stage's base: bookworm with the toolchain, and Node 24 and npm from this machine
      // where the official node image has them (vitest runs on the `node` package's Node 24).
      const node = process.execPath;
      // Where this machine reaches the npm registry through a TLS proxy of its own, the base trusts
      // what this machine trusts, as a company's own node image would.
      const extraCa = process.env.NODE_EXTRA_CA_CERTS;
      expect(process.versions.node.split('.')[0]).toBe('24');
      const npmCli = findExecutable('npm');
      if (!npmCli) throw new Error('no npm on the PATH to put in the build base');
      const npmDir = dirname(dirname(realpathSync(npmCli)));
      const npmVersion = z
        .object({ version: z.string() })
        .parse(JSON.parse(readFileSync(join(npmDir, 'package.json'), 'utf8'))).version;
      const [buildTar, runtimeTar] = await timed('bases', () =>
        Promise.all([
          debianBase(
            'build',
            BUILD_PACKAGES,
            [
              `mkdir -p "$1/usr/local/bin" "$1/usr/local/lib/node_modules" "$1${dirname(BASE_CA)}"`,
              `cp ${node} "$1/usr/local/bin/node"`,
              `cp -a ${npmDir} "$1/usr/local/lib/node_modules/npm"`,
              `ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"`,
              ...(extraCa ? [`cp ${extraCa} "$1${BASE_CA}"`] : []),
            ],
            [process.version, npmVersion, extraCa ? sha256(readFileSync(extraCa)) : ''],
          ),
          debianBase('runtime', RUNTIME_PACKAGES, [], []),
        ]),
      );
      const nodeImage = `layerlab-test/node:${tag}`;
      const runtimeImage = `layerlab-test/debian:${tag}`;
      await timed('import', () =>
        Promise.all([
          importBase(buildTar, nodeImage, extraCa ? [`ENV NODE_EXTRA_CA_CERTS=${BASE_CA}`] : []),
          importBase(runtimeTar, runtimeImage),
        ]),
      );

      // Host networking for the build: this dockerd has no bridge, and `npm ci` reaches the registry.
      const built = await timed('build', () =>
        dockerLong(
          [
            'build',
            '--network',
            'host',
            '--file',
            join(repoRoot, 'deploy', 'Dockerfile'),
            '--build-arg',
            `NODE_IMAGE=${nodeImage}`,
            '--build-arg',
            `RUNTIME_IMAGE=${runtimeImage}`,
            '--tag',
            IMAGE,
            repoRoot,
          ],
          join(dockerDir, 'build.log'),
        ),
      );
      expect(built.status, tail(built.output)).toBe(0);
      const size = Number(await docker(['image', 'inspect', '--format', '{{.Size}}', IMAGE]));
      timings.imageMB = Math.round(size / 1e6);

      // Privileged, on the host's network (no bridge here) at a free port: /healthz answers 200 with
      // the runtime the engine detected.
      const port = await freePort();
      // The image's own registry, on a free port too (the host's network is this machine's, where
      // `npm start`'s may hold 5000), and the state root's config naming it as the docker.io mirror,
      // as the cluster's engine config does first. It holds everything this test pulls: no other.
      const registryPort = await freePort();
      const registry = `127.0.0.1:${registryPort}`;
      const state = join(dockerDir, 'state');
      mkdirSync(state, { recursive: true, mode: 0o711 });
      writeFileSync(
        join(state, 'config.json'),
        JSON.stringify({ mirrors: { 'docker.io': [`http://${registry}`] } }),
      );
      const id = await docker([
        'run',
        '-d',
        ...privileged(),
        '--network',
        'host',
        '-e',
        `LAYERLAB_PORT=${port}`,
        '-e',
        `LAYERLAB_REGISTRY_PORT=${registryPort}`,
        '--volume',
        `${state}:/var/lib/layerlab`,
        IMAGE,
        // Classroom mode, so the workshop pages' scripts are bundled (esbuild and xterm.js at run time);
        // readers get a sandbox too, so this test's session can push.
        '--workshop',
        'deploy-check',
        '--workshop-readers',
      ]);
      const health = await timed('healthy', async () => {
        const deadline = Date.now() + 120_000;
        for (;;) {
          const state = await docker(['inspect', '--format', '{{.State.Status}}', id]);
          if (state === 'exited') {
            const logs = await dockerd.docker(['logs', id]);
            throw new Error(`the server exited:\n${logs.stdout}${logs.stderr}`);
          }
          try {
            const res = await fetch(`http://127.0.0.1:${port}/healthz`, {
              signal: AbortSignal.timeout(5000),
            });
            if (res.status === 200) return healthSchema.parse(await res.json());
          } catch {
            // not listening yet
          }
          if (Date.now() > deadline) {
            const logs = await dockerd.docker(['logs', id]);
            throw new Error(`/healthz did not answer 200 within 120 s:\n${logs.stdout}${logs.stderr}`);
          }
          await sleep(250);
        }
      });
      expect(health.ok, health.runtime).toBe(true);
      expect(health.runtime).toMatch(/^crun \d/);
      expect(health.sessions).toBe(0);
      expect(health.registry).toEqual({ url: `http://${registry}`, ok: true });
      // The entrypoint started and seeded the image's own registry before the server served.
      const entry = (await dockerd.docker(['logs', id])).stdout;
      expect(entry).toContain(`started at http://${registry}`);
      expect(entry).toContain('layerlab/webapp: pushed');
      const seeded = entry.indexOf('image(s) in the registry');
      expect(seeded, entry).toBeGreaterThan(-1);
      expect(entry.indexOf('Layerlab is serving'), entry).toBeGreaterThan(seeded);
      // The registry runs as the image's docker-registry account, not root.
      const registryUid = await docker([
        'exec',
        id,
        'sh',
        '-c',
        'stat -c %u /proc/$(cat /var/lib/layerlab/registry/registry.pid)',
      ]);
      expect(registryUid).toBe(await docker(['exec', id, 'id', '-u', 'docker-registry']));
      expect(registryUid).not.toBe('0');
      // A lesson image, which exists nowhere but in the registry the image seeded at start.
      const pulled = await timed('pull', () =>
        dockerd.docker(['exec', id, 'layerlab', 'pull', 'layerlab/webapp']),
      );
      expect(pulled.status, pulled.stderr).toBe(0);
      expect(pulled.stdout).toContain('Downloaded newer image for layerlab/webapp:latest');
      // A real container inside the image's engine: pulled through the mirror, its layers mounted
      // with overlayfs under a tmpfs upper, run by crun in its namespaces and cgroups.
      const ran = await dockerd.docker([
        'exec',
        id,
        'layerlab',
        'run',
        '--rm',
        'busybox',
        'sh',
        '-c',
        'echo hello from $(hostname) as $(id -u)',
      ]);
      expect(ran.status, ran.stderr).toBe(0);
      expect(ran.stdout).toMatch(/^hello from [0-9a-f]{12} as 0$/m);
      // The registry listens on the node's loopback, which a container's network namespace is not.
      const probe = await dockerd.docker([
        'exec',
        id,
        'layerlab',
        'run',
        '--rm',
        'busybox',
        'wget',
        '-q',
        '-T',
        '2',
        '-O-',
        `http://${registry}/v2/`,
      ]);
      expect(probe.status, probe.stdout).not.toBe(0);
      // Lesson 18 in a reader's session: `docker push $REGISTRY/hello:v1` lands in the session's own
      // namespace of the image's registry.
      await timed('session-push', async () => {
        const created = await fetch(`http://127.0.0.1:${port}/api/session`);
        expect(created.status).toBe(200);
        const { session, token } = z
          .object({ session: z.string(), token: z.string() })
          .parse(await created.json());
        const client = openClient(`http://127.0.0.1:${port}`, token);
        try {
          await client.next('welcome');
          const channel = await openShell(client);
          // One line each (the shell has no `&&`); a run sent while one is in progress queues.
          for (const command of [
            'docker pull layerlab/motd',
            'docker tag layerlab/motd $REGISTRY/hello:v1',
            'docker push $REGISTRY/hello:v1',
          ]) {
            client.send({ type: 'terminal.run', terminal: 'main', command });
          }
          await client
            .waitForOutput(channel, /v1: digest: sha256:[0-9a-f]{64}/, 60_000)
            .catch((err: Error) => {
              throw new Error(`${err.message}; the terminal showed:\n${client.output(channel)}`);
            });
          const credentials = readCredentialsFile(join(state, 'registry', 'credentials.json'))[registry];
          if (!credentials) throw new Error(`no credential for ${registry} in the state root`);
          const manifest = await fetch(
            `http://${registry}/v2/${sessionNamespace(session)}/hello/manifests/v1`,
            {
              method: 'HEAD',
              headers: {
                authorization: basicAuthorization(credentials),
                accept:
                  'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json',
              },
            },
          );
          expect(manifest.status).toBe(200);
        } finally {
          await client.close();
        }
      });
      // The image's own HEALTHCHECK agrees (run now rather than after its 30 s interval).
      const test = z
        .array(z.string())
        .parse(JSON.parse(await docker(['inspect', '--format', '{{json .Config.Healthcheck.Test}}', IMAGE])));
      expect(test[0]).toBe('CMD');
      const check = await dockerd.docker(['exec', id, ...test.slice(1)]);
      expect(check.status, check.stderr).toBe(0);
      // The server is root on purpose (mounts, namespaces, cgroups).
      expect(await docker(['exec', id, 'id', '-u'])).toBe('0');
      // The CLI bundle is fresh in the image (its inputs kept with their mtimes), so the server and
      // `docker exec … layerlab` load it, not the sources whose site-only packages were left behind.
      const bundle = await dockerd.docker(['exec', id, 'node', '--input-type=module', '-e', BUNDLE_CHECK]);
      expect(bundle.status, bundle.stderr).toBe(0);
      expect((await dockerd.docker(['exec', id, 'layerlab', 'version'])).status).toBe(0);
      for (const script of ['wall.js', 'wall.css']) {
        const res = await fetch(`http://127.0.0.1:${port}/workshop/${script}`);
        expect(res.status, `/workshop/${script}: ${await res.clone().text()}`).toBe(200);
        expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(1000);
      }

      // Without --privileged: it exits at once, non-zero, saying what to add.
      const refused = await timed('refused', () =>
        dockerLong(
          ['run', '--name', `layerlab-test-unprivileged-${tag}`, '--network', 'host', IMAGE],
          join(dockerDir, 'unprivileged.log'),
        ),
      );
      expect(refused.status, refused.output).not.toBe(0);
      expect(refused.output).toContain("This host cannot run Layerlab's containers:");
      expect(refused.output).toContain('It lacks CAP_SYS_ADMIN');
      expect(refused.output).toContain('start the container with --privileged');
      expect(refused.output).not.toContain('Layerlab is serving');
      // One line per problem, nothing else (no stack).
      expect(refused.output).not.toMatch(/\n\s+at /);
      process.stdout.write(`deploy-image: unprivileged, the image said:\n${refused.output}`);

      timings.total = Math.round((Date.now() - started) / 100) / 10;
    },
    BUILD_MINUTES * 60_000,
  );
});
