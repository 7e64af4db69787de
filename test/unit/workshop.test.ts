// The classroom model without a server: join codes, display names, seats, progress, passwords and
// the admission decision.
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPACITY, decideAdmission } from '../../server/workshop/admission.ts';
import { uniqueDisplayName, validateDisplayName } from '../../server/workshop/display-name.ts';
import { generateJoinCode, JOIN_CODE_ALPHABET, normalizeJoinCode } from '../../server/workshop/join-code.ts';
import { generatePassword, hashPassword, verifyPassword } from '../../server/workshop/password.ts';
import { TeacherAuth } from '../../server/workshop/teacher-auth.ts';
import { recordProgress, WorkshopError, WorkshopRegistry } from '../../server/workshop/workshop.ts';

describe('join codes', () => {
  it('are six characters without 0, O, 1 or I', () => {
    for (let i = 0; i < 500; i++) {
      const code = generateJoinCode();
      expect(code).toMatch(/^[A-Z2-9]{6}$/);
      expect(code).not.toMatch(/[0O1I]/);
    }
    expect(JOIN_CODE_ALPHABET).toHaveLength(32);
  });

  it('avoid codes already taken', () => {
    const seen = new Set<string>();
    const code = generateJoinCode((c) => {
      if (seen.size < 3) {
        seen.add(c);
        return true;
      }
      return false;
    });
    expect(seen.has(code)).toBe(false);
  });

  it('forgive case, spaces and dashes but refuse what is not a code', () => {
    expect(normalizeJoinCode('ab3-d7k')).toBe('AB3D7K');
    expect(normalizeJoinCode(' AB3 D7K ')).toBe('AB3D7K');
    expect(normalizeJoinCode('AB3D7')).toBeUndefined();
    expect(normalizeJoinCode('AB0D7K')).toBeUndefined();
    expect(normalizeJoinCode('../etc')).toBeUndefined();
  });
});

describe('display names', () => {
  it('accept 1–40 printable characters and tidy blanks', () => {
    expect(validateDisplayName('  Ana   María ')).toEqual({ ok: true, name: 'Ana María' });
    expect(validateDisplayName('x'.repeat(40))).toEqual({ ok: true, name: 'x'.repeat(40) });
    expect(validateDisplayName('李小龍')).toEqual({ ok: true, name: '李小龍' });
  });

  it('refuse empty, too long, control and bidi-override names', () => {
    expect(validateDisplayName('').ok).toBe(false);
    expect(validateDisplayName('   ').ok).toBe(false);
    expect(validateDisplayName('x'.repeat(41)).ok).toBe(false);
    expect(validateDisplayName('a\u0000b').ok).toBe(false);
    expect(validateDisplayName('evil\u202Eeman').ok).toBe(false);
    expect(validateDisplayName('zero\u200Bwidth').ok).toBe(false);
    expect(validateDisplayName(42).ok).toBe(false);
  });

  it('get a numeric suffix when taken, case-insensitively, staying within 40', () => {
    const taken = new Set(['ana', 'ana (2)']);
    expect(uniqueDisplayName('Ana', (k) => taken.has(k))).toBe('Ana (3)');
    expect(uniqueDisplayName('Bob', (k) => taken.has(k))).toBe('Bob');
    const long = 'y'.repeat(40);
    const got = uniqueDisplayName(long, (k) => k === long);
    expect(got).toBe(`${'y'.repeat(36)} (2)`);
    expect([...got].length).toBeLessThanOrEqual(40);
  });
});

describe('passwords', () => {
  it('verify the right one and refuse wrong, empty and non-string ones', async () => {
    const stored = await hashPassword('correct horse');
    expect(await verifyPassword('correct horse', stored)).toBe(true);
    expect(await verifyPassword('correct hors', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
    expect(await verifyPassword(undefined, stored)).toBe(false);
    const empty = await hashPassword('');
    expect(await verifyPassword('', empty)).toBe(false);
  });

  it('are salted', async () => {
    const a = await hashPassword('same');
    const b = await hashPassword('same');
    expect(a.hash.equals(b.hash)).toBe(false);
  });

  it('are generated long and readable', () => {
    expect(generatePassword()).toMatch(/^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
  });
});

describe('workshop', () => {
  async function workshop(seats = 3) {
    const registry = new WorkshopRegistry();
    const w = await registry.create({ name: ' Intro  to images ', seats, teacherPassword: 'teacher-pass' });
    return { registry, w };
  }

  it('is found by its code, by id and by a student session', async () => {
    const { registry, w } = await workshop();
    expect(w.name).toBe('Intro to images');
    expect(registry.byCode(w.code.toLowerCase())).toBe(w);
    expect(registry.byId(w.id)).toBe(w);
    w.reserveSeat().commit('s1', 'Ana');
    expect(registry.bySession('s1')).toBe(w);
    expect(registry.bySession('s2')).toBeUndefined();
  });

  it('refuses bad names, seats and short passwords at creation', async () => {
    const registry = new WorkshopRegistry();
    await expect(registry.create({ name: '', seats: 2, teacherPassword: 'longenough' })).rejects.toThrow(
      WorkshopError,
    );
    await expect(registry.create({ name: 'x', seats: 0, teacherPassword: 'longenough' })).rejects.toThrow(
      /Seats/,
    );
    await expect(registry.create({ name: 'x', seats: 2, teacherPassword: 'short' })).rejects.toThrow(/8/);
  });

  it('de-duplicates names and never overbooks seats, even with joins under way', async () => {
    const { w } = await workshop(2);
    const a = w.reserveSeat();
    const b = w.reserveSeat();
    expect(() => w.reserveSeat()).toThrow(/full/);
    const ana = a.commit('s1', 'Ana');
    expect(ana.name).toBe('Ana');
    expect(b.commit('s2', 'ana').name).toBe('ana (2)');
    expect(() => w.reserveSeat()).toThrow(/full/);
    w.removeStudent(ana.id);
    const c = w.reserveSeat();
    c.release();
    c.release();
    expect(w.seatsTaken).toBe(1);
  });

  it('refuses an invalid name at commit', async () => {
    const { w } = await workshop();
    const seat = w.reserveSeat();
    expect(() => seat.commit('s1', '\u0007')).toThrow(/printable/);
    expect(w.seatsTaken).toBe(0);
  });

  it('records lesson visits and keeps a passed check passed', async () => {
    const { w } = await workshop();
    w.reserveSeat().commit('s1', 'Ana');
    const before = w.revision;
    expect(recordProgress(w, 's1', { lesson: 'layers' })).toBe(true);
    expect(recordProgress(w, 's1', { lesson: 'layers', check: 'hello', pass: false })).toBe(true);
    expect(recordProgress(w, 's1', { lesson: 'layers', check: 'hello', pass: true })).toBe(true);
    expect(recordProgress(w, 's1', { lesson: 'layers', check: 'hello', pass: false })).toBe(true);
    expect(recordProgress(w, 'nobody', { lesson: 'layers' })).toBe(false);
    expect(w.revision).toBeGreaterThan(before);
    const [student] = w.state().students;
    expect(student?.lessons.map((l) => l.lesson)).toEqual(['layers']);
    expect(student?.checks).toEqual([
      expect.objectContaining({ lesson: 'layers', check: 'hello', pass: true, attempts: 3 }),
    ]);
  });

  it('checks the teacher password', async () => {
    const { w } = await workshop();
    expect(await w.checkTeacherPassword('teacher-pass')).toBe(true);
    expect(await w.checkTeacherPassword('Teacher-pass')).toBe(false);
  });

  it('refuses joins and progress once ended', async () => {
    const { w } = await workshop();
    w.reserveSeat().commit('s1', 'Ana');
    w.end();
    expect(w.active).toBe(false);
    expect(() => w.reserveSeat()).toThrow(/ended/);
    expect(recordProgress(w, 's1', { lesson: 'x' })).toBe(false);
    expect(w.state().ended).toBeDefined();
  });
});

describe('admission', () => {
  const idle = { sessions: 0, runningContainers: 0, freeMemoryBytes: 8 * 2 ** 30 };
  const open = { active: true, seats: 2, seatsTaken: 0 };

  it('admits while seats and the machine have room', () => {
    expect(decideAdmission(open, DEFAULT_CAPACITY, idle)).toEqual({ ok: true });
  });

  it('refuses a full workshop, an ended one, and a full machine, with a retry hint', () => {
    const seats = decideAdmission({ ...open, seatsTaken: 2 }, DEFAULT_CAPACITY, idle);
    expect(seats).toMatchObject({ ok: false, reason: 'seats', retryAfterSeconds: 60 });
    expect(decideAdmission({ ...open, active: false }, DEFAULT_CAPACITY, idle)).toMatchObject({
      ok: false,
      reason: 'ended',
    });
    const limits = { maxSessions: 5, maxRunningContainers: 5, minFreeMemoryBytes: 2 ** 30 };
    expect(decideAdmission(open, limits, { ...idle, sessions: 5 })).toMatchObject({ reason: 'sessions' });
    expect(decideAdmission(open, limits, { ...idle, runningContainers: 9 })).toMatchObject({
      reason: 'containers',
    });
    const memory = decideAdmission(open, limits, { ...idle, freeMemoryBytes: 2 ** 20 });
    expect(memory).toMatchObject({ reason: 'memory', retryAfterSeconds: 30 });
    if (!memory.ok) expect(memory.message).toMatch(/full/);
  });
});

describe('teacher sign-in', () => {
  const request = (cookie?: string) => ({ headers: cookie ? { cookie } : {} }) as IncomingMessage;

  it('grants an HttpOnly SameSite=Strict cookie that maps back to the workshop until it expires', () => {
    let now = 1_000_000;
    const auth = new TeacherAuth({ now: () => now });
    const token = auth.grant('w1');
    const cookie = auth.cookie(token, false);
    expect(cookie).toMatch(/^layerlab_teacher=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict/);
    const header = cookie.split(';')[0]!;
    expect(auth.workshopOf(request(header))).toBe('w1');
    expect(auth.workshopOf(request(`${header}x`))).toBeUndefined();
    expect(auth.workshopOf(request())).toBeUndefined();
    now += 13 * 60 * 60 * 1000;
    expect(auth.workshopOf(request(header))).toBeUndefined();
  });

  it('revokes by workshop', () => {
    const auth = new TeacherAuth();
    const header = auth.cookie(auth.grant('w1'), false).split(';')[0]!;
    auth.revokeWorkshop('w1');
    expect(auth.workshopOf(request(header))).toBeUndefined();
  });

  it('limits wrong passwords per address per window', async () => {
    let now = 0;
    const auth = new TeacherAuth({ now: () => now, maxTries: 3, windowMs: 1000 });
    const wrong = async () => false;
    for (let i = 0; i < 3; i++) expect(await auth.tryPassword('10.0.0.1', wrong)).toBe('wrong');
    expect(await auth.tryPassword('10.0.0.1', wrong)).toBe('limited');
    expect(await auth.tryPassword('10.0.0.2', wrong)).toBe('wrong');
    now += 1001;
    expect(await auth.tryPassword('10.0.0.1', wrong)).toBe('wrong');
  });

  it('counts a try before its check runs, so concurrent guesses cannot pass the limit', async () => {
    const auth = new TeacherAuth({ maxTries: 3 });
    let checked = 0;
    const slow = async () => {
      checked++;
      await new Promise((r) => setTimeout(r, 20));
      return false;
    };
    const results = await Promise.all(Array.from({ length: 20 }, () => auth.tryPassword('10.0.0.1', slow)));
    expect(checked).toBe(3);
    expect(results.filter((r) => r === 'limited')).toHaveLength(17);
  });
});
