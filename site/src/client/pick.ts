// Which containers a picture shows: the one named in its `container` attribute (a name or an id
// prefix, or a comma list), else the most recently created one; and its siblings from the same image.

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
  if (!first) return [];
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
