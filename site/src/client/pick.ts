// Which containers a picture shows: the one the reader chose, else the one named in its `container`
// attribute (a name or an id prefix, or a comma list), else the most recently created one; and its
// siblings from the same image. A named container that is gone gives way to the newest running one.

import type { SessionSnapshot, SnapshotContainer } from './state.ts';

export function findContainer(snap: SessionSnapshot, ref: string): SnapshotContainer | undefined {
  return (
    snap.containers.find((c) => c.name === ref || c.id === ref) ??
    snap.containers.find((c) => c.id.startsWith(ref))
  );
}

export function newest(snap: SessionSnapshot): SnapshotContainer | undefined {
  return [...snap.containers].sort((a, b) => b.created.localeCompare(a.created))[0];
}

/**
 * The containers to draw: an explicit list keeps its order; otherwise the newest container and, when
 * `siblings` is set, up to two more from the same image (they share its lower layers).
 */
export function pickContainers(
  snap: SessionSnapshot,
  attr: string | null,
  siblings: boolean,
): SnapshotContainer[] {
  const refs = (attr ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (refs.length > 0) return refs.flatMap((r) => findContainer(snap, r) ?? []);
  const first = newest(snap);
  return first ? withSiblings(snap, first, siblings) : [];
}

/** The containers a picture shows and, when they are not the ones its lesson named, why. */
export interface Choice {
  containers: SnapshotContainer[];
  /** A sentence for the reader (backticked names are code), when the picture shows something else. */
  notice?: string;
  /** The lesson's names that are not in the session. */
  missing: string[];
}

/** The newest running container, else the newest of any state. */
export function newestRunning(snap: SessionSnapshot): SnapshotContainer | undefined {
  const running = snap.containers.filter((c) => c.state === 'running');
  return newest({ ...snap, containers: running }) ?? newest(snap);
}

/**
 * What a picture shows: the container the reader chose (while it exists), else the ones its
 * `container` attribute names. When those are gone (`docker rm -f one`) or not made yet, it follows
 * the newest running container instead and says so; `seen` holds the names it has shown before, so
 * it can tell "removed" from "not created yet".
 */
export function chooseContainers(
  snap: SessionSnapshot,
  attr: string | null,
  siblings: boolean,
  chosen: string | undefined,
  seen: ReadonlySet<string>,
): Choice {
  const picked = chosen ? snap.containers.find((c) => c.id === chosen) : undefined;
  if (picked) return { containers: withSiblings(snap, picked, siblings), missing: [] };
  const refs = (attr ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const found = refs.flatMap((r) => findContainer(snap, r) ?? []);
  const missing = refs.filter((r) => !findContainer(snap, r));
  if (refs.length === 0 || found.length > 0) {
    const containers = refs.length > 0 ? found : pickContainers(snap, null, siblings);
    return { containers, missing };
  }
  const gone = missing.filter((r) => seen.has(r));
  const why =
    gone.length > 0 ? `Container ${names(gone)} was removed` : `There is no container ${names(missing)} yet`;
  const other = newestRunning(snap);
  if (!other) return { containers: [], missing, notice: `${why}.` };
  return {
    containers: withSiblings(snap, other, siblings),
    missing,
    notice: `${why}: showing \`${other.name}\` (${other.state}), the newest ${other.state === 'running' ? 'running ' : ''}container.`,
  };
}

function names(refs: string[]): string {
  return refs.map((r) => `\`${r}\``).join(', ');
}

function withSiblings(
  snap: SessionSnapshot,
  first: SnapshotContainer,
  siblings: boolean,
): SnapshotContainer[] {
  if (!siblings) return [first];
  const others = snap.containers
    .filter((c) => c !== first && c.imageId === first.imageId)
    .sort((a, b) => b.created.localeCompare(a.created))
    .slice(0, 2);
  return [first, ...others];
}

export type DiffKind = 'A' | 'C' | 'D';

/** An upper-dir entry as `docker diff` would list it. */
export function diffKind(entry: { kind: string; copiedUpFrom?: string }): DiffKind {
  if (entry.kind === 'whiteout') return 'D';
  if (entry.copiedUpFrom || entry.kind === 'opaque') return 'C';
  return 'A';
}
