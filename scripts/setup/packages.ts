// Installs the Debian packages the engine uses, only those missing (checked with dpkg-query), running
// `apt-get update` only when something must be installed, so a prepared machine needs no network.

import { spawnSync } from 'node:child_process';
import { detail, SetupError } from './log.ts';

export const REQUIRED_PACKAGES = [
  'crun',
  'runc',
  'docker-registry',
  'busybox-static',
  'gcc',
  'make',
  'libc6-dev',
  'tar',
  'zstd',
] as const;

/**
 * Only the integration tests use these: the interoperability tests push to and pull from podman and
 * skopeo, and the terminal tests drive `run -it` through tmux; the unpack tests read xattrs with getfattr (attr);
 * the differential suite compares builds with Docker's (docker.io: a private dockerd the test starts);
 * the cluster test runs Redis, HAProxy and renders the Kubernetes manifests (kubectl), and the deploy
 * image test builds its offline base with mmdebstrap.
 * Setup for `npm start` never installs them.
 */
export const TEST_PACKAGES = [
  'podman',
  'skopeo',
  'tmux',
  'chromium',
  'attr',
  'docker.io',
  'redis-server',
  'haproxy',
  'mmdebstrap',
] as const;

/**
 * Test commands that another package may already provide (kubectl often comes from Kubernetes' own
 * apt repository, whose `kubectl` package conflicts with Debian's): installed from Debian only when
 * the command is missing.
 */
export const TEST_COMMANDS: Readonly<Record<string, string>> = { kubectl: 'kubernetes-client' };

/** Installs the package of each command in `commands` that is not on the PATH. */
export function ensureCommands(commands: Readonly<Record<string, string>> = TEST_COMMANDS): string[] {
  const missing = Object.entries(commands)
    .filter(([command]) => !hasCommand(command))
    .map(([, pkg]) => pkg);
  return missing.length === 0 ? [] : ensurePackages(missing);
}

/** True when dpkg reports `pkg` as installed. */
export function isInstalled(pkg: string): boolean {
  // `${Status}` is dpkg-query's field syntax, not a template placeholder.
  const format = '-f=$' + '{Status}';
  const result = spawnSync('dpkg-query', ['-W', format, pkg], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.trim().endsWith('install ok installed');
}

export function missingPackages(packages: readonly string[] = REQUIRED_PACKAGES): string[] {
  return packages.filter((pkg) => !isInstalled(pkg));
}

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** Installs whatever is missing; returns the packages it installed. */
export function ensurePackages(packages: readonly string[] = REQUIRED_PACKAGES): string[] {
  if (!hasCommand('dpkg-query') || !hasCommand('apt-get')) {
    throw new SetupError(
      `Layerlab installs its system packages with apt-get and found no apt-get: use Debian or Ubuntu, or install these yourself: ${packages.join(' ')}.`,
    );
  }
  const missing = missingPackages(packages);
  if (missing.length === 0) {
    detail(`all ${packages.length} packages present`);
    return [];
  }
  detail(`installing ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args: string[]) =>
    spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env });
  if (run(['update']).status !== 0) {
    throw new SetupError(
      `apt-get update failed, so ${missing.join(' ')} cannot be installed: check the network and apt sources, or install them by hand.`,
    );
  }
  if (run(['install', '-y', '--no-install-recommends', ...missing]).status !== 0) {
    throw new SetupError(`apt-get install ${missing.join(' ')} failed (see its output above).`);
  }
  return missing;
}
