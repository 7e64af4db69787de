// The differential corpus: each directory under cases/ is one case — a Dockerfile with its build
// context (built by each engine), or a container change (`kind: commit`: a script run in a container,
// then committed; `kind: run`: a container's output and exit status) — with case.json saying how to run it and what to check, and expect.json, what
// Docker produced when `npm run diff:record` last ran it.

import {
  chmodSync,
  cpSync,
  existsSync,
  lutimesSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

export const CASES_DIR = join(import.meta.dirname, 'cases');

/** The mtime every file of a case's context gets before a build, so `source` times can be checked. */
export const FIXTURE_MTIME = 1_704_164_645; // 2024-01-02T03:04:05Z

const timeCheck = z.enum(['source', 'build']);

export const caseSchema = z
  .object({
    /** What the case is about, one line. */
    about: z.string(),
    kind: z.enum(['build', 'commit', 'run']).default('build'),
    /** For `commit` and `run`: flags of `docker run` before the image (`--init`). */
    runFlags: z.array(z.string()).default([]),
    /**
     * For `run`: start detached, `docker stop` it, and take the exit status `docker wait` prints (the
     * container's output is then not compared).
     */
    stop: z.boolean().optional(),
    buildArgs: z.record(z.string(), z.string()).default({}),
    target: z.string().optional(),
    /** Modes (octal strings) given to context files before the build: git keeps only the x bit. */
    modes: z.record(z.string(), z.string().regex(/^[0-7]{3,4}$/)).default({}),
    /** For `commit` and `run`: the `sh -c` script run in a container of the built image (busybox without a Dockerfile). */
    script: z.string().optional(),
    /**
     * Times to check, per path in the layers above the base (`source`: the context file's mtime kept;
     * `build`: during the build), and the image's `created`. Nothing else about times is compared.
     */
    times: z
      .object({ paths: z.record(z.string(), timeCheck).default({}), created: z.literal('build').optional() })
      .optional(),
    /**
     * Docker here cannot run the case (its builder predates the feature): its expect.json was written
     * from BuildKit's documented behaviour rather than recorded, and live Docker is not asked.
     */
    dockerCannot: z.string().optional(),
    /**
     * Where Layerlab differs from Docker on purpose: what it produces instead (fields of the
     * comparison replaced), why, and the docs/COMPATIBILITY.md heading that explains it.
     */
    differs: z
      .object({
        reason: z.string(),
        compatibility: z.string(),
        /** The fields of the comparison Layerlab produces instead; null: not compared. */
        layerlab: z
          .object({
            status: z.number().int(),
            error: z.string().nullable(),
            output: z.string().nullable(),
            layers: z.array(z.array(z.string())).nullable(),
            config: z.record(z.string(), z.unknown()).nullable(),
            history: z.array(z.object({ created_by: z.string(), empty_layer: z.boolean() })).nullable(),
          })
          .partial()
          .strict(),
      })
      .optional(),
  })
  .strict();

export type CaseSpec = z.infer<typeof caseSchema>;

/** What is compared between the engines (and recorded in expect.json). */
export interface Comparable {
  /** Exit status of the build (or of the commit's container run). */
  status: number;
  /** The last line of the error output, for a failing case. */
  error?: string;
  /** For `run`: what the container printed on stdout. */
  output?: string;
  layers?: string[][];
  config?: Record<string, unknown>;
  history?: { created_by: string; empty_layer: boolean }[];
}

export interface Recorded extends Comparable {
  /** The Docker version it was recorded from, or `by hand` (see `dockerCannot`). */
  docker: string;
}

export interface DiffCase {
  name: string;
  dir: string;
  spec: CaseSpec;
  expected: Recorded | undefined;
}

const FILES_NOT_IN_CONTEXT = new Set(['case.json', 'expect.json']);

export function loadCases(): DiffCase[] {
  return readdirSync(CASES_DIR)
    .sort()
    .map((name) => {
      const dir = join(CASES_DIR, name);
      const spec = caseSchema.parse(JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')));
      const expectFile = join(dir, 'expect.json');
      const expected = existsSync(expectFile)
        ? (JSON.parse(readFileSync(expectFile, 'utf8')) as Recorded)
        : undefined;
      return { name, dir, spec, expected };
    });
}

/**
 * A fresh copy of the case's context (everything but case.json and expect.json), with its modes set
 * and every entry's mtime at FIXTURE_MTIME. The caller removes it.
 */
export function prepareContext(c: DiffCase): string {
  const dir = mkdtempSync(join(tmpdir(), `layerlab-diff-${c.name}-`));
  for (const entry of readdirSync(c.dir)) {
    if (FILES_NOT_IN_CONTEXT.has(entry)) continue;
    cpSync(join(c.dir, entry), join(dir, entry), { recursive: true, verbatimSymlinks: true });
  }
  for (const [path, mode] of Object.entries(c.spec.modes))
    chmodSync(join(dir, path), Number.parseInt(mode, 8));
  const stamp = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) stamp(full);
      lutimesSync(full, FIXTURE_MTIME, FIXTURE_MTIME);
    }
  };
  stamp(dir);
  lutimesSync(dir, FIXTURE_MTIME, FIXTURE_MTIME);
  return dir;
}

export function removeContext(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
