// `layerlab serve --limits FILE`: an operator's overrides of the server's limits (server/limits.ts),
// read from JSON and checked field by field, so a typo in a class's settings is refused at start-up.

import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InvalidArgumentError } from '../engine/errors.ts';
import type { LimitsOverride } from './limits.ts';

const count = z.number().int().positive();
const bytes = z.number().int().positive();
const millis = z.number().int().positive();

const limitsFileSchema = z
  .object({
    maxSessions: count,
    sessionsPerAddress: z.object({ max: count, burst: count, perMinute: count }).partial().strict(),
    connectGraceMs: millis,
    maxContainersPerSession: count,
    maxImagesPerSession: count,
    maxStoredLayerBytesPerSession: bytes,
    allowedRegistries: z.array(z.string().min(1)),
    maxTerminalsPerSession: count,
    maxSocketsPerSession: count,
    container: z
      .object({
        memoryBytes: bytes,
        pids: count,
        cpus: z.number().positive(),
        diskBytes: bytes,
        maxRunMs: millis,
      })
      .partial()
      .strict(),
    idleTimeoutMs: millis,
    reapIntervalMs: millis,
    ws: z
      .object({
        maxPayload: bytes,
        heartbeatMs: millis,
        burst: count,
        perSecond: count,
        abuseLimit: count,
        highWaterMark: bytes,
        lowWaterMark: bytes,
        maxConnections: count,
        maxConnectionsPerIp: count,
      })
      .partial()
      .strict(),
    maxBodyBytes: bytes,
    http: z
      .object({
        headersTimeoutMs: millis,
        requestTimeoutMs: millis,
        keepAliveTimeoutMs: millis,
        checkIntervalMs: millis,
        extraConnectionsPerIp: count,
      })
      .partial()
      .strict(),
  })
  .partial()
  .strict();

/** Parses a limits document; throws InvalidArgumentError naming the file and the first bad field. */
export function parseLimits(text: string, source: string): LimitsOverride {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`${source}: not JSON: ${(err as Error).message}`, source);
  }
  const parsed = limitsFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || (issue && 'keys' in issue ? String(issue.keys) : '');
    throw new InvalidArgumentError(`${source}: ${where}: ${issue?.message ?? 'invalid'}`, source);
  }
  return parsed.data as LimitsOverride;
}

export function loadLimitsFile(path: string): LimitsOverride {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`--limits ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`, path);
  }
  return parseLimits(text, path);
}
