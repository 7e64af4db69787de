// The classroom's pure parts: the SQLite store round trip (and what it refuses to read back), the
// step grid and the needs-help rules, the CSV export's quoting, a failed command's error text, and
// the course catalog's titles and hints read from the lessons.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { classroomView } from '../../server/workshop/classroom.ts';
import { csvCell, progressCsv } from '../../server/workshop/export.ts';
import { courseLessons, lessonCatalog } from '../../server/workshop/lesson-catalog.ts';
import { errorText } from '../../server/workshop/presence.ts';
import { SqliteWorkshopStore } from '../../server/workshop/sqlite-store.ts';
import { needsHelp, stepStatuses } from '../../server/workshop/stuck.ts';
import { WorkshopRegistry } from '../../server/workshop/workshop.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'layerlab-workshop-'));
  dirs.push(dir);
  return join(dir, 'workshop.db');
}

describe('the SQLite workshop store', () => {
  it('gives back the workshop, its students and their progress, with every session away', async () => {
    const path = tempDb();
    const store = new SqliteWorkshopStore(path);
    const registry = new WorkshopRegistry({ store });
    const w = await registry.create({ name: 'Kept', seats: 4, teacherPassword: 'teacher-pass' });
    const ana = w.reserveSeat().commit('s1', 'Ana');
    w.reserveSeat().commit('s2', 'Bo');
    w.recordProgress('s1', { lesson: 'L1', check: 'c1', pass: false, hint: 'try harder' });
    w.recordProgress('s1', { lesson: 'L1', check: 'c1', pass: true });
    const at = w.noteCommand('s1', 'docker rm x', 1);
    w.noteCommandError('s1', at!, 'Error response from daemon: No such container: x');
    w.addSeats(2);
    store.close();

    const again = new WorkshopRegistry({ store: new SqliteWorkshopStore(path) });
    const kept = again.byCode(w.code)!;
    expect(kept.id).toBe(w.id);
    expect(kept.seats).toBe(6);
    expect(await kept.checkTeacherPassword('teacher-pass')).toBe(true);
    const state = kept.state();
    expect(state.students.map((s) => s.name)).toEqual(['Ana', 'Bo']);
    const [a] = state.students;
    expect(a).toMatchObject({ id: ana.id, session: '', left: expect.any(String) });
    expect(a?.checks).toEqual([
      expect.objectContaining({
        check: 'c1',
        pass: true,
        attempts: 2,
        failures: 1,
        failuresInARow: 0,
        hint: 'try harder',
      }),
    ]);
    expect(a?.lastCommand).toMatchObject({ command: 'docker rm x', exitCode: 1, error: /No such container/ });
    expect(kept.seatsTaken).toBe(0);
    expect(kept.rejoinCandidate('ana')?.id).toBe(ana.id);
    again.close();
  });

  it('skips a record that does not parse instead of trusting its shape', async () => {
    const path = tempDb();
    const registry = new WorkshopRegistry({ store: new SqliteWorkshopStore(path) });
    const w = await registry.create({ name: 'Tampered', seats: 2, teacherPassword: 'teacher-pass' });
    w.reserveSeat().commit('s1', 'Ana');
    registry.close();
    const db = new DatabaseSync(path);
    db.prepare('UPDATE students SET record = \'{"id":"x","name":42}\'').run();
    db.close();
    const logs: string[] = [];
    const again = new WorkshopRegistry({
      store: new SqliteWorkshopStore(path, { log: (m) => logs.push(m) }),
    });
    expect(again.byCode(w.code)?.students.size).toBe(0);
    expect(logs).toEqual([expect.stringMatching(/: student [0-9a-f-]+: name: .*; skipped$/)]);
    again.close();
  });
});

describe('the grid and who needs help', () => {
  const lessons = [
    {
      id: 'L1',
      title: 'One',
      checks: [
        { id: 'a', title: 'Do A' },
        { id: 'b', title: 'Do B' },
      ],
    },
    { id: 'L2', title: 'Two', checks: [{ id: 'c', title: 'Do C' }] },
  ];
  async function student() {
    const w = await new WorkshopRegistry().create({ name: 'G', seats: 2, teacherPassword: 'teacher-pass' });
    w.reserveSeat().commit('s1', 'Ana');
    return w;
  }

  it('marks each step not started, in progress, failed or passed', async () => {
    const w = await student();
    w.recordProgress('s1', { lesson: 'L1' });
    w.recordProgress('s1', { lesson: 'L1', check: 'a', pass: true });
    w.recordProgress('s1', { lesson: 'L1', check: 'b', pass: false });
    const s = w.state().students[0]!;
    expect(stepStatuses(s, lessons)).toEqual({ 'L1/a': 'passed', 'L1/b': 'failed', 'L2/c': 'not-started' });
  });

  it('flags three failures in a row and idling on an unfinished lesson, not a finished one', async () => {
    const w = await student();
    for (let i = 0; i < 3; i++) w.recordProgress('s1', { lesson: 'L1', check: 'b', pass: false });
    const s = w.state().students[0]!;
    const now = Date.parse(s.lastActive);
    const thresholds = { idleMs: 60_000, failuresInARow: 3 };
    expect(needsHelp(s, lessons, now, thresholds)).toEqual(['“Do B” failed 3 times in a row']);
    expect(needsHelp(s, lessons, now + 120_000, thresholds)).toEqual([
      '“Do B” failed 3 times in a row',
      'idle for 2 min on “One” with steps left',
    ]);
    w.recordProgress('s1', { lesson: 'L2', check: 'c', pass: true });
    const done = w.state().students[0]!;
    expect(needsHelp(done, lessons, Date.parse(done.lastActive) + 120_000, thresholds)).toEqual([
      '“Do B” failed 3 times in a row',
    ]);
    w.studentLeft('s1');
    expect(needsHelp(w.state().students[0]!, lessons, now, thresholds)).toEqual([]);
  });
});

describe('the export', () => {
  it('quotes CSV cells and keeps formulas as text', () => {
    expect(csvCell('Ana')).toBe('Ana');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('=1+1')).toBe(`"'=1+1"`);
    expect(csvCell('@SUM(A1)')).toBe(`"'@SUM(A1)"`);
  });

  it('writes one row per student and step', async () => {
    const w = await new WorkshopRegistry().create({ name: 'E', seats: 2, teacherPassword: 'teacher-pass' });
    w.reserveSeat().commit('s1', 'Ana');
    const csv = progressCsv(w.state(), [{ id: 'L1', title: 'One', checks: [{ id: 'a', title: 'Do A' }] }]);
    const lines = csv.split('\r\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^Ana,.*,L1,One,a,Do A,not-started,0,0,/);
  });
});

describe("a failed command's error text", () => {
  it('is what the command printed after its echo, without escapes or the next prompt', () => {
    const output =
      '\u001b[1;32mreader@layerlab\u001b[0m:~$ docker rm gone\u001b[J\r\nError response from daemon: No such container: gone\r\n\u001b[1;32mreader@layerlab\u001b[0m:~$ ';
    expect(errorText(output, 'docker rm gone')).toBe('Error response from daemon: No such container: gone');
  });

  it('reads a serialised screen, whose line breaks are cursor moves', () => {
    const screen =
      '\u001b[32;1mreader@layerlab\u001b[0m:~$ docker rm gone\u001b[1B\u001b[40DError response from daemon: No such container: gone\r\n\r\u001b[1;32mreader@layerlab\u001b[0m:~$ \u001b[J';
    expect(errorText(screen, 'docker rm gone')).toBe('Error response from daemon: No such container: gone');
    expect(errorText('reader@layerlab:~$ true\r\n', 'true')).toBeUndefined();
  });
});

describe('the course catalog', () => {
  it("names lessons and steps as the lessons' pages do, in course order", () => {
    const catalog = lessonCatalog();
    expect(catalog[0]?.id).toBe('start-here');
    const first = catalog.find((l) => l.id === '01-image-vs-container');
    expect(first?.title).toBe('Image and container');
    expect(first?.checks[0]).toMatchObject({
      id: 'two-containers',
      title: 'Make two containers from the same busybox image.',
      hint: expect.stringMatching(/^Run the two docker run commands/),
    });
    expect(catalog.some((l) => l.id === 'sandbox')).toBe(false);
  });
});

describe("the room's state", () => {
  it('keeps the banners, the pause, hands, a reset notice and dismissals across a restart', async () => {
    const path = tempDb();
    const store = new SqliteWorkshopStore(path);
    const registry = new WorkshopRegistry({ store });
    const w = await registry.create({ name: 'Room', seats: 4, teacherPassword: 'teacher-pass' });
    const ana = w.reserveSeat().commit('s1', 'Ana');
    const bo = w.reserveSeat().commit('s2', 'Bo');
    // Control characters go; a line break stays.
    const message = w.setBroadcast('  Look\u001b[2J up\nplease  ');
    expect(message?.text).toBe('Look[2J up\nplease');
    const call = w.callTo('04-writable-layer');
    expect(w.setPaused(true)).toBe(true);
    expect(w.setPaused(true)).toBe(false);
    w.setHand(bo.id, true);
    w.noteReset(ana.id, {
      scope: 'student',
      lesson: '04-writable-layer',
      removedContainers: ['one (busybox)'],
      removedImages: [],
    });
    w.dismiss(ana.id, message!.id);
    // An id that names nothing shown is not kept.
    w.dismiss(ana.id, 'not-a-banner');
    store.close();

    const again = new WorkshopRegistry({ store: new SqliteWorkshopStore(path) });
    const kept = again.byCode(w.code)!;
    expect(kept.broadcast).toEqual(message);
    expect(kept.call).toEqual(call);
    expect(kept.paused).toBeDefined();
    const keptAna = kept.students.get(ana.id)!;
    expect(keptAna.dismissed).toEqual([message!.id]);
    expect(keptAna.resetNotice).toMatchObject({ scope: 'student', removedContainers: ['one (busybox)'] });
    expect(kept.students.get(bo.id)?.hand).toBeDefined();
    const viewOf = (id: string) => classroomView(kept, kept.students.get(id)!);
    expect(viewOf(ana.id).broadcast).toBeUndefined();
    expect(viewOf(bo.id)).toMatchObject({ paused: true, broadcast: { text: 'Look[2J up\nplease' } });
    expect(viewOf(bo.id).call).toMatchObject({ order: 4, href: '/04-writable-layer/' });
    kept.dismiss(ana.id, keptAna.resetNotice!.id);
    expect(viewOf(ana.id).reset).toBeUndefined();
    // An ended workshop is not paused for anyone.
    kept.end();
    expect(viewOf(bo.id).paused).toBe(false);
    again.close();
  });

  it("reads every numbered lesson's starting state from its frontmatter", () => {
    const course = courseLessons();
    expect(course.map((l) => l.order)).toEqual([...course.map((l) => l.order)].sort((a, b) => a - b));
    expect(course.find((l) => l.id === '04-writable-layer')).toEqual({
      id: '04-writable-layer',
      order: 4,
      title: "The container's writable layer",
      start: { images: ['busybox'], absent: ['one', 'two'] },
    });
    // The short form: `lesson.images` is a start of images only.
    expect(course.find((l) => l.id === '03-layers')?.start).toEqual({
      images: ['busybox', 'layerlab/webapp', 'layerlab/motd'],
    });
  });
});
