// Engine configuration: where state lives, which registries mirror which, the user-namespace range
// and the default limits. Read from `<root>/config.json` when present; every field has a default.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CONFIG_FILE, DEFAULT_RUNTIME, DEFAULT_USERNS_BASE, RUNTIMES } from './config-defaults.ts';
import { DEFAULT_ROOT } from './default-root.ts';
import { InvalidArgumentError } from './errors.ts';

export { DEFAULT_ROOT, DEFAULT_USERNS_BASE };
export const DEFAULT_REGISTRY_PORT = 5000;

const limitsSchema = z.object({
  /** Size of the tmpfs that holds a container's upper and work dirs. */
  containerDiskBytes: z
    .number()
    .int()
    .positive()
    .default(256 * 1024 * 1024),
  memoryBytes: z
    .number()
    .int()
    .positive()
    .default(256 * 1024 * 1024),
  pids: z.number().int().positive().default(256),
  /** CPU quota in cores (cfs quota / period). */
  cpus: z.number().positive().default(1),
  manifestBytes: z
    .number()
    .int()
    .positive()
    .default(4 * 1024 * 1024),
  /** Caps on one unpacked layer, against tar and compression bombs. */
  layerBytes: z
    .number()
    .int()
    .positive()
    .default(2 * 1024 * 1024 * 1024),
  layerEntries: z.number().int().positive().default(500_000),
  /** Containers one state root may hold at once (the server sets it per session); unlimited if absent. */
  maxContainers: z.number().int().positive().optional(),
  /** Image records one state root may hold (build steps count); unlimited if absent. */
  maxImages: z.number().int().positive().optional(),
  /**
   * Bytes of distinct layers one state root's images may reference (engine/store/quota.ts; the
   * server sets it per session); unlimited if absent.
   */
  storedLayerBytes: z.number().int().positive().optional(),
  /**
   * Size of each named volume: with it, a volume's data lives on a tmpfs of this size (the server
   * sets it per session, so a volume cannot fill the host's disk); unlimited, on disk, if absent.
   */
  volumeBytes: z.number().int().positive().optional(),
  /** Named volumes one state root may hold; unlimited if absent. */
  maxVolumes: z.number().int().positive().optional(),
  /** Whether containers may bind-mount host paths (`-v /host:/path`); a server session may not. */
  hostBinds: z.boolean().default(true),
});

export const engineConfigSchema = z.object({
  /** Registry host → mirror base URLs tried in order before the host itself. */
  mirrors: z.record(z.string(), z.array(z.string())).default({}),
  /** Hosts spoken to over plain HTTP. Loopback is always insecure-allowed, as in Docker. */
  insecureRegistries: z.array(z.string()).default([]),
  /** Container uid/gid 0 maps to this host id; layers are unpacked shifted by it. */
  usernsBase: z.number().int().positive().default(DEFAULT_USERNS_BASE),
  /**
   * How many ids the container has. Docker's userns-remap takes 65,536 from /etc/subuid, but images
   * own files by larger ids (OpenShift-style uids run past 10^9) and Docker without remapping pulls
   * them: the default maps every id up to 2^31 on the host, the most that stays clear of the ids
   * systemd's UIDS-GIDS.md tells tools to avoid (2^31 and above read as negative in some), and
   * above every host user (system users stay below 65,536). The kernel takes any size whose end
   * fits in 32 bits, and a large range costs nothing: a mapping is one extent.
   */
  usernsSize: z
    .number()
    .int()
    .positive()
    .default(2 ** 31 - DEFAULT_USERNS_BASE),
  /** Preferred OCI runtime; `auto` picks crun, then runc, whichever works here. */
  runtime: z.enum(RUNTIMES).default(DEFAULT_RUNTIME),
  /** How long a registry may keep us waiting for response headers, or for the next chunk of a body. */
  registryTimeoutMs: z.number().int().positive().default(30_000),
  limits: limitsSchema.default(limitsSchema.parse({})),
});
export type EngineConfig = z.infer<typeof engineConfigSchema>;

/** The local registry that setup starts and seeds; `docker.io` pulls go there first. */
export function defaultMirrors(port = registryPortFromEnv()): Record<string, string[]> {
  return { 'docker.io': [`http://127.0.0.1:${port}`] };
}

export function registryPortFromEnv(): number {
  const raw = process.env.LAYERLAB_REGISTRY_PORT;
  if (raw === undefined || raw === '') return DEFAULT_REGISTRY_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new InvalidArgumentError(`LAYERLAB_REGISTRY_PORT: not a port: ${raw}`, raw);
  }
  return port;
}

export function rootFromEnv(): string {
  return process.env.LAYERLAB_ROOT || DEFAULT_ROOT;
}

/** Loads `<root>/config.json`, falling back to defaults (with the local mirror) when absent. */
export function loadConfig(root: string): EngineConfig {
  let raw: unknown = {};
  try {
    raw = JSON.parse(readFileSync(join(root, CONFIG_FILE), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new InvalidArgumentError(`${join(root, CONFIG_FILE)}: ${(err as Error).message}`);
    }
  }
  const parsed = engineConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidArgumentError(
      `${join(root, CONFIG_FILE)}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const config = parsed.data;
  if (Object.keys(config.mirrors).length === 0 && !(raw as { mirrors?: unknown }).mirrors) {
    config.mirrors = defaultMirrors();
  }
  return config;
}
