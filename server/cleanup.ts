// Start-up cleanup: whatever a previous server run left when it crashed or was killed — session
// roots with their containers, shims, mounts and runtime state, containers a commit froze, stale
// cgroups, temp files — is removed before the first session is created, then unreferenced content
// is garbage-collected. Opening the root (engine/recover.ts) also marks this server alive on it, so a
// CLI started beside it never mistakes the server's writes in progress for a crash's leftovers.

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { EngineConfig } from '../engine/config.ts';
import { createContext } from '../engine/context.ts';
import { collectGarbage, type GcResult } from '../engine/gc.ts';
import { removeStaleCgroups } from '../engine/host/cgroups.ts';
import { openRoot, type RecoveryReport, recoverRoot } from '../engine/recover.ts';
import { sessionRegistryAccess } from '../engine/registry/session-access.ts';
import { cleanupTemp } from '../engine/store/blobs.ts';
import { cleanupLayerTemps } from '../engine/store/layers.ts';
import { sessionsDir } from '../engine/store/paths.ts';
import { teardownRoot } from '../engine/teardown.ts';

export interface CleanupReport {
  sessions: number;
  containers: number;
  cgroups: number;
  temps: number;
  /** What the engine's recovery cleared in the root itself (a CLI killed mid-operation, too). */
  recovery: RecoveryReport;
  gc: GcResult;
  problems: string[];
}

export async function cleanupPreviousRun(
  root: string,
  config: EngineConfig,
  log: (message: string) => void = () => {},
): Promise<CleanupReport> {
  const report: CleanupReport = {
    sessions: 0,
    containers: 0,
    cgroups: 0,
    temps: 0,
    recovery: await openRoot(createContext(root, { config })),
    gc: { blobs: [], layers: [], bytes: 0 },
    problems: [],
  };
  report.temps = report.recovery.temps.length;
  let names: string[] = [];
  try {
    names = await readdir(sessionsDir(root));
  } catch {
    // first run: nothing to clean
  }
  // Sessions do not survive a restart (their sockets and terminals are gone), so every root here is a leftover.
  for (const name of names) {
    const ctx = createContext(join(sessionsDir(root), name), {
      config,
      sharedContent: root,
      // So teardown deletes what the session pushed to its namespace of the local registry.
      registry: sessionRegistryAccess({ serverRoot: root, config, sessionId: name }),
    });
    // First what a killed engine call left half-done (a container a commit froze would not die).
    const recovered = await recoverRoot(ctx);
    const result = await teardownRoot(ctx);
    report.problems.push(...recovered.errors);
    report.sessions++;
    report.containers += result.containers;
    report.problems.push(...result.leftovers, ...result.errors);
  }
  report.cgroups = removeStaleCgroups();
  const base = createContext(root, { config });
  // With a CLI alive on the root, recovery left tmp/ alone: only what is old enough is surely dead.
  report.temps += (await cleanupTemp(base)) + (await cleanupLayerTemps(base));
  report.gc = await collectGarbage(root);
  if (report.sessions > 0 || report.problems.length > 0) {
    log(
      `cleanup: removed ${report.sessions} session(s) and ${report.containers} container(s) of a previous run` +
        (report.problems.length > 0 ? `; could not free: ${report.problems.join('; ')}` : ''),
    );
  }
  return report;
}
