// Tears a session root down to nothing: every container force-removed through the engine, then a
// sweep for what a crash can leave (shims, runtime state, mounts), the directory deleted, and a
// check that no mount, cgroup or shim process of it remains; and what the session pushed to its
// namespace of the local registry is deleted there. Used by dispose() and crash cleanup.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { removeContainer } from '../../engine/container/lifecycle.ts';
import { readAllRecords } from '../../engine/container/record.ts';
import { type EngineContext, withOperation } from '../../engine/context.ts';
import { RegistryClient } from '../../engine/registry/client.ts';
import { runningShimPid } from '../../engine/runtime/shim.ts';
import { MNT, umount2 } from '../../engine/sys/libc.ts';

const CGROUP_ROOT = '/sys/fs/cgroup';

export interface TeardownReport {
  containers: number;
  /** What could not be freed (mount points, cgroup dirs, pids); empty when clean. */
  leftovers: string[];
  errors: string[];
}

/** Mount points at or under `dir`, deepest first, from /proc/self/mountinfo (octal escapes decoded). */
export function mountsUnder(dir: string): string[] {
  let info: string;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const line of info.split('\n')) {
    const raw = line.split(' ')[4];
    if (!raw) continue;
    const point = raw.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
    if (point === dir || point.startsWith(`${dir}/`)) found.push(point);
  }
  return found.sort((a, b) => b.length - a.length);
}

/** `/sys/fs/cgroup/<controller>/layerlab/<id>` dirs that exist for `id`. */
export function cgroupDirsOf(id: string): string[] {
  const dirs: string[] = [];
  let controllers: string[];
  try {
    controllers = readdirSync(CGROUP_ROOT);
  } catch {
    return dirs;
  }
  for (const controller of controllers) {
    const path = join(CGROUP_ROOT, controller, 'layerlab', id);
    if (existsSync(path)) dirs.push(path);
  }
  return dirs;
}

/** Live shim processes whose run dirs are under `runDir` (the session's `paths.run`). */
export function shimPidsUnder(runDir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(runDir);
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const name of names) {
    const pid = runningShimPid(join(runDir, name));
    if (pid !== undefined) pids.push(pid);
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('layerlab-shim');
  } catch {
    return false;
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
  await new Promise((resolve) => setTimeout(resolve, 100));
  const second = await teardownOnce(ctx);
  return {
    containers: first.containers + second.containers,
    leftovers: second.leftovers,
    errors: [...first.errors, ...second.errors],
  };
}

/** How long deleting a session's pushed images may take before teardown goes on without it. */
const NAMESPACE_DELETE_MS = 15_000;

/**
 * Deletes the manifests the session pushed to its own namespace of the local registry (its policy
 * names it), so nobody can pull them after the session. Returns the errors; never throws.
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

async function teardownOnce(ctx: EngineContext): Promise<TeardownReport> {
  const errors: string[] = [];
  let records: Awaited<ReturnType<typeof readAllRecords>> = [];
  try {
    records = await readAllRecords(ctx);
  } catch (err) {
    errors.push(`list containers: ${(err as Error).message}`);
  }
  const ids = records.map((r) => r.id);
  const shimsBefore = shimPidsUnder(ctx.paths.run);
  await Promise.all(
    ids.map((id) =>
      removeContainer(ctx, id, { force: true }).catch((err: Error) => {
        errors.push(`remove container ${id.slice(0, 12)}: ${err.message}`);
      }),
    ),
  );
  // A shim whose container record was lost (a crash mid-create) still holds its PTY: end it.
  for (const pid of shimPidsUnder(ctx.paths.run)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  // The run dirs and runtime state live off the root (runRootOf in engine/store/paths.ts); they go
  // before the root, so a crash in between leaves the root, by which the next start finds them.
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
    ...ids.flatMap((id) => cgroupDirsOf(id).map((d) => `cgroup ${d}`)),
    ...(await settledShims(shimsBefore)).map((pid) => `shim pid ${pid}`),
  ];
  if (existsSync(ctx.paths.root) && stillMounted.length === 0) leftovers.push(`dir ${ctx.paths.root}`);
  if (runElsewhere && existsSync(ctx.paths.run)) leftovers.push(`dir ${ctx.paths.run}`);
  return { containers: ids.length, leftovers, errors };
}

/** Shims that are still alive after a short grace (a SIGKILLed process needs a moment to be reaped). */
async function settledShims(pids: number[]): Promise<number[]> {
  for (let i = 0; i < 50; i++) {
    const living = pids.filter(alive);
    if (living.length === 0) return [];
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return pids.filter(alive);
}
