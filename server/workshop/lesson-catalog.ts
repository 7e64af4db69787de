// The course as the teacher's grid shows it: every lesson that has checks (content/lesson-checks.ts),
// in course order, with its title and each check's goal and hint as the lesson's MDX writes them
// (`<Check id="…" hint="…">goal</Check>`), so the dashboard says "Make two containers from the same
// busybox image" rather than `two-containers`. Read once per process; a lesson file that cannot be
// read falls back to the ids. Also every numbered lesson with the state it starts from
// (`courseLessons`), which a teacher's reset and "everyone to lesson N" name.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { lessonChecks } from '../../content/lesson-checks.ts';
import { type ResetTarget, resetTargetSchema } from '../reset/target.ts';

export interface CatalogCheck {
  id: string;
  /** The step's goal as the page words it (Markdown marks removed), or the id made readable. */
  title: string;
  /** The page's hint for the step, shown to a student whose check fails. */
  hint?: string;
}

export interface CatalogLesson {
  id: string;
  title: string;
  checks: CatalogCheck[];
}

export const LESSONS_DIR = join(import.meta.dirname, '..', '..', 'content', 'lessons');

let cached: CatalogLesson[] | undefined;

/** The lessons with checks, in course order ("start here" first, then by `lesson.order`). */
export function lessonCatalog(dir = LESSONS_DIR): CatalogLesson[] {
  if (dir === LESSONS_DIR && cached) return cached;
  const pages = new Map<string, string>();
  try {
    for (const file of readdirSync(dir)) {
      if (file.endsWith('.mdx')) pages.set(file.slice(0, -4), readFileSync(join(dir, file), 'utf8'));
    }
  } catch {
    // No lessons directory (a trimmed install): ids only.
  }
  const lessons: { lesson: CatalogLesson; order: number }[] = [];
  for (const [id, checks] of Object.entries(lessonChecks)) {
    const page = pages.get(id);
    // A page that is not a lesson (the free sandbox) has checks but no place in the grid.
    if (page === undefined) continue;
    const declared = checksOf(page);
    lessons.push({
      order: lessonOrder(page, id),
      lesson: {
        id,
        title: frontmatterField(page, 'title') ?? readable(id),
        checks: Object.keys(checks).map((check) => {
          const found = declared.get(check);
          return {
            id: check,
            title: found?.goal || readable(check),
            ...(found?.hint ? { hint: found.hint } : {}),
          };
        }),
      },
    });
  }
  lessons.sort((a, b) => a.order - b.order || a.lesson.id.localeCompare(b.lesson.id));
  const out = lessons.map((l) => l.lesson);
  if (dir === LESSONS_DIR) cached = out;
  return out;
}

/** A numbered lesson of the course: its page id, number, title and the state it starts from. */
export interface CourseLesson {
  id: string;
  order: number;
  title: string;
  /** `lesson.reset`, else `lesson.images`, else nothing (as the page's own Reset does). */
  start: ResetTarget;
}

let course: CourseLesson[] | undefined;

/**
 * Every lesson page with a `lesson.order`, in course order. The frontmatter is YAML, read with
 * js-yaml and checked by the reset target's own schema; a start that does not parse is empty, and
 * logged by the caller's test of the lessons (test/unit/lessons.test.ts checks every page's).
 */
export function courseLessons(dir = LESSONS_DIR): CourseLesson[] {
  if (dir === LESSONS_DIR && course) return course;
  const out: CourseLesson[] = [];
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.mdx'));
  } catch {
    // No lessons directory (a trimmed install): no course.
  }
  for (const file of files) {
    const id = file.slice(0, -4);
    let data: unknown;
    try {
      data = load(frontmatter(readFileSync(join(dir, file), 'utf8')));
    } catch {
      continue;
    }
    const lesson = field(data, 'lesson');
    const order = field(lesson, 'order');
    if (typeof order !== 'number') continue;
    const reset = field(lesson, 'reset');
    const images = field(lesson, 'images');
    const parsed = resetTargetSchema.safeParse(
      reset !== undefined ? reset : images !== undefined ? { images } : {},
    );
    const title = field(data, 'title');
    out.push({
      id,
      order,
      title: typeof title === 'string' ? title : readable(id),
      start: parsed.success ? parsed.data : {},
    });
  }
  out.sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
  if (dir === LESSONS_DIR) course = out;
  return out;
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? Reflect.get(value, name) : undefined;
}

/** A check's title and page hint by lesson and id, when the catalog has it. */
export function catalogCheck(lesson: string, check: string): CatalogCheck | undefined {
  return lessonCatalog()
    .find((l) => l.id === lesson)
    ?.checks.find((c) => c.id === check);
}

function frontmatter(page: string): string {
  const match = /^---\r?\n([\s\S]*?)\r?\n---/.exec(page);
  return match?.[1] ?? '';
}

function frontmatterField(page: string, field: string): string | undefined {
  const match = new RegExp(`^${field}:\\s*(.+)$`, 'm').exec(frontmatter(page));
  return match ? unquote(match[1]!.trim()) : undefined;
}

function lessonOrder(page: string, id: string): number {
  const match = /^lesson:\s*\n(?:[ \t]+.*\n)*?[ \t]+order:\s*(\d+)/m.exec(frontmatter(page));
  if (match) return Number(match[1]);
  return id === 'start-here' ? 0 : Number.MAX_SAFE_INTEGER;
}

/** `<Check id="…" hint="…">goal</Check>` elements of a page, by id. */
function checksOf(page: string): Map<string, { goal: string; hint?: string }> {
  const out = new Map<string, { goal: string; hint?: string }>();
  for (const match of page.matchAll(/<Check\b([^>]*)>([\s\S]*?)<\/Check>/g)) {
    const attrs = match[1] ?? '';
    const id = /\bid="([^"]*)"/.exec(attrs)?.[1];
    if (!id) continue;
    const hint = /\bhint="([^"]*)"/.exec(attrs)?.[1];
    out.set(id, { goal: plainText(match[2] ?? ''), ...(hint ? { hint } : {}) });
  }
  return out;
}

/** The first sentence-ish line of Markdown, without its marks, capped for a table cell. */
function plainText(markdown: string): string {
  const line =
    markdown
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '') ?? '';
  const text = line
    .replace(/`([^`]*)`/g, '$1')
    .replace(/\*\*([^*]*)\*\*/g, '$1')
    .replace(/\*([^*]*)\*/g, '$1')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
  return text.length > 160 ? `${text.slice(0, 159)}…` : text;
}

function unquote(value: string): string {
  return /^(["']).*\1$/.test(value) ? value.slice(1, -1) : value;
}

/** `two-containers` → "Two containers". */
function readable(id: string): string {
  const words = id.replace(/^\d+-/, '').replace(/[-_.]+/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}
