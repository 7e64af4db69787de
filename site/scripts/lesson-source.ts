// Reads the lessons from their MDX source, as the recorder and the lesson walk in the browser tests
// need them: page path, frontmatter (checked by the site's own schema), the runnable code blocks in
// order, each `<Terminal>`'s rows, and the starting state the lesson's Reset restores.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { load } from 'js-yaml';
import type { ResetTargetInput } from '../../server/reset/reset.ts';
import { type LessonFrontmatter, lessonSchema, lessonStart } from '../src/lesson-schema.ts';

export const LESSONS_DIR = join(import.meta.dirname, '..', '..', 'content', 'lessons');

/** A ```` ```sh run ```` (or `run=<terminal>`) block: what its Run button sends to which terminal. */
export interface RunBlock {
  terminal: string;
  command: string;
  /** The command's lines: the shell runs (and reports) each one separately. */
  lines: string[];
}

export interface LessonSource {
  /** `05-copy-on-write`; `index` is the home page. */
  id: string;
  /** The page's path on the site: `/05-copy-on-write/`, `/` for the home page. */
  path: string;
  title: string;
  file: string;
  lesson: LessonFrontmatter | undefined;
  blocks: RunBlock[];
  /** Rows of each `<Terminal>` by name, in the order they appear on the page. */
  terminals: Map<string, number>;
  /** What the lesson's Reset restores (as `<Check>` does): `lesson.reset`, else its images, else nothing. */
  start: ResetTargetInput;
}

function lessonFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) return name === 'contexts' ? [] : lessonFiles(full);
      return /\.mdx?$/.test(name) ? [full] : [];
    });
}

/** The runnable code blocks of a lesson, in order, and the rows of each `<Terminal>`. */
export function parseLesson(source: string): { blocks: RunBlock[]; terminals: Map<string, number> } {
  const blocks: RunBlock[] = [];
  for (const m of source.matchAll(/^(`{3,})[\w-]*([^\n]*)\n([\s\S]*?)\n\1\s*$/gm)) {
    const run = /(?:^|\s)run(?:=([A-Za-z0-9_.-]+))?(?=\s|$)/.exec(m[2] ?? '');
    if (!run) continue;
    // The same rule as the Run button (site/src/plugins/run-button.mjs): a leading `$ ` is dropped.
    const command = (m[3] ?? '')
      .split('\n')
      .map((l) => l.replace(/^\$ /, ''))
      .join('\n')
      .trim();
    // As the browser shell splits a run (server/terminal commandLines): continuations joined, one
    // command per line, blank lines and comments skipped.
    const lines = command
      .replace(/\\\r?\n/g, ' ')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    blocks.push({ terminal: run[1] ?? 'main', command, lines });
  }
  const terminals = new Map<string, number>();
  for (const m of source.matchAll(/<Terminal\b([^>]*)\/?>/g)) {
    const attrs = m[1] ?? '';
    const name = /name=["']([^"']+)["']/.exec(attrs)?.[1] ?? 'main';
    const rows = /rows=\{?["']?(\d+)/.exec(attrs)?.[1];
    terminals.set(name, rows ? Number(rows) : 14);
  }
  return { blocks, terminals };
}

export function readLesson(file: string): LessonSource {
  const source = readFileSync(file, 'utf8');
  const front = /^---\n([\s\S]*?)\n---/.exec(source)?.[1] ?? '';
  const data = (load(front) ?? {}) as { title?: string; lesson?: unknown };
  const lesson = data.lesson === undefined ? undefined : lessonSchema.parse(data.lesson);
  const id = relative(LESSONS_DIR, file)
    .replace(/\.mdx?$/, '')
    .toLowerCase();
  const { blocks, terminals } = parseLesson(source);
  return {
    id,
    path: id === 'index' ? '/' : `/${id}/`,
    title: data.title ?? id,
    file,
    lesson,
    blocks,
    terminals,
    start: lessonStart(lesson) ?? {},
  };
}

/** Every lesson page (lessons, start here, glossary, home), in file order. */
export function readLessons(dir = LESSONS_DIR): LessonSource[] {
  return lessonFiles(dir).map(readLesson);
}
