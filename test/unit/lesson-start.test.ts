// Where each lesson starts and how it ends, read from the lessons themselves: every container name a
// lesson's Run blocks create is declared free in its start (`reset.absent`), every image it starts
// from is one the registry is seeded with, each lesson removes the containers it made (so going in
// order never reaches the session's container limit), and the lines the page shows about all this.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HeldPlace } from '../../engine/container/limit-message.ts';
import { containerLimitMessage } from '../../engine/container/limit-message.ts';
import { prepareMessage } from '../../server/reset/prepare.ts';
import { splitWords } from '../../server/terminal/words.ts';
import { readLessons } from '../../site/scripts/lesson-source.ts';
import { lessonSchema } from '../../site/src/lesson-schema.ts';

const IMAGES = join(import.meta.dirname, '../../content/images');
const lessons = readLessons().filter((l) => l.lesson !== undefined);

/** `docker run … --name N` and `docker create … --name N` (not `--rm`): the containers a line leaves. */
function created(words: string[]): { name: string | undefined; detached: boolean } | undefined {
  const [, verb, ...rest] = words;
  if (verb !== 'run' && verb !== 'create') return undefined;
  const options = rest.slice(
    0,
    rest.findIndex((w) => !w.startsWith('-') && !isValueOf(rest, w)),
  );
  if (options.includes('--rm')) return undefined;
  const at = options.indexOf('--name');
  return { name: at >= 0 ? options[at + 1] : undefined, detached: verb === 'run' && options.includes('-d') };
}
function isValueOf(words: string[], w: string): boolean {
  const i = words.indexOf(w);
  return i > 0 && ['--name', '-e', '--env', '--pids-limit', '--memory'].includes(words[i - 1]!);
}

/** Commands the lessons show failing before any container exists (the browser walk's table agrees). */
const REFUSED = new Set(['docker run --name note-1 note', 'docker run life']);

describe('each lesson', () => {
  it('has at least 20 numbered lessons, numbered 1 to N without a gap', () => {
    expect(lessons.length).toBeGreaterThanOrEqual(20);
    const orders = lessons.map((l) => l.lesson!.order).sort((a, b) => a - b);
    expect(orders).toEqual(orders.map((_, i) => i + 1));
  });

  for (const lesson of lessons) {
    const lines = lesson.blocks.flatMap((b) => b.lines);
    const words = lines.map((line) => ({ line, split: splitWords(line) }));

    it(`${lesson.id}: declares free every container name it creates, and starts from seeded images`, () => {
      const names = words.flatMap(({ split }) => (split.ok ? [created(split.words)?.name ?? ''] : []));
      const absent = lesson.start.absent ?? [];
      for (const name of names.filter(Boolean)) {
        expect(absent, `${lesson.id}: --name ${name} is not in reset.absent`).toContain(name);
      }
      for (const image of lesson.start.images ?? []) {
        const dir = image.replace(/^layerlab\//, '').replace(/:.*$/, '');
        expect(existsSync(join(IMAGES, dir, 'Dockerfile')), `${lesson.id}: ${image} is not seeded`).toBe(
          true,
        );
      }
    });

    it(`${lesson.id}: removes the containers it made before it ends`, () => {
      const left = new Map<string, boolean>(); // name → running
      let unnamed = 0;
      for (const { line, split } of words) {
        if (!split.ok || REFUSED.has(line)) continue;
        const [, verb, ...rest] = split.words;
        const made = created(split.words);
        if (made?.name) left.set(made.name, made.detached);
        else if (made) unnamed++;
        if (verb === 'rm') for (const name of rest.filter((w) => !w.startsWith('-'))) left.delete(name);
        if (verb === 'container' && rest[0] === 'prune') {
          for (const [name, running] of left) if (!running) left.delete(name);
        }
      }
      expect([...left.keys()], `${lesson.id} leaves containers behind`).toEqual([]);
      expect(unnamed, `${lesson.id} leaves unnamed containers behind`).toBe(0);
    });
  }

  it('refuses a lesson that gives its images twice', () => {
    expect(lessonSchema.safeParse({ order: 1, images: ['busybox'] }).success).toBe(true);
    expect(
      lessonSchema.safeParse({ order: 1, images: ['busybox'], reset: { images: ['busybox'] } }).success,
    ).toBe(false);
    expect(lessonSchema.safeParse({ order: 1, reset: { absent: ['bad name'] } }).success).toBe(false);
  });
});

describe('the line a lesson page shows on arrival', () => {
  it('names what was prepared, as the lessons spell the images', () => {
    expect(
      prepareMessage({
        pulled: ['busybox', 'docker.io/layerlab/webapp:latest'],
        created: [],
        conflicts: [],
        removed: [],
      }),
    ).toBe('Prepared for you: busybox, layerlab/webapp.');
  });

  it('says when nothing was missing', () => {
    expect(prepareMessage({ pulled: [], created: [], conflicts: [], removed: [] })).toBe(
      'Everything this lesson starts from is already here.',
    );
  });

  it('names the containers in the way, and what was removed when asked', () => {
    expect(
      prepareMessage({
        pulled: [],
        created: ['box'],
        conflicts: [{ name: 'one', image: 'busybox', status: 'running' }],
        removed: ['two'],
      }),
    ).toBe(
      'Prepared for you: container box. Removed: two. Already here from before: one (running); this lesson creates a container of that name itself, so it has to go first.',
    );
  });
});

describe('the container limit message', () => {
  const record = (name: string, status: HeldPlace['state']['status'], external = false): HeldPlace => ({
    name,
    external,
    state: { status },
  });

  it('names what holds the places and removes them in one step', () => {
    const message = containerLimitMessage(3, [
      record('one', 'running'),
      record('first', 'exited'),
      record('fresh', 'created'),
    ]);
    expect(message).toBe(
      'container limit reached: this session may keep at most 3 containers (running: one; stopped: first, fresh). Remove the ones you are done with in one step: `docker rm -f one first fresh`, or only the stopped ones: `docker container prune -f`',
    );
  });

  it('offers no prune when every container runs, and leaves out build containers', () => {
    const message = containerLimitMessage(2, [
      record('a', 'running'),
      record('b', 'running'),
      record('builder', 'running', true),
    ]);
    expect(message).toContain('(running: a, b)');
    expect(message).toContain('`docker rm -f a b`');
    expect(message).not.toContain('prune');
    expect(message).not.toContain('builder');
  });
});
