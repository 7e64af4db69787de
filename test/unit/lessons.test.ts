// The lessons as data: every page's frontmatter, every click-to-run block and every <Check> must be
// something the site, the browser terminal and the engine accept, so a typo fails here, not in front
// of a reader.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { lessonAnswers, lessonChecks } from '../../content/lesson-checks.ts';
import { type CommandSpec, parseArgs } from '../../engine/cli/args.ts';
import { groups, topLevel } from '../../engine/cli/commands/index.ts';
import { parseAnswer } from '../../server/checks/answer-schema.ts';
import { parseCheck } from '../../server/checks/schema.ts';
import { resetTargetSchema } from '../../server/reset/reset.ts';
import { isBuiltin } from '../../server/terminal/builtins.ts';
import { commandLines } from '../../server/terminal/terminal.ts';
import { splitWords } from '../../server/terminal/words.ts';
import { MATCH_FLAGS, predictPropsSchema } from '../../site/src/client/predict-schema.ts';

const LESSONS = join(import.meta.dirname, '../../content/lessons');
const CONTEXTS = join(LESSONS, 'contexts');
const IMAGES = join(import.meta.dirname, '../../content/images');
/** Where the server shows `content/lessons/contexts/<name>` to sessions (read-only). */
const CONTEXT_MOUNT = '/lessons/';
const PROGRAMS = new Set(['docker', 'podman', 'layerlab']);
const COMPONENTS = [
  'Terminal',
  'Check',
  'LayerStack',
  'DiffPanel',
  'ImageGraph',
  'SizeBars',
  'PullInspector',
  'Predict',
  'Answer',
  'Editor',
  'HostView',
];

interface Page {
  file: string;
  source: string;
  body: string;
  data: Record<string, unknown>;
}

function readPages(): Page[] {
  return readdirSync(LESSONS)
    .filter((f) => f.endsWith('.mdx') || f.endsWith('.md'))
    .sort()
    .map((file) => {
      const source = readFileSync(join(LESSONS, file), 'utf8');
      const match = /^---\n([\s\S]*?)\n---\n/.exec(source);
      if (!match) throw new Error(`${file}: no frontmatter`);
      return {
        file,
        source,
        body: source.slice(match[0].length),
        data: (yaml.load(match[1]!) ?? {}) as Record<string, unknown>,
      };
    });
}

interface RunBlock {
  terminal: string;
  code: string;
  line: number;
  /** Where the block starts in the page's body. */
  index: number;
}

/** Fenced blocks whose meta holds `run` or `run=<terminal>`, as the site's run-button plugin reads them. */
function runBlocks(body: string): RunBlock[] {
  const blocks: RunBlock[] = [];
  const fence = /^```(\S*)([^\n]*)\n([\s\S]*?)^```\s*$/gm;
  for (let m = fence.exec(body); m; m = fence.exec(body)) {
    const meta = m[2]!.trim().split(/\s+/);
    const run = meta.find((w) => w === 'run' || w.startsWith('run='));
    if (!run) continue;
    blocks.push({
      terminal: run === 'run' ? 'main' : run.slice('run='.length),
      code: m[3]!.replace(/^\$ /gm, ''),
      line: body.slice(0, m.index).split('\n').length,
      index: m.index,
    });
  }
  return blocks;
}

/** The source of each `<tag …>` opening tag (attributes hold no `>`). */
function openingTags(body: string, tag: string): string[] {
  return [...body.matchAll(new RegExp(`<${tag}\\b[^>]*>`, 'g'))].map((m) => m[0]);
}

/** A page's route, as the site and the server's check table key it. */
const routeOf = (page: Page) => page.file.replace(/\.mdx?$/, '');

async function specFor(words: readonly string[]): Promise<{ spec: CommandSpec; rest: string[] }> {
  const [first, second] = words;
  const group = first === undefined ? undefined : groups[first];
  if (group) {
    const loader = second === undefined ? undefined : group.commands[second];
    if (!loader) throw new Error(`unknown command: ${first} ${second}`);
    return { spec: (await loader()).command.spec, rest: words.slice(2) };
  }
  const loader = first === undefined ? undefined : topLevel[first];
  if (!loader) throw new Error(`unknown command: ${first}`);
  return { spec: (await loader()).command.spec, rest: words.slice(1) };
}

const pages = readPages();

describe('lesson pages', () => {
  it('are there, with a title and a description each', () => {
    expect(pages.length).toBeGreaterThanOrEqual(17);
    for (const page of pages) {
      expect(typeof page.data.title, page.file).toBe('string');
      expect(typeof page.data.description, page.file).toBe('string');
    }
  });

  it('number the lessons as their file names do, once each', () => {
    const orders = new Set<number>();
    for (const page of pages) {
      const prefix = /^(\d+)-/.exec(page.file)?.[1];
      const lesson = page.data.lesson as { order?: number } | undefined;
      if (prefix === undefined) {
        expect(lesson, `${page.file} is not a numbered lesson`).toBeUndefined();
        continue;
      }
      expect(lesson?.order, page.file).toBe(Number(prefix));
      expect(orders.has(Number(prefix)), `${page.file}: order used twice`).toBe(false);
      orders.add(Number(prefix));
    }
    // From 1, without a gap, however many lessons there are.
    expect([...orders].sort((a, b) => a - b)).toEqual(Array.from({ length: orders.size }, (_, i) => i + 1));
  });

  it('declare only known lesson fields, images that the registry is seeded with, and valid resets', () => {
    for (const page of pages) {
      const lesson = page.data.lesson as Record<string, unknown> | undefined;
      if (!lesson) continue;
      expect(
        Object.keys(lesson).filter((k) => !['order', 'images', 'reset'].includes(k)),
        page.file,
      ).toEqual([]);
      const images = (lesson.images ?? []) as string[];
      expect(Array.isArray(images), page.file).toBe(true);
      for (const image of images) {
        const dir = image.replace(/^layerlab\//, '').replace(/:.*$/, '');
        expect(
          existsSync(join(IMAGES, dir, 'Dockerfile')),
          `${page.file}: image ${image} is not seeded`,
        ).toBe(true);
      }
      if (lesson.reset !== undefined) {
        const reset = resetTargetSchema.safeParse(lesson.reset);
        expect(reset.success, `${page.file}: ${reset.error?.message}`).toBe(true);
      }
    }
  });

  it('import every component they use', () => {
    for (const page of pages) {
      for (const name of COMPONENTS) {
        if (!new RegExp(`<${name}\\b`).test(page.body)) continue;
        const imported = new RegExp(
          `^import \\{[^}]*\\b${name}\\b[^}]*\\} from '\\.\\./\\.\\./site/src/components/index\\.ts';`,
          'm',
        );
        expect(imported.test(page.body), `${page.file} uses <${name}> without importing it`).toBe(true);
      }
    }
  });
});

describe('click-to-run blocks', () => {
  const cases = pages.flatMap((page) =>
    runBlocks(page.body).flatMap((block) =>
      commandLines(block.code).map((command) => ({ page, block, command })),
    ),
  );

  it('exist', () => {
    expect(cases.length).toBeGreaterThan(60);
  });

  it('name a terminal the page has', () => {
    for (const { page, block } of cases) {
      const terminal = new RegExp(`<Terminal\\b[^>]*\\bname="${block.terminal}"`);
      expect(
        terminal.test(page.body),
        `${page.file}:${block.line}: no <Terminal name="${block.terminal}">`,
      ).toBe(true);
    }
  });

  it('are commands the browser terminal splits and the engine CLI parses', async () => {
    for (const { page, block, command } of cases) {
      const where = `${page.file}:${block.line}: ${command}`;
      const split = splitWords(command);
      if (!split.ok) throw new Error(`${where}: ${split.error}`);
      const [program, ...words] = split.words;
      // The shell's `export NAME=value` (lesson 12 chooses the classic builder with DOCKER_BUILDKIT=0).
      if (program === 'export') {
        expect(words.length > 0 && words.every((w) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(w)), where).toBe(true);
        continue;
      }
      // The browser shell's own commands (`ls ~/app`, `rm ~/app/notes.txt`) run without the CLI.
      if (program !== undefined && isBuiltin(program)) continue;
      expect(PROGRAMS.has(program ?? ''), `${where}: not a docker/podman/layerlab command`).toBe(true);
      expect(words[0]?.startsWith('-'), `${where}: global flags are not available in the browser`).toBe(
        false,
      );
      const { spec, rest } = await specFor(words).catch((err: Error) => {
        throw new Error(`${where}: ${err.message}`);
      });
      try {
        const parsed = parseArgs(spec, rest);
        expect(parsed.help, where).toBe(false);
      } catch (err) {
        throw new Error(`${where}: ${(err as Error).message}`);
      }
    }
  });

  it('build only the lesson contexts the server exposes', async () => {
    for (const { page, block, command } of cases) {
      const split = splitWords(command);
      if (!split.ok) continue;
      const words = split.words.slice(1);
      const build =
        words[0] === 'build'
          ? words.slice(1)
          : words[0] === 'image' && words[1] === 'build'
            ? words.slice(2)
            : undefined;
      if (!build) continue;
      const { spec } = await specFor(['build']);
      const context = parseArgs(spec, build).args[0]!;
      const where = `${page.file}:${block.line}: ${command}`;
      // A context in the workspace is one the page's <Editor> seeds and edits.
      const edited = jsxTags(page.body, 'Editor').some(
        (tag) =>
          typeof tag.props.dir === 'string' &&
          `${context}/`.startsWith(`${tag.props.dir.replace(/\/$/, '')}/`),
      );
      if (edited) continue;
      expect(
        context.startsWith(CONTEXT_MOUNT),
        `${where}: a build context must be under ${CONTEXT_MOUNT}`,
      ).toBe(true);
      const dir = join(CONTEXTS, context.slice(CONTEXT_MOUNT.length));
      expect(
        existsSync(join(dir, 'Dockerfile')) && statSync(dir).isDirectory(),
        `${where}: no ${dir}/Dockerfile`,
      ).toBe(true);
    }
  });
});

describe('<Check> goals', () => {
  const checks = pages.flatMap((page) =>
    openingTags(page.body, 'Check').map((tagSource) => ({ page, tagSource })),
  );

  it('exist on every lesson and on the start page', () => {
    for (const page of pages) {
      if (page.data.lesson === undefined && page.file !== 'start-here.mdx') continue;
      expect(
        checks.some((c) => c.page === page),
        `${page.file} has no <Check>`,
      ).toBe(true);
    }
  });

  it('parse with the check schema', () => {
    for (const [lesson, declared] of Object.entries(lessonChecks)) {
      for (const [id, check] of Object.entries(declared)) {
        const parsed = parseCheck(check);
        expect(parsed.ok ? '' : parsed.message, `${lesson} › ${id}`).toBe('');
      }
    }
  });

  it('name a check content/lesson-checks.ts declares for their page, and every declared one is used', () => {
    const used = new Set<string>();
    for (const { page, tagSource } of checks) {
      expect(tagSource, `${page.file}: a <Check> carries no condition of its own`).not.toMatch(/\bcheck=/);
      const id = /\bid="([A-Za-z0-9_.-]+)"/.exec(tagSource)?.[1] ?? '';
      const declared = lessonChecks[routeOf(page)] ?? {};
      expect(Object.hasOwn(declared, id), `${page.file}: no check "${id}" in content/lesson-checks.ts`).toBe(
        true,
      );
      used.add(`${routeOf(page)} › ${id}`);
    }
    const declared = Object.entries(lessonChecks)
      .filter(([lesson]) => lesson !== 'sandbox') // site/src/pages/sandbox.astro, not a lesson file
      .flatMap(([lesson, ids]) => Object.keys(ids).map((id) => `${lesson} › ${id}`));
    expect(declared.filter((key) => !used.has(key))).toEqual([]);
  });

  it('have an id unique on their page, and a hint', () => {
    const seen = new Set<string>();
    for (const { page, tagSource } of checks) {
      const id = /\bid="([A-Za-z0-9_.-]+)"/.exec(tagSource)?.[1];
      expect(id, `${page.file}: a <Check> without an id`).toBeDefined();
      const key = `${page.file}#${id}`;
      expect(seen.has(key), `${key} is used twice`).toBe(false);
      seen.add(key);
      expect(/\bhint="[^"]+"/.test(tagSource), `${key} has no hint`).toBe(true);
    }
  });
});

// ---- components with props beyond strings: <Predict>, <Answer>, <Editor>, <HostView> ------------

interface JsxTag {
  name: string;
  /** Where the tag starts in the page's body. */
  index: number;
  line: number;
  /** Attribute values: strings as written, `{…}` expressions evaluated, bare names `true`. */
  props: Record<string, unknown>;
}

/** The end of a `{…}` expression starting at `open`, skipping braces inside string literals. */
function expressionEnd(source: string, open: number): number {
  let depth = 0;
  for (let i = open; i < source.length; i++) {
    const c = source[i]!;
    if (c === '"' || c === "'" || c === '`') {
      for (i++; i < source.length && source[i] !== c; i++) if (source[i] === '\\') i++;
    } else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i;
  }
  throw new Error(`unterminated {…} at ${open}`);
}

/**
 * Every `<name …>` of a page with its props, read as MDX reads them: an attribute's `{…}` is a
 * JavaScript expression (the lessons' own, evaluated in an empty context), so `choices={[…]}` is
 * checked as the component will receive it.
 */
function jsxTags(body: string, name: string): JsxTag[] {
  const tags: JsxTag[] = [];
  const start = new RegExp(`<${name}(?=[\\s/>])`, 'g');
  for (let m = start.exec(body); m; m = start.exec(body)) {
    const props: Record<string, unknown> = {};
    let i = m.index + m[0].length;
    for (;;) {
      while (/\s/.test(body[i] ?? '')) i++;
      if (body.startsWith('/>', i) || body[i] === '>' || i >= body.length) break;
      const attr = /^[A-Za-z_][\w:-]*/.exec(body.slice(i))?.[0];
      if (!attr)
        throw new Error(
          `<${name}> at ${i}: cannot read an attribute at ${JSON.stringify(body.slice(i, i + 20))}`,
        );
      i += attr.length;
      if (body[i] !== '=') {
        props[attr] = true;
        continue;
      }
      i++;
      const quote = body[i];
      if (quote === '"' || quote === "'") {
        const end = body.indexOf(quote, i + 1);
        props[attr] = body.slice(i + 1, end);
        i = end + 1;
      } else if (quote === '{') {
        const end = expressionEnd(body, i);
        props[attr] = runInNewContext(`(${body.slice(i + 1, end)})`, {}, { timeout: 1000 });
        i = end + 1;
      } else throw new Error(`<${name} ${attr}=…>: a value must be quoted or in {…}`);
    }
    tags.push({ name, index: m.index, line: body.slice(0, m.index).split('\n').length, props });
  }
  return tags;
}

const isLesson = (page: Page) => page.data.lesson !== undefined;
const terminalsOf = (page: Page) =>
  new Set(jsxTags(page.body, 'Terminal').map((t) => String(t.props.name ?? 'main')));

describe('<Predict> before a key command', () => {
  const predicts = pages.flatMap((page) => jsxTags(page.body, 'Predict').map((tag) => ({ page, tag })));

  it('stands in every lesson', () => {
    for (const page of pages.filter(isLesson)) {
      expect(
        predicts.some((p) => p.page === page),
        `${page.file} has no <Predict>`,
      ).toBe(true);
    }
  });

  it('have props the component accepts: an id unique on the page, a question, choices or a value', () => {
    const seen = new Set<string>();
    for (const { page, tag } of predicts) {
      const where = `${page.file}:${tag.line}: <Predict>`;
      const parsed = predictPropsSchema.safeParse(tag.props);
      const issue = parsed.error?.issues[0];
      expect(parsed.success, `${where}: ${issue?.path.join('.')}: ${issue?.message}`).toBe(true);
      const key = `${page.file}#${String(tag.props.id)}`;
      expect(seen.has(key), `${key} is used twice`).toBe(false);
      seen.add(key);
    }
  });

  it('are each bound to a Run block of their page, one prediction per block', () => {
    const taken = new Set<string>();
    for (const { page, tag } of predicts) {
      const props = predictPropsSchema.parse(tag.props);
      const after = runBlocks(page.body).filter((b) => b.index > tag.index);
      const block =
        props.run === undefined ? after[0] : after.find((b) => b.code.trim().split('\n')[0] === props.run);
      const where = `${page.file}:${tag.line}: <Predict id="${props.id}">`;
      expect(block, `${where}: no Run block ${props.run ? `"${props.run}" ` : ''}after it`).toBeDefined();
      const key = `${page.file}:${block!.line}`;
      expect(taken.has(key), `${where}: the block at line ${block!.line} has a prediction already`).toBe(
        false,
      );
      taken.add(key);
      // The command is echoed in the terminal: a matcher that matches it decides nothing.
      for (const choice of props.choices ?? []) {
        if (choice.match === undefined) continue;
        expect(
          new RegExp(choice.match, MATCH_FLAGS).test(block!.code),
          `${where}: "${choice.label}" matches the command itself`,
        ).toBe(false);
      }
    }
  });
});

describe('<Answer> checks of understanding', () => {
  const answers = pages.flatMap((page) => jsxTags(page.body, 'Answer').map((tag) => ({ page, tag })));

  it('exist', () => {
    expect(answers.length).toBeGreaterThanOrEqual(3);
  });

  it('parse with the answer schema', () => {
    for (const [lesson, declared] of Object.entries(lessonAnswers)) {
      for (const [id, answer] of Object.entries(declared)) {
        const parsed = parseAnswer(answer);
        expect(parsed.ok ? '' : parsed.message, `${lesson} › ${id}`).toBe('');
      }
    }
  });

  it('name an answer declared for their page, once, with a question; every declared one is used', () => {
    const used = new Set<string>();
    for (const { page, tag } of answers) {
      const id = String(tag.props.id ?? '');
      const where = `${page.file}:${tag.line}: <Answer id="${id}">`;
      expect(id, where).toMatch(/^[A-Za-z0-9_.-]{1,100}$/);
      expect(
        typeof tag.props.question === 'string' && tag.props.question.trim() !== '',
        `${where}: a question`,
      ).toBe(true);
      expect(
        Object.keys(tag.props).filter((k) => !['id', 'question', 'placeholder'].includes(k)),
        where,
      ).toEqual([]);
      const declared = lessonAnswers[routeOf(page)] ?? {};
      expect(Object.hasOwn(declared, id), `${where}: no answer "${id}" in lessonAnswers`).toBe(true);
      const key = `${routeOf(page)} › ${id}`;
      expect(used.has(key), `${key} is used twice`).toBe(false);
      used.add(key);
    }
    const declared = Object.entries(lessonAnswers).flatMap(([lesson, ids]) =>
      Object.keys(ids).map((id) => `${lesson} › ${id}`),
    );
    expect(declared.filter((key) => !used.has(key))).toEqual([]);
  });
});

describe('<Editor> and <HostView>', () => {
  /** A relative or `~/` path of the workspace, without `..`. */
  const workspacePath = (p: unknown) =>
    typeof p === 'string' && p.length > 0 && !p.split('/').includes('..') && !p.includes('\0');

  it('edit in a workspace dir seeded from a lesson context, beside terminals the page has', () => {
    for (const page of pages) {
      const terminals = terminalsOf(page);
      for (const tag of jsxTags(page.body, 'Editor')) {
        const where = `${page.file}:${tag.line}: <Editor>`;
        const { dir, seed, open, terminal } = tag.props;
        if (dir !== undefined) expect(workspacePath(dir), `${where}: dir=${String(dir)}`).toBe(true);
        if (open !== undefined) expect(workspacePath(open), `${where}: open=${String(open)}`).toBe(true);
        if (seed !== undefined) {
          expect(typeof seed, `${where}: seed`).toBe('string');
          const context = join(CONTEXTS, String(seed));
          expect(
            /^[A-Za-z0-9_.-]+$/.test(String(seed)) && existsSync(context) && statSync(context).isDirectory(),
            `${where}: seed="${String(seed)}" is not a directory of content/lessons/contexts/`,
          ).toBe(true);
        }
        if (terminal !== undefined) {
          expect(terminals.has(String(terminal)), `${where}: no <Terminal name="${String(terminal)}">`).toBe(
            true,
          );
        }
      }
    }
  });

  it('show a container by a name Docker accepts', () => {
    for (const page of pages) {
      for (const tag of jsxTags(page.body, 'HostView')) {
        const where = `${page.file}:${tag.line}: <HostView>`;
        const { container } = tag.props;
        if (container !== undefined) {
          expect(String(container), `${where}: container`).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/);
        }
      }
    }
  });
});
