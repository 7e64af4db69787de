// What the host view picture draws (`state.host`): a container's overlay mount and process tree as
// the host sees them, from the engine's host readers, labelled for the page. Host paths are shown
// relative to the state root (`<root>/layers/<diff-id>/diff`, `<root>/sessions/<session>/containers/
// <id>/rw/upper`): the layout teaches, the server's own directories and the session's id do not.

import { resolveContainer } from '../../engine/container/lifecycle.ts';
import { containerDir } from '../../engine/container/state.ts';
import type { EngineContext } from '../../engine/context.ts';
import { type ContainerProcess, containerHostFacts } from '../../engine/host/container-view.ts';
import type { Digest } from '../../engine/oci/digest.ts';
import { detectRuntime } from '../../engine/runtime/detect.ts';
import { containerStack, type LayerRef } from './layers.ts';

/** One lower dir of the overlay, top first, as `lowerdir=` lists it. */
export interface HostViewLower {
  /** The dir, relative to the state root. */
  path: string;
  /** The short link the mount used for it (many layers), relative to the state root. */
  via?: string;
  /** An image layer (named as the layer stack names it), the container's init layer, or neither. */
  source: 'layer' | 'init' | 'other';
  diffId?: Digest;
  /** Position in the image's layers: 0 is the base. */
  index?: number;
  createdBy?: string;
}

export interface HostViewProcess extends Omit<ContainerProcess, 'containerPid' | 'containerUid'> {
  containerPid: number | null;
  containerUid: number | null;
  /** Nesting in the tree: a shim at 0, the container's PID 1 under it, its children under that. */
  depth: number;
}

export interface HostView {
  container: { id: string; name: string; state: 'created' | 'running' | 'exited' };
  /** The overlay as the kernel's mount table has it; null while the container is not running. */
  overlay: {
    mountPoint: string;
    lowerdir: HostViewLower[];
    upperdir: string | null;
    workdir: string | null;
    options: string[];
  } | null;
  /** Shims and the container's processes, in tree order (parents before children). */
  processes: HostViewProcess[];
  /** The OCI runtime that set the container up and exited (`crun`, `runc`). */
  runtime: string | null;
  /** The host uid that is root in the container. */
  rootUid: number;
}

/** `path` as the page may see it: relative to the state root, a session's root named `<session>`. */
export function hostPathLabel(ctx: EngineContext, path: string): string {
  const under = (dir: string) => path === dir || path.startsWith(`${dir}/`);
  const rest = (dir: string) => path.slice(dir.length);
  const { root, sharedContent } = ctx.paths;
  // A session's root is `<server root>/sessions/<id>`; its shared content is the server root itself.
  if (sharedContent !== undefined && under(root)) return `<root>/sessions/<session>${rest(root)}`;
  // Never another session's dir: that would name its id.
  if (sharedContent !== undefined && under(sharedContent) && !under(`${sharedContent}/sessions`)) {
    return `<root>${rest(sharedContent)}`;
  }
  if (under(root)) return `<root>${rest(root)}`;
  return '(outside the state root)';
}

/** The host's view of `container` (id, name or id prefix) in `ctx`'s session. */
export async function hostView(ctx: EngineContext, container: string): Promise<HostView> {
  const record = await resolveContainer(ctx, container);
  const dir = containerDir(ctx, record.id);
  const running = record.state.status === 'running';
  const facts = running ? containerHostFacts(ctx, record.id, dir) : { overlay: undefined, processes: [] };
  const stack = await containerStack(ctx, record);
  const byDir = new Map(stack.map((s) => [s.dir, s]));
  const label = (path: string) => hostPathLabel(ctx, path);
  const overlay = facts.overlay;
  const runtime = running
    ? await detectRuntime(ctx).then(
        (r) => r.name,
        () => null,
      )
    : null;
  return {
    container: { id: record.id, name: record.name, state: record.state.status },
    overlay: overlay
      ? {
          mountPoint: label(overlay.mountPoint),
          lowerdir: overlay.lowers.map((lower): HostViewLower => {
            const entry = byDir.get(lower.dir);
            const base = { path: label(lower.dir), ...(lower.via ? { via: label(lower.via) } : {}) };
            if (entry?.source === 'layer') return { ...base, source: 'layer', ...layerFields(entry.layer) };
            if (entry?.source === 'init') return { ...base, source: 'init' };
            return { ...base, source: 'other' };
          }),
          upperdir: overlay.upper === undefined ? null : label(overlay.upper),
          workdir: overlay.work === undefined ? null : label(overlay.work),
          options: overlay.other,
        }
      : null,
    processes: treeOrder(facts.processes),
    runtime,
    rootUid: ctx.config.usernsBase,
  };
}

function layerFields(layer: LayerRef): { diffId: Digest; index?: number; createdBy?: string } {
  return {
    diffId: layer.diffId,
    ...(layer.index >= 0 ? { index: layer.index } : {}),
    ...(layer.createdBy !== undefined ? { createdBy: layer.createdBy } : {}),
  };
}

/** Parents before their children, each with its depth; roots are those whose parent is not listed. */
export function treeOrder(processes: readonly ContainerProcess[]): HostViewProcess[] {
  const pids = new Set(processes.map((p) => p.hostPid));
  const children = new Map<number, ContainerProcess[]>();
  for (const p of processes) {
    const list = children.get(p.ppid) ?? [];
    list.push(p);
    children.set(p.ppid, list);
  }
  const out: HostViewProcess[] = [];
  const visit = (p: ContainerProcess, depth: number) => {
    out.push({ ...p, containerPid: p.containerPid ?? null, containerUid: p.containerUid ?? null, depth });
    for (const child of children.get(p.hostPid) ?? []) if (child !== p) visit(child, depth + 1);
  };
  for (const p of processes) if (!pids.has(p.ppid) || p.ppid === p.hostPid) visit(p, 0);
  return out;
}
