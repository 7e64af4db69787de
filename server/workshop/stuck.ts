// Who is stuck, from a student's recorded progress: each step of the course as not started, in
// progress, failed (with the hint shown) or passed, the seconds since the last action, and the
// reasons a teacher should go and help — idle too long on an unfinished lesson, or the same check
// failing again and again. Pure: the routes call it with the clock and the thresholds.

import type { CatalogLesson } from './lesson-catalog.ts';
import type { StepStatus, StudentState } from './workshop.ts';

export interface StuckThresholds {
  /** Idle this long on a lesson with steps left: needs help. */
  idleMs: number;
  /** The same check failing this many times in a row: needs help. */
  failuresInARow: number;
}

export const DEFAULT_STUCK: StuckThresholds = { idleMs: 5 * 60_000, failuresInARow: 3 };

/** `lesson/check` → status, for every step of the catalog and any other check the student tried. */
export function stepStatuses(student: StudentState, lessons: CatalogLesson[]): Record<string, StepStatus> {
  const visited = new Set(student.lessons.map((l) => l.lesson));
  const checks = new Map(student.checks.map((c) => [`${c.lesson}/${c.check}`, c]));
  const out: Record<string, StepStatus> = {};
  const status = (lesson: string, check: string): StepStatus => {
    const c = checks.get(`${lesson}/${check}`);
    if (c?.pass) return 'passed';
    if (c && c.failures > 0) return 'failed';
    return visited.has(lesson) || c ? 'in-progress' : 'not-started';
  };
  for (const lesson of lessons)
    for (const c of lesson.checks) out[`${lesson.id}/${c.id}`] = status(lesson.id, c.id);
  for (const c of student.checks) out[`${c.lesson}/${c.check}`] ??= status(c.lesson, c.check);
  return out;
}

/** Why this student may need help now; empty when nothing says so. A student who left is not flagged. */
export function needsHelp(
  student: StudentState,
  lessons: CatalogLesson[],
  now: number,
  thresholds: StuckThresholds,
): string[] {
  if (student.left !== undefined) return [];
  const reasons: string[] = [];
  for (const c of student.checks) {
    if (!c.pass && c.failuresInARow >= thresholds.failuresInARow) {
      reasons.push(`“${titleOf(lessons, c.lesson, c.check)}” failed ${c.failuresInARow} times in a row`);
    }
  }
  const idle = now - Date.parse(student.lastActive);
  const current = student.currentLesson;
  if (current !== undefined && idle >= thresholds.idleMs) {
    const lesson = lessons.find((l) => l.id === current);
    const passed = new Set(student.checks.filter((c) => c.pass && c.lesson === current).map((c) => c.check));
    const unfinished = lesson ? lesson.checks.some((c) => !passed.has(c.id)) : false;
    if (unfinished) {
      reasons.push(
        `idle for ${Math.floor(idle / 60_000)} min on “${lesson?.title ?? current}” with steps left`,
      );
    }
  }
  return reasons;
}

function titleOf(lessons: CatalogLesson[], lesson: string, check: string): string {
  return (
    lessons.find((l) => l.id === lesson)?.checks.find((c) => c.id === check)?.title ?? `${lesson}/${check}`
  );
}
