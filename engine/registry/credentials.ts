// Registry credentials from `<root>/auth.json`: `{ "<host>": { "username": "…", "password": "…" } }`,
// and the local registry's own credential, which setup keeps in `<root>/registry/credentials.json`
// (same shape, root-only). Read on demand and never printed; a malformed file is an error that names
// the field, not the secret.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.ts';

export const credentialsSchema = z.record(
  z.string(),
  z.object({ username: z.string().min(1), password: z.string() }).strict(),
);
export type CredentialStore = z.infer<typeof credentialsSchema>;

export interface Credentials {
  username: string;
  password: string;
}

/** The file in a local registry's storage directory that holds the credential it accepts. */
export function localRegistryCredentialsFile(storageDir: string): string {
  return join(storageDir, 'credentials.json');
}

/**
 * What the operator's CLI (and setup) may use for `root`: `<root>/auth.json` and the credential of
 * the local registry setup started under `<root>/registry/`. Absent files mean no credentials.
 */
export function loadCredentials(root: string): CredentialStore {
  // The local registry's own file wins: setup rewrites it whenever it makes a new credential.
  return {
    ...readCredentialsFile(join(root, 'auth.json')),
    ...readCredentialsFile(localRegistryCredentialsFile(join(root, 'registry'))),
  };
}

/** One credentials file; an absent file is empty. */
export function readCredentialsFile(file: string): CredentialStore {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new InvalidArgumentError(`${file}: not valid JSON`);
  }
  const parsed = credentialsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidArgumentError(`${file}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** Credentials for the first of `hosts` that has an entry (the endpoint host, then the registry name). */
export function credentialsFor(store: CredentialStore, ...hosts: string[]): Credentials | undefined {
  for (const host of hosts) {
    const entry = store[host] ?? store[`https://${host}`] ?? store[`http://${host}`];
    if (entry) return entry;
  }
  return undefined;
}

export function basicAuthorization(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}
