// Runs Debian's `docker-registry` (CNCF distribution) on 127.0.0.1 as the local registry that setup
// seeds and `docker.io` pulls mirror to; also used by the integration tests on a free port.
//
// The registry answers nobody without its credential (htpasswd auth, reads too): a generated
// password kept root-only next to its storage (`credentials.json`, `htpasswd`), which only setup, the
// operator's CLI and the server's engine hold. Visitors never reach it but through the engine, whose
// policy (policy.ts) keeps their pushes in their own namespace.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  lchownSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { RegistryError } from '../errors.ts';
import {
  basicAuthorization,
  type Credentials,
  localRegistryCredentialsFile,
  readCredentialsFile,
} from './credentials.ts';
import { htpasswdLine } from './htpasswd.ts';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface LocalRegistryOptions {
  port: number;
  storageDir: string;
  /** Where the registry's own output goes; defaults to `<storageDir>/registry.log`. */
  logFile?: string;
  /** How long to wait for `/v2/` to answer. */
  timeoutMs?: number;
  /**
   * Whether every request needs the credential (default). Only tests of the engine's HTTP client
   * against a bare registry turn it off; the shared mirror never runs without it.
   */
  auth?: boolean;
  /**
   * The account the registry runs as (the container image's `docker-registry` system user), rather
   * than as its root starter: it then owns its `data/`, its `config.yml` and the `htpasswd` hash,
   * the storage dir is made traversable (0711) for it, and `credentials.json` stays root's.
   */
  user?: { uid: number; gid: number };
}

export interface LocalRegistry {
  url: string;
  port: number;
  pid: number;
  /** What the registry accepts (absent with `auth: false`); hold it in an engine context, never show it. */
  credentials?: Credentials;
  stop(): Promise<void>;
}

const USERNAME = 'layerlab';

/**
 * The credential of the registry whose storage is `storageDir`, made (password of 256 random bits,
 * its bcrypt hash in `htpasswd`) when there is none, and recorded for `127.0.0.1:port` in
 * `credentials.json`. Both files are root-only (0600 in a 0700 directory).
 */
export function ensureRegistryCredentials(storageDir: string, port: number): Credentials {
  mkdirSync(storageDir, { recursive: true, mode: 0o700 });
  // Tightened, never loosened: 0711 (traverse, no listing) is what a registry running as its own
  // user needs while it runs, and credentials.json is 0600 root's either way.
  if ((statSync(storageDir).mode & 0o777 & ~0o711) !== 0) chmodSync(storageDir, 0o700);
  const file = localRegistryCredentialsFile(storageDir);
  const host = `127.0.0.1:${port}`;
  const known = Object.values(readCredentialsFile(file))[0];
  let htpasswd = '';
  try {
    htpasswd = readFileSync(join(storageDir, 'htpasswd'), 'utf8');
  } catch {}
  const credentials =
    known && htpasswd.startsWith(`${known.username}:`)
      ? known
      : { username: USERNAME, password: randomBytes(32).toString('base64url') };
  if (credentials !== known) {
    writeFileSync(
      join(storageDir, 'htpasswd'),
      `${htpasswdLine(credentials.username, credentials.password)}\n`,
      {
        mode: 0o600,
      },
    );
  }
  writeFileSync(file, `${JSON.stringify({ [host]: credentials }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return credentials;
}

/**
 * The YAML config the registry reads: filesystem storage, loopback only, deletes allowed (a
 * session's namespace is deleted with it), and htpasswd auth on every request.
 */
export function registryConfig(port: number, storageDir: string, auth = true): string {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(join(storageDir, 'data'))}`,
    '  delete:',
    '    enabled: true',
    '  cache:',
    '    blobdescriptor: inmemory',
    ...(auth
      ? [
          'auth:',
          '  htpasswd:',
          '    realm: layerlab-registry',
          `    path: ${JSON.stringify(join(storageDir, 'htpasswd'))}`,
        ]
      : []),
    'http:',
    `  addr: 127.0.0.1:${port}`,
    // Upload URLs are signed with it; a fresh one each start is fine (uploads do not outlive it).
    `  secret: ${randomBytes(24).toString('hex')}`,
    '',
  ].join('\n');
}

/**
 * How the registry at `url` treats us: `protected` when it refuses an anonymous `/v2/` (401) and
 * accepts `credentials`; `open` when it lets anyone in (an old one, started before it had auth);
 * `foreign` when it wants a credential we do not hold; `down` when nothing answers.
 */
export async function registryAccess(
  url: string,
  credentials: Credentials | undefined,
  timeoutMs = 1000,
): Promise<'protected' | 'open' | 'foreign' | 'down'> {
  const status = async (headers: Record<string, string>) => {
    const response = await fetch(`${url.replace(/\/+$/, '')}/v2/`, {
      headers,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return response.status;
  };
  try {
    const anonymous = await status({});
    if (anonymous === 200) return 'open';
    if (anonymous !== 401) return 'foreign';
    if (!credentials) return 'foreign';
    return (await status({ Authorization: basicAuthorization(credentials) })) === 200
      ? 'protected'
      : 'foreign';
  } catch {
    return 'down';
  }
}

/** True when a registry answers `/v2/` at `url` (200, or 401 for one that wants auth). */
export async function isRegistryUp(url: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const response = await fetch(`${url.replace(/\/+$/, '')}/v2/`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return response.status === 200 || response.status === 401;
  } catch {
    return false;
  }
}

/**
 * Gives the registry's own account what it reads and writes: its config, the password hash and every
 * blob under data/ (a storage an earlier root-run registry wrote too); the storage dir becomes
 * traversable for it, while credentials.json (the plain password) stays root-only.
 */
function handOver(storageDir: string, user: { uid: number; gid: number }, auth: boolean): void {
  chmodSync(storageDir, 0o711);
  const data = join(storageDir, 'data');
  for (const entry of readdirSync(data, { recursive: true, withFileTypes: true })) {
    lchownSync(join(entry.parentPath, entry.name), user.uid, user.gid);
  }
  chownSync(data, user.uid, user.gid);
  chownSync(join(storageDir, 'config.yml'), user.uid, user.gid);
  if (auth) chownSync(join(storageDir, 'htpasswd'), user.uid, user.gid);
}

/**
 * Starts the registry detached (it outlives this process, so setup can leave it running) and waits
 * until it answers. `stop()` ends it.
 */
export async function startLocalRegistry(options: LocalRegistryOptions): Promise<LocalRegistry> {
  const { port, storageDir } = options;
  const logFile = options.logFile ?? join(storageDir, 'registry.log');
  const url = `http://127.0.0.1:${port}`;
  if (await isRegistryUp(url, 500)) {
    throw new RegistryError(`cannot start a registry on 127.0.0.1:${port}: something already answers there`);
  }
  const auth = options.auth ?? true;
  const credentials = auth ? ensureRegistryCredentials(storageDir, port) : undefined;
  mkdirSync(join(storageDir, 'data'), { recursive: true });
  const configFile = join(storageDir, 'config.yml');
  writeFileSync(configFile, registryConfig(port, storageDir, auth), { mode: 0o600 });
  if (options.user) handOver(storageDir, options.user, auth);

  const log = openSync(logFile, 'a');
  const child = spawn(REGISTRY_BINARY, ['serve', configFile], {
    detached: true,
    stdio: ['ignore', log, log],
    // Nothing of the starter's environment, which may hold the server's secrets (a teacher password):
    // the binary is named by its full path, and the system's PATH is all it gets.
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
  });
  closeSync(log);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  child.unref();
  const pid = child.pid;

  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
  });
  while (!(await isRegistryUp(url, 500))) {
    if (exitCode !== undefined || pid === undefined) {
      throw new RegistryError(
        `docker-registry exited (code ${exitCode}) before answering on ${url}; see ${logFile}`,
      );
    }
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new RegistryError(`docker-registry did not answer on ${url} in time; see ${logFile}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  writeFileSync(join(storageDir, 'registry.pid'), `${pid}\n`);
  return {
    url,
    port,
    pid: pid!,
    ...(credentials ? { credentials } : {}),
    async stop(): Promise<void> {
      if (exitCode !== undefined) return;
      try {
        process.kill(pid!, 'SIGTERM');
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(pid!, 'SIGKILL');
        } catch {}
      }, 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
