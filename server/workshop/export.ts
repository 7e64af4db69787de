// The teacher's download of every student's progress: JSON (the dashboard's state with each step's
// status) and CSV (one row per student and course step, for a spreadsheet). Student names and
// commands are visitors' text: CSV cells are quoted, and a cell a spreadsheet would run as a formula
// (starting with = + - @, tab or CR) is prefixed with ' so it stays text.

import type { CatalogLesson } from './lesson-catalog.ts';
import { stepStatuses } from './stuck.ts';
import type { WorkshopState } from './workshop.ts';

export const CSV_COLUMNS = [
  'student',
  'joined',
  'last_active',
  'left',
  'resets',
  'current_lesson',
  'lesson',
  'lesson_title',
  'check',
  'check_title',
  'status',
  'attempts',
  'failures',
  'passed_at',
  'last_failed_at',
  'hint_shown',
  'last_command',
  'last_exit_code',
  'last_error',
] as const;

/** The export as JSON: the workshop, the course, and each student with their steps' statuses. */
export function progressJson(state: WorkshopState, lessons: CatalogLesson[]): object {
  return {
    workshop: {
      name: state.name,
      code: state.code,
      seats: state.seats,
      created: state.created,
      ended: state.ended,
    },
    exportedAt: new Date().toISOString(),
    lessons: lessons.map((l) => ({
      id: l.id,
      title: l.title,
      checks: l.checks.map(({ id, title }) => ({ id, title })),
    })),
    students: state.students.map((s) => ({
      id: s.id,
      name: s.name,
      joinedAt: s.joinedAt,
      lastActive: s.lastActive,
      ...(s.left ? { left: s.left } : {}),
      resets: s.resets,
      ...(s.currentLesson ? { currentLesson: s.currentLesson } : {}),
      ...(s.lastCommand ? { lastCommand: s.lastCommand } : {}),
      lessons: s.lessons,
      checks: s.checks,
      steps: stepStatuses(s, lessons),
    })),
  };
}

/** The export as CSV (RFC 4180, CRLF line ends), one row per student and step. */
export function progressCsv(state: WorkshopState, lessons: CatalogLesson[]): string {
  const rows: string[][] = [[...CSV_COLUMNS]];
  for (const s of state.students) {
    const steps = stepStatuses(s, lessons);
    const checks = new Map(s.checks.map((c) => [`${c.lesson}/${c.check}`, c]));
    const titles = new Map(
      lessons.flatMap((l) => l.checks.map((c) => [`${l.id}/${c.id}`, { lesson: l.title, check: c.title }])),
    );
    for (const [key, status] of Object.entries(steps)) {
      const [lesson = '', check = ''] = key.split('/');
      const c = checks.get(key);
      rows.push([
        s.name,
        s.joinedAt,
        s.lastActive,
        s.left ?? '',
        String(s.resets),
        s.currentLesson ?? '',
        lesson,
        titles.get(key)?.lesson ?? '',
        check,
        titles.get(key)?.check ?? '',
        status,
        String(c?.attempts ?? 0),
        String(c?.failures ?? 0),
        c?.passedAt ?? '',
        c?.lastFailedAt ?? '',
        c?.hint ?? '',
        s.lastCommand?.command ?? '',
        s.lastCommand ? String(s.lastCommand.exitCode) : '',
        s.lastCommand?.error ?? '',
      ]);
    }
  }
  return `${rows.map((r) => r.map(csvCell).join(',')).join('\r\n')}\r\n`;
}

export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) || safe !== value ? `"${safe.replace(/"/g, '""')}"` : safe;
}
