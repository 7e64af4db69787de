// The WebSocket layer's view of the modules other engineers own (terminals, state, checks): loaded
// lazily so the edge works — answering `not_implemented` — while one of them is not in the build.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Router } from '../http/router.ts';
import type { Session, SessionTerminal } from '../sessions/session.ts';

export type CreateTerminal = (
  session: Session,
  size: { cols: number; rows: number; name?: string },
) => SessionTerminal | Promise<SessionTerminal>;

export interface Modules {
  createTerminal?: CreateTerminal;
  evaluateCheck?: (session: Session, check: unknown) => Promise<unknown>;
  resetSession?: (session: Session, to: string | undefined) => Promise<unknown>;
  sessionSnapshot?: (session: Session) => Promise<unknown>;
  registerStateRoutes?: (router: Router) => void;
  /** Starts S3's per-session watchers (fs.change); returns its disposer. */
  watchSession?: (session: Session) => (() => void) | undefined;
}

const SERVER_DIR = join(import.meta.dirname, '..');

/** The first candidate file that exists and exports `name`. */
async function find<T>(candidates: string[], name: string): Promise<T | undefined> {
  for (const rel of candidates) {
    const path = join(SERVER_DIR, rel);
    if (!existsSync(path)) continue;
    const mod = (await import(path)) as Record<string, unknown>;
    if (typeof mod[name] === 'function') return mod[name] as T;
  }
  return undefined;
}

export async function loadModules(): Promise<Modules> {
  const terminal = ['terminal/index.ts', 'terminal/terminal.ts'];
  const state = [
    'state/index.ts',
    'state/snapshot.ts',
    'state/routes.ts',
    'state/watch.ts',
    'state/reset.ts',
  ];
  const checks = ['checks/index.ts', 'checks/evaluate.ts'];
  const modules: Modules = {};
  const assign = async <K extends keyof Modules>(key: K, files: string[]) => {
    const fn = await find<Modules[K]>(files, key);
    if (fn) modules[key] = fn;
  };
  await assign('createTerminal', terminal);
  await assign('evaluateCheck', checks);
  await assign('resetSession', [...state, ...checks]);
  await assign('sessionSnapshot', state);
  await assign('registerStateRoutes', state);
  await assign('watchSession', state);
  return modules;
}
