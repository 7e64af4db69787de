// A fresh engine state root for one test file, pointed at the test registry as its docker.io mirror.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineConfigSchema } from '../../engine/config.ts';
import { createContext, type EngineContext } from '../../engine/context.ts';
import type { EngineEvent } from '../../engine/events.ts';

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

export function freshContext(options: { mirrors?: Record<string, string[]> } = {}): TestContext {
  const root = mkdtempSync(join(tmpdir(), 'layerlab-test-'));
  const host = testRegistryHost();
  const config = engineConfigSchema.parse({
    mirrors: options.mirrors ?? (host ? { 'docker.io': [`http://${host}`] } : {}),
  });
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
