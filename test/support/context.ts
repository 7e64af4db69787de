// A fresh engine state root for one test file, pointed at the test registry as its docker.io mirror,
// with the test registry's credential in `<root>/auth.json` (as an operator's CLI would have it).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineConfigSchema } from '../../engine/config.ts';
import { createContext, type EngineContext } from '../../engine/context.ts';
import type { EngineEvent } from '../../engine/events.ts';
import { type CredentialStore, readCredentialsFile } from '../../engine/registry/credentials.ts';

export interface TestContext {
  ctx: EngineContext;
  events: EngineEvent[];
  root: string;
  cleanup(): void;
}

/** The registry the integration global setup started (host:port), if any. */
export function testRegistryHost(): string | undefined {
  return process.env.LAYERLAB_TEST_REGISTRY || undefined;
}

/** The credential store for the global test registry (`{ host: { username, password } }`); empty without one. */
export function testRegistryCredentials(): CredentialStore {
  const file = process.env.LAYERLAB_TEST_REGISTRY_CREDENTIALS;
  return file ? readCredentialsFile(file) : {};
}

/** Writes the test registry's credential where the engine looks for a root's own: `<root>/auth.json`. */
export function writeTestCredentials(root: string, extra: CredentialStore = {}): void {
  writeFileSync(join(root, 'auth.json'), JSON.stringify({ ...testRegistryCredentials(), ...extra }), {
    mode: 0o600,
  });
}

/**
 * For a server root: the test registry's credential where setup keeps the local registry's
 * (`<root>/registry/credentials.json`, root-only), which the server hands its sessions.
 */
export function writeServerRegistryCredentials(root: string): void {
  mkdirSync(join(root, 'registry'), { recursive: true, mode: 0o700 });
  writeFileSync(join(root, 'registry', 'credentials.json'), JSON.stringify(testRegistryCredentials()), {
    mode: 0o600,
  });
}

export function freshContext(options: { mirrors?: Record<string, string[]> } = {}): TestContext {
  const root = mkdtempSync(join(tmpdir(), 'layerlab-test-'));
  const host = testRegistryHost();
  const config = engineConfigSchema.parse({
    mirrors: options.mirrors ?? (host ? { 'docker.io': [`http://${host}`] } : {}),
  });
  writeTestCredentials(root);
  const events: EngineEvent[] = [];
  const ctx = createContext(root, { config, events: (e) => events.push(e) });
  return {
    ctx,
    events,
    root,
    cleanup() {
      rmSync(root, { recursive: true, force: true });
      rmSync(ctx.paths.run, { recursive: true, force: true }); // off the root, on tmpfs (runRootOf)
    },
  };
}
