// What every engine operation is given: the state root and its layout, the configuration, where
// events go, and a signal that cancels long work (a pull, a build) when the user presses Ctrl-C.

import { type EngineConfig, loadConfig } from './config.ts';
import { type EventSink, ignoreEvents } from './events.ts';
import type { RegistryAccess } from './registry/policy.ts';
import { type RootPaths, rootPaths } from './store/paths.ts';

export interface EngineContext {
  readonly root: string;
  readonly paths: RootPaths;
  readonly config: EngineConfig;
  readonly events: EventSink;
  readonly signal?: AbortSignal;
  /** Registry credentials and policy held for this context (a server session's); see RegistryAccess. */
  readonly registry?: RegistryAccess;
}

export function createContext(
  root: string,
  options: {
    config?: EngineConfig;
    events?: EventSink;
    signal?: AbortSignal;
    /** The root whose blobs and layers this one shares (a server session); see rootPaths. */
    sharedContent?: string;
    registry?: RegistryAccess;
  } = {},
): EngineContext {
  const ctx: EngineContext = {
    root,
    paths: rootPaths(
      root,
      options.sharedContent !== undefined ? { sharedContent: options.sharedContent } : {},
    ),
    config: options.config ?? loadConfig(root),
    events: options.events ?? ignoreEvents,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.registry ? { registry: options.registry } : {}),
  };
  return ctx;
}

/** The same context with another signal or event sink, for one operation. */
export function withOperation(
  ctx: EngineContext,
  options: { events?: EventSink; signal?: AbortSignal },
): EngineContext {
  return { ...ctx, ...options };
}
