// Arriving at a lesson: makes the session meet the lesson's declared start by ADDING what is missing
// (images pulled from the shared store, declared containers created) and never removing what the
// reader made. Containers the lesson wants gone (names it creates itself) are only reported, and
// removed when the page asks again with those names in `remove` (the reader pressed the button).
// Answers with one line for the page: "Prepared for you: busybox, layerlab/webapp."

import { removeContainer } from '../../engine/container/lifecycle.ts';
import { readAllRecords } from '../../engine/container/record.ts';
import { reconcile } from '../../engine/container/state.ts';
import type { EngineContext } from '../../engine/context.ts';
import { NotFoundError } from '../../engine/errors.ts';
import { pull } from '../../engine/pull.ts';
import { familiarName, parseReference } from '../../engine/reference/reference.ts';
import { resolveImageId } from '../../engine/store/images.ts';
import { makeDeclaredContainer } from './reset.ts';
import type { ResetTarget } from './target.ts';

/** A container the lesson will make itself, already there under its name. */
export interface PrepareConflict {
  name: string;
  image: string;
  status: string;
}

export interface PrepareReport {
  /** Images that were missing and have been pulled, as the lesson spells them. */
  pulled: string[];
  /** Declared containers that were missing and have been created, by name. */
  created: string[];
  /** Containers named in `absent` that exist and were left alone (the page offers to remove them). */
  conflicts: PrepareConflict[];
  /** Containers removed because the request named them in `remove`. */
  removed: string[];
  /** The one line the page shows. */
  message: string;
  ms: number;
}

export interface PrepareOptions {
  /** The session id, stored as the owner label of the containers made. */
  owner?: string;
  /** Names from `absent` the reader agreed to remove; any other name is ignored. */
  remove?: readonly string[];
}

/** Prepares `ctx` for a lesson that starts from `to`, adding only; see the module comment. */
export async function prepareState(
  ctx: EngineContext,
  to: ResetTarget,
  options: PrepareOptions = {},
): Promise<PrepareReport> {
  const started = performance.now();
  const wanted = [...(to.images ?? [])];
  for (const c of to.containers ?? []) if (!wanted.includes(c.image)) wanted.push(c.image);

  // 1. Containers the lesson creates itself: removed only when asked, reported otherwise.
  const absent = new Set(to.absent ?? []);
  const agreed = new Set((options.remove ?? []).filter((n) => absent.has(n)));
  const records = await readAllRecords(ctx).then((all) => all.filter((r) => !r.external));
  const removed: string[] = [];
  const conflicts: PrepareConflict[] = [];
  await Promise.all(
    records
      .filter((r) => absent.has(r.name))
      .map(async (r) => {
        if (agreed.has(r.name)) {
          await removeContainer(ctx, r.id, { force: true }).catch(ignoreNotFound);
          removed.push(r.name);
          return;
        }
        const now = await reconcile(ctx, r);
        conflicts.push({ name: r.name, image: r.image, status: now.state.status });
      }),
  );

  // 2. Missing images: pulled in parallel. The blobs are shared by every session, so this is
  //    usually only the manifest and the image record.
  const missing: string[] = [];
  await Promise.all(
    wanted.map(async (ref) => {
      try {
        await resolveImageId(ctx, ref);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        missing.push(ref);
      }
    }),
  );
  await Promise.all(missing.map((ref) => pull(ctx, ref)));

  // 3. Declared containers that no container of that name stands for yet.
  const taken = new Set(records.filter((r) => !removed.includes(r.name)).map((r) => r.name));
  const created: string[] = [];
  await Promise.all(
    (to.containers ?? [])
      .filter((c) => !taken.has(c.name))
      .map(async (c) => {
        await makeDeclaredContainer(ctx, c, options.owner);
        created.push(c.name);
      }),
  );

  const byOrder = <T>(list: T[], order: readonly T[]) =>
    list.sort((a, b) => order.indexOf(a) - order.indexOf(b));
  byOrder(missing, wanted);
  const declaredNames = (to.containers ?? []).map((c) => c.name);
  byOrder(created, declaredNames);
  const absentOrder = to.absent ?? [];
  byOrder(removed, absentOrder);
  conflicts.sort((a, b) => absentOrder.indexOf(a.name) - absentOrder.indexOf(b.name));

  return {
    pulled: missing,
    created,
    conflicts,
    removed,
    message: prepareMessage({ pulled: missing, created, conflicts, removed }),
    ms: Math.round(performance.now() - started),
  };
}

/** A reference as a reader typed it in a lesson (`layerlab/webapp`, not `docker.io/…:latest`). */
function shortName(ref: string): string {
  try {
    return familiarName(parseReference(ref)).replace(/:latest$/, '');
  } catch {
    return ref;
  }
}

const list = (names: readonly string[]) => names.join(', ');

/**
 * The page's line: what was added for the reader, what they removed, and what is in the way. Names
 * only, no ids: "Prepared for you: busybox, layerlab/webapp. Already here from before: one (running)."
 */
export function prepareMessage(
  report: Pick<PrepareReport, 'pulled' | 'created' | 'conflicts' | 'removed'>,
): string {
  const parts: string[] = [];
  const added = [...report.pulled.map(shortName), ...report.created.map((n) => `container ${n}`)];
  if (added.length > 0) parts.push(`Prepared for you: ${list(added)}.`);
  if (report.removed.length > 0) parts.push(`Removed: ${list(report.removed)}.`);
  if (report.conflicts.length > 0) {
    const names = report.conflicts.map((c) => `${c.name} (${c.status})`);
    const one = report.conflicts.length === 1;
    parts.push(
      `Already here from before: ${list(names)}; this lesson creates ${one ? 'a container' : 'containers'} of ${one ? 'that name' : 'those names'} itself, so ${one ? 'it has' : 'they have'} to go first.`,
    );
  }
  if (parts.length === 0) return 'Everything this lesson starts from is already here.';
  return parts.join(' ');
}

function ignoreNotFound(err: unknown): void {
  // Removed meanwhile (an `--rm` container that exited, another request): the goal is reached.
  if (!(err instanceof NotFoundError)) throw err;
}
