// The differential suite (issue 12): every case under test/differential/cases/ is built (or run and
// committed) by Layerlab and compared — layers' files with modes, owners and links, config, history,
// layer count, error line and status — with what Docker produced: with a live Docker when dockerd is
// installed here (a private daemon, busybox loaded into it from Layerlab's own `save`), and always with
// the case's recorded expect.json. Times are checked only where a case asks (case.json `times`).

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Comparable, type DiffCase, FIXTURE_MTIME, loadCases } from '../differential/cases.ts';
import {
  type Base,
  baseOf,
  dockerEngine,
  type Engine,
  layerlabEngine,
  type Outcome,
  runCase,
  timeFailures,
} from '../differential/engines.ts';
import { freshContext, type TestContext } from '../support/context.ts';
import { type Dockerd, dockerInstalled, startDockerd } from '../support/dockerd.ts';

const cases = loadCases();
const installed = dockerInstalled();
const COMPATIBILITY = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'COMPATIBILITY.md'), 'utf8');

let t: TestContext;
let layerlab: Engine;
let layerlabBase: Base;
let dockerd: Dockerd | undefined;
let docker: Engine | undefined;
let dockerBase: Base | undefined;
let dockerDir: string | undefined;

/**
 * At most this many cases run at once per engine (2 cores). The engines' queues overlap; Docker's
 * builds mostly wait on its daemon (BuildKit's solve, `save`), so it gets more of them.
 */
const PARALLEL: Record<Engine['name'], number> = { layerlab: 2, docker: 4 };
const queues = new Map<Engine['name'], { running: number; waiting: (() => void)[] }>();
async function limited<T>(engine: Engine, work: () => Promise<T>): Promise<T> {
  let queue = queues.get(engine.name);
  if (!queue) {
    queue = { running: 0, waiting: [] };
    queues.set(engine.name, queue);
  }
  if (queue.running >= PARALLEL[engine.name])
    await new Promise<void>((resolve) => queue.waiting.push(resolve));
  queue.running++;
  try {
    return await work();
  } finally {
    queue.running--;
    queue.waiting.shift()?.();
  }
}

// Each engine's outcome per case, run once and shared by the tests that look at it (one build per
// case and engine, whichever aspect asks first).
const outcomes = new Map<string, Promise<Outcome>>();
function outcome(engine: Engine, c: DiffCase, base: Base): Promise<Outcome> {
  const key = `${engine.name}:${c.name}`;
  let found = outcomes.get(key);
  if (!found) {
    found = limited(engine, () => runCase(engine, c, base));
    outcomes.set(key, found);
  }
  return found;
}

/**
 * Queues every case on both engines at once, so the builds do not wait for the test runner to reach
 * a case (it runs a few tests at a time); a failure is reported by the tests that await it.
 */
function startAll(): void {
  for (const c of cases) {
    void outcome(layerlab, c, layerlabBase).catch(() => {});
    if (docker && dockerBase && c.spec.dockerCannot === undefined)
      void outcome(docker, c, dockerBase).catch(() => {});
  }
}

/** The aspects compared, each its own test, so one difference does not hide the others. */
const ASPECTS = ['status', 'output', 'layers', 'config', 'history'] as const;
type Aspect = (typeof ASPECTS)[number];

function aspectOf(c: Partial<Comparable>, aspect: Aspect): unknown {
  if (aspect === 'status') return { status: c.status, error: c.error };
  return c[aspect];
}

function withoutRecordInfo(recorded: Comparable & { docker?: string }): Comparable {
  const { docker: _, ...rest } = recorded;
  return rest;
}

/**
 * What Layerlab should produce: Docker's result with what the case says differs on purpose put in
 * its place (a field given as null is not compared).
 */
function wanted(c: DiffCase, docker: Comparable): Partial<Comparable> {
  const merged: Partial<Comparable> = { ...docker };
  for (const [key, value] of Object.entries(c.spec.differs?.layerlab ?? {})) {
    const field = key as keyof Comparable;
    if (value === null) delete merged[field];
    else Object.assign(merged, { [field]: value });
  }
  return merged;
}

/** The aspects an expectation speaks of (a hand-written one may leave history out; a failure has no layers). */
function aspectsIn(expected: Partial<Comparable>): Aspect[] {
  return ASPECTS.filter((a) => a === 'status' || a in expected);
}

beforeAll(async () => {
  t = freshContext();
  layerlab = layerlabEngine(t.ctx);
  const pulled = await layerlab.run(['pull', 'busybox']);
  if (pulled.status !== 0) throw new Error(`layerlab pull busybox: ${pulled.stderr}`);
  layerlabBase = await baseOf(layerlab);
  if ('missing' in installed) {
    startAll();
    return;
  }
  dockerDir = mkdtempSync(join(tmpdir(), 'layerlab-diff-docker-'));
  dockerd = await startDockerd(dockerDir);
  const archive = join(dockerDir, 'busybox.tar');
  const saved = await layerlab.run(['save', '-o', archive, 'busybox']);
  if (saved.status !== 0) throw new Error(`layerlab save busybox: ${saved.stderr}`);
  const loaded = await dockerd.docker(['load', '-i', archive]);
  if (loaded.status !== 0) throw new Error(`docker load: ${loaded.stderr}`);
  docker = dockerEngine(dockerd);
  dockerBase = await baseOf(docker);
  startAll();
}, 600_000);

afterAll(async () => {
  await dockerd?.stop();
  if (dockerDir) rmSync(dockerDir, { recursive: true, force: true });
  t?.cleanup();
});

describe('the corpus', () => {
  it('has about thirty cases, each with a recorded expectation', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
    expect(cases.filter((c) => !c.expected).map((c) => c.name)).toEqual([]);
  });

  it('explains every deliberate difference in docs/COMPATIBILITY.md', () => {
    for (const c of cases) {
      if (c.spec.differs) expect(COMPATIBILITY, c.name).toContain(c.spec.differs.compatibility);
    }
  });
});

describe.concurrent('Layerlab against the recorded Docker results (expect.json)', () => {
  for (const c of cases) {
    if (!c.expected) continue; // the corpus test above fails for it
    const expected = wanted(c, withoutRecordInfo(c.expected));
    for (const aspect of aspectsIn(expected)) {
      it(`${c.name} › ${aspect}`, { timeout: 900_000 }, async () => {
        const got = await outcome(layerlab, c, layerlabBase);
        expect(aspectOf(got.comparable, aspect), `${c.spec.about}\n${got.log}`).toEqual(
          aspectOf(expected, aspect),
        );
      });
    }
    if (c.spec.times) {
      it(`${c.name} › times`, { timeout: 900_000 }, async () => {
        const got = await outcome(layerlab, c, layerlabBase);
        expect(timeFailures(c, got, FIXTURE_MTIME), got.log).toEqual([]);
      });
    }
  }
});

const dockerTitle = 'missing' in installed ? installed.missing : 'a private dockerd';
describe.concurrent(`Layerlab against a live Docker (${dockerTitle})`, () => {
  for (const c of cases) {
    // Only what this Docker cannot run at all is left out, with the reason in the test's name.
    const skip = 'missing' in installed || c.spec.dockerCannot !== undefined;
    const why = c.spec.dockerCannot ? ` (Docker here cannot: ${c.spec.dockerCannot})` : '';
    it.skipIf(skip)(
      `${c.name} › Docker still does what expect.json says${why}`,
      { timeout: 900_000 },
      async () => {
        const theirs = await outcome(docker!, c, dockerBase!);
        expect(timeFailures(c, theirs, FIXTURE_MTIME), theirs.log).toEqual([]);
        if (c.expected?.docker === dockerd!.version) {
          expect(
            theirs.comparable,
            `expect.json of ${c.name} is out of date: npm run diff:record ${c.name}`,
          ).toEqual(withoutRecordInfo(c.expected));
        }
      },
    );
    for (const aspect of ASPECTS) {
      it.skipIf(skip)(`${c.name} › ${aspect}${why}`, { timeout: 900_000 }, async () => {
        const [ours, theirs] = await Promise.all([
          outcome(layerlab, c, layerlabBase),
          outcome(docker!, c, dockerBase!),
        ]);
        const expected = wanted(c, theirs.comparable);
        if (!aspectsIn(expected).includes(aspect)) return; // e.g. no layers of a build that fails in both
        expect(
          aspectOf(ours.comparable, aspect),
          `${c.spec.about}\n${ours.log}\n--- docker\n${theirs.log}`,
        ).toEqual(aspectOf(expected, aspect));
      });
    }
  }
});
