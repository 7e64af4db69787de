// What the CLI shows in place of host paths when its caller may not learn them (the browser
// terminal: `cli.hideHostPaths`). `inspect` output names the state root's layer, container and run
// dirs (GraphDriver, LogPath, Layerlab.RunDir); for such a caller every string under one of the
// engine's own directories becomes empty, as Docker leaves the paths it does not use.

import type { EngineContext } from '../context.ts';
import type { Cli } from './cli.ts';

/** The host directories an engine context's records point into. */
function hostDirs(ctx: EngineContext): string[] {
  const { root, run, layers, containers, blobs, tmp, sharedContent } = ctx.paths;
  const dirs = [root, run, layers, containers, blobs, tmp, ...(sharedContent ? [sharedContent] : [])];
  return [...new Set(dirs)].map((d) => (d.endsWith('/') ? d : `${d}/`));
}

/** `value` (inspect's JSON) as `cli`'s caller may see it: unchanged, or without host paths. */
export function forCaller(cli: Cli, ctx: EngineContext, value: unknown): unknown {
  if (!cli.hideHostPaths) return value;
  return withoutPaths(value, hostDirs(ctx));
}

/** A message (a `system check` problem) as the caller may see it: host dirs cut to what is below them. */
export function textForCaller(cli: Cli, ctx: EngineContext, text: string): string {
  if (!cli.hideHostPaths) return text;
  // Longest first, so a run dir under the root is cut whole.
  const dirs = hostDirs(ctx).sort((a, b) => b.length - a.length);
  return dirs.reduce((out, dir) => out.replaceAll(dir, '').replaceAll(dir.slice(0, -1), '.'), text);
}

function withoutPaths(value: unknown, dirs: readonly string[]): unknown {
  if (typeof value === 'string') {
    return dirs.some((d) => value.startsWith(d) || `${value}/` === d) ? '' : value;
  }
  if (Array.isArray(value)) return value.map((v) => withoutPaths(v, dirs));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutPaths(v, dirs)]));
  }
  return value;
}
