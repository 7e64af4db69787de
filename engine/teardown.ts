// Tears a state root down to nothing: every container force-removed, then a sweep for what a crash
// can leave (shims, runtime state, mounts), the directory deleted, and a check that no mount, cgroup
// or shim process of it remains; what the root pushed to its own namespace of the local registry is
// deleted there too. The server calls it to end a session and to clean up after a crash.

import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { removeContainer } from './container/lifecycle.ts';
import { readAllRecords } from './container/record.ts';
import { type EngineContext, withOperation } from './context.ts';
import { containerCgroupDirs } from './host/cgroups.ts';
import { mountsUnder } from './host/mounts.ts';
import { processExited, shimProcessesUnder } from './host/processes.ts';
import { RegistryClient } from './registry/client.ts';
import { MNT, umount2 } from './sys/libc.ts';

export interface TeardownReport {
  containers: number;
  /** What could not be freed (mount points, cgroup dirs, pids); empty when clean. */
  leftovers: string[];
  errors: string[];
}

/** How long deleting a root's pushed images may take before teardown goes on without it. */
const NAMESPACE_DELETE_MS = 15_000;
/** How long a SIGKILLed shim may take to exit (a loaded machine schedules it late). */
const SHIM_EXIT_MS = 10_000;

/**
 * Removes every container of `ctx` (forced), kills shims left behind, unmounts what remains under
 * the root, deletes it and reports anything that survived. Never throws: teardown must go on.
 */
export async function teardownRoot(ctx: EngineContext): Promise<TeardownReport> {
  const pushed = await deleteRegistryNamespace(ctx);
  const first = await teardownOnce(ctx);
  first.errors.unshift(...pushed);
  // An engine call that was in flight when teardown began (a create mounting its rootfs) can
  // leave something behind after the first pass; one more pass catches it.
  if (first.leftovers.length === 0 && !existsSync(ctx.paths.root)) return first;
  await sleep(100);
  const second = await teardownOnce(ctx);
  return {
    containers: first.containers + second.containers,
    leftovers: second.leftovers,
    errors: [...first.errors, ...second.errors],
  };
}

/**
 * Deletes the manifests the root pushed to its own namespace of the local registry (its policy
 * names it), so nobody can pull them afterwards. Returns the errors; never throws.
 */
async function deleteRegistryNamespace(ctx: EngineContext): Promise<string[]> {
  if (!ctx.registry?.policy?.own) return [];
  // The session's own signal is aborted by now (dispose aborts its work first): use a fresh one.
  const op = withOperation(ctx, { signal: AbortSignal.timeout(NAMESPACE_DELETE_MS) });
  try {
    await new RegistryClient(op, { transport: { retries: 1 } }).deleteOwnNamespace();
    return [];
  } catch (err) {
    return [`registry namespace ${ctx.registry.policy.own.namespace}: ${(err as Error).message}`];
  }
}

function unmountAll(dir: string, errors: string[]): void {
  for (const point of mountsUnder(dir)) {
    try {
      umount2(point, 0);
    } catch {
      try {
        umount2(point, MNT.DETACH); // still busy: detach now, the kernel frees it when unused
      } catch (err) {
        errors.push(`umount ${point}: ${(err as Error).message}`);
      }
    }
  }
}

async function teardownOnce(ctx: EngineContext): Promise<TeardownReport> {
  const errors: string[] = [];
  let records: Awaited<ReturnType<typeof readAllRecords>> = [];
  try {
    records = await readAllRecords(ctx);
  } catch (err) {
    errors.push(`list containers: ${(err as Error).message}`);
  }
  const ids = records.map((r) => r.id);
  const shimsBefore = shimProcessesUnder(ctx.paths.run).map((s) => s.pid);
  await Promise.all(
    ids.map((id) =>
      removeContainer(ctx, id, { force: true }).catch((err: Error) => {
        errors.push(`remove container ${id.slice(0, 12)}: ${err.message}`);
      }),
    ),
  );
  // A shim whose container record was lost (a crash mid-create) still holds its PTY: end it.
  for (const shim of shimProcessesUnder(ctx.paths.run)) {
    try {
      process.kill(shim.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  // The run dirs and runtime state live off the root (runRootOf in store/paths.ts); they go before
  // the root, so a crash in between leaves the root, by which the next start finds them.
  const runElsewhere = !ctx.paths.run.startsWith(`${ctx.paths.root}/`);
  if (runElsewhere) {
    await rm(ctx.paths.run, { recursive: true, force: true }).catch((err: Error) => {
      errors.push(`remove ${ctx.paths.run}: ${err.message}`);
    });
  }
  unmountAll(ctx.paths.root, errors);
  const stillMounted = mountsUnder(ctx.paths.root);
  // Never rm -rf through a mount: a bind or overlay could expose shared content below it.
  if (stillMounted.length === 0) {
    await rm(ctx.paths.root, { recursive: true, force: true }).catch((err: Error) => {
      errors.push(`remove ${ctx.paths.root}: ${err.message}`);
    });
  }
  const leftovers = [
    ...stillMounted.map((m) => `mount ${m}`),
    ...ids.flatMap((id) => containerCgroupDirs(id).map((d) => `cgroup ${d}`)),
    ...(await exitedWithin(shimsBefore, SHIM_EXIT_MS)).map((pid) => `shim pid ${pid}`),
  ];
  if (existsSync(ctx.paths.root) && stillMounted.length === 0) leftovers.push(`dir ${ctx.paths.root}`);
  if (runElsewhere && existsSync(ctx.paths.run)) leftovers.push(`dir ${ctx.paths.run}`);
  return { containers: ids.length, leftovers, errors };
}

/**
 * The pids of `pids` still running after `timeoutMs`: a killed process exits once the kernel has
 * run it, which a busy machine does late, so this waits for the exit rather than a fixed grace.
 */
async function exitedWithin(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    const living = pids.filter((pid) => !processExited(pid));
    if (living.length === 0 || Date.now() >= deadline) return living;
    await sleep(delay);
  }
}
