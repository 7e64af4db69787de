// The operator's secrets for `layerlab serve` (teacher and admin passwords), taken once at start-up
// from a file (`--teacher-password-file`, `LAYERLAB_TEACHER_PASSWORD_FILE`) or the environment
// (`LAYERLAB_TEACHER_PASSWORD`), and then deleted from the environment: nothing later in the process
// (a request, a visitor's command, a child process) can find them there.

import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '../engine/errors.ts';

/** Secrets are a line of text, not a file's worth. */
const MAX_SECRET_BYTES = 4096;

/**
 * Takes the secret `NAME` from `file` (a flag's value), else `$NAME_FILE`, else `$NAME`, and removes
 * both variables from `env` whatever was used. A file's trailing newline is not part of the secret.
 */
export function takeSecret(env: NodeJS.ProcessEnv, name: string, file?: string): string | undefined {
  const fileVar = `${name}_FILE`;
  const path = file ?? (env[fileVar] || undefined);
  const fromEnv = env[name] || undefined;
  delete env[name];
  delete env[fileVar];
  if (path === undefined) return fromEnv;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`${name}: cannot read ${path}: ${(err as Error).message}`, path);
  }
  if (Buffer.byteLength(text) > MAX_SECRET_BYTES) {
    throw new InvalidArgumentError(`${name}: ${path} is longer than ${MAX_SECRET_BYTES} bytes`, path);
  }
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '') throw new InvalidArgumentError(`${name}: ${path} is empty`, path);
  return secret;
}
