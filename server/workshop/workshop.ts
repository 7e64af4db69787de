// The classroom model: a workshop (name, join code, seats, teacher password), its students — each
// bound to one server session — and their progress through lessons and checks. Pure state; the
// routes in routes.ts and the server's session manager act on it.

import { randomUUID } from 'node:crypto';
import { displayNameKey, uniqueDisplayName, validateDisplayName } from './display-name.ts';
import { generateJoinCode, normalizeJoinCode } from './join-code.ts';
import { hashPassword, type PasswordHash, verifyPassword } from './password.ts';

export class WorkshopError extends Error {
  readonly code: 'ended' | 'full' | 'invalid_name' | 'not_found' | 'invalid';
  constructor(code: WorkshopError['code'], message: string) {
    super(message);
    this.name = 'WorkshopError';
    this.code = code;
  }
}

export interface CheckProgress {
  lesson: string;
  check: string;
  /** First time the check passed (ISO), if it has. */
  passedAt?: string;
  attempts: number;
}

export interface Student {
  sessionId: string;
  name: string;
  joinedAt: string;
  /** Lesson id → first and last visit (ISO). */
  lessons: Map<string, { firstVisit: string; lastVisit: string }>;
  /** `lesson/check` → progress. */
  checks: Map<string, CheckProgress>;
  /** Reset by the teacher this many times (shown so a teacher sees it took). */
  resets: number;
  lastActive: string;
  /** The shell command the student ran last, and its exit code (from `terminal.command` events). */
  lastCommand?: { command: string; exitCode: number; at: string };
  /** Set when the student's session ended (idle reaping, the workshop ending); frees the seat. */
  left?: string;
}

export interface WorkshopOptions {
  name: string;
  seats: number;
  /** The teacher's password in clear; only its scrypt hash is kept. */
  teacherPassword: string;
  now?: () => Date;
}

/** One progress report: a lesson visit, or a check result in a lesson. */
export interface ProgressReport {
  lesson: string;
  check?: string;
  pass?: boolean;
}

export class Workshop {
  readonly id: string;
  readonly name: string;
  readonly code: string;
  readonly seats: number;
  readonly created: string;
  ended: string | undefined;
  readonly students = new Map<string, Student>();
  /** Bumped on every change, so a dashboard can tell when nothing moved. */
  revision = 0;
  #password: PasswordHash;
  #pending = 0;
  #now: () => Date;
  #listeners = new Set<() => void>();

  constructor(init: { name: string; code: string; seats: number; password: PasswordHash; now?: () => Date }) {
    this.id = randomUUID();
    this.name = init.name;
    this.code = init.code;
    this.seats = init.seats;
    this.#password = init.password;
    this.#now = init.now ?? (() => new Date());
    this.created = this.#now().toISOString();
  }

  get active(): boolean {
    return this.ended === undefined;
  }

  /** Seats held by students plus joins under way. */
  get seatsTaken(): number {
    let present = 0;
    for (const s of this.students.values()) if (s.left === undefined) present++;
    return present + this.#pending;
  }

  checkTeacherPassword(password: unknown): Promise<boolean> {
    return verifyPassword(password, this.#password);
  }

  /**
   * Holds a seat while the student's session is created (which takes a moment), so concurrent
   * joins cannot overbook. Call `commit` with the new session or `release` on failure.
   */
  reserveSeat(): SeatReservation {
    if (!this.active) throw new WorkshopError('ended', 'This workshop has ended.');
    if (this.seatsTaken >= this.seats) throw new WorkshopError('full', 'This workshop is full.');
    this.#pending++;
    let open = true;
    const close = () => {
      if (!open) return false;
      open = false;
      this.#pending--;
      return true;
    };
    return {
      commit: (sessionId, requestedName) => {
        if (!close()) throw new WorkshopError('invalid', 'seat reservation already used');
        return this.#addStudent(sessionId, requestedName);
      },
      release: () => {
        close();
      },
    };
  }

  #addStudent(sessionId: string, requestedName: string): Student {
    if (!this.active) throw new WorkshopError('ended', 'This workshop has ended.');
    const valid = validateDisplayName(requestedName);
    if (!valid.ok) throw new WorkshopError('invalid_name', valid.reason);
    const keys = new Set([...this.students.values()].map((s) => displayNameKey(s.name)));
    const now = this.#now().toISOString();
    const student: Student = {
      sessionId,
      name: uniqueDisplayName(valid.name, (key) => keys.has(key)),
      joinedAt: now,
      lessons: new Map(),
      checks: new Map(),
      resets: 0,
      lastActive: now,
    };
    this.students.set(sessionId, student);
    this.#changed();
    return student;
  }

  /** The name a join would get now (for the form's echo); does not reserve it. */
  previewName(requestedName: string): string | undefined {
    const valid = validateDisplayName(requestedName);
    if (!valid.ok) return undefined;
    const keys = new Set([...this.students.values()].map((s) => displayNameKey(s.name)));
    return uniqueDisplayName(valid.name, (key) => keys.has(key));
  }

  removeStudent(sessionId: string): void {
    if (this.students.delete(sessionId)) this.#changed();
  }

  /** The student's session is gone: the seat frees, the progress stays on the dashboard. */
  studentLeft(sessionId: string): void {
    const student = this.students.get(sessionId);
    if (!student || student.left !== undefined) return;
    student.left = this.#now().toISOString();
    this.#changed();
  }

  noteCommand(sessionId: string, command: string, exitCode: number): void {
    const student = this.students.get(sessionId);
    if (!student || !this.active) return;
    const at = this.#now().toISOString();
    student.lastCommand = { command: command.slice(0, 200), exitCode, at };
    student.lastActive = at;
    this.#changed();
  }

  recordProgress(sessionId: string, report: ProgressReport): boolean {
    const student = this.students.get(sessionId);
    if (!student || !this.active) return false;
    const now = this.#now().toISOString();
    student.lastActive = now;
    const visit = student.lessons.get(report.lesson);
    if (visit) visit.lastVisit = now;
    else student.lessons.set(report.lesson, { firstVisit: now, lastVisit: now });
    if (report.check !== undefined) {
      const key = `${report.lesson}/${report.check}`;
      let entry = student.checks.get(key);
      if (!entry) {
        entry = { lesson: report.lesson, check: report.check, attempts: 0 };
        student.checks.set(key, entry);
      }
      entry.attempts++;
      // A check that passed once stays passed: a later reset or edit does not undo what was learnt.
      if (report.pass && entry.passedAt === undefined) entry.passedAt = now;
    }
    this.#changed();
    return true;
  }

  noteReset(sessionId: string): void {
    const student = this.students.get(sessionId);
    if (!student) return;
    student.resets++;
    this.#changed();
  }

  end(): void {
    if (this.ended !== undefined) return;
    this.ended = this.#now().toISOString();
    this.#changed();
  }

  /** Called after every change (a teacher event stream can push instead of polling). */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(): void {
    this.revision++;
    for (const listener of this.#listeners) listener();
  }

  /** What the dashboard shows, as JSON. */
  state(): WorkshopState {
    return {
      id: this.id,
      name: this.name,
      code: this.code,
      seats: this.seats,
      seatsTaken: this.seatsTaken,
      created: this.created,
      ...(this.ended ? { ended: this.ended } : {}),
      revision: this.revision,
      students: [...this.students.values()].map((s) => ({
        session: s.sessionId,
        name: s.name,
        joinedAt: s.joinedAt,
        lastActive: s.lastActive,
        resets: s.resets,
        ...(s.lastCommand ? { lastCommand: s.lastCommand } : {}),
        ...(s.left ? { left: s.left } : {}),
        lessons: [...s.lessons].map(([lesson, v]) => ({ lesson, ...v })),
        checks: [...s.checks.values()].map((c) => ({ ...c, pass: c.passedAt !== undefined })),
      })),
    };
  }
}

export interface SeatReservation {
  commit(sessionId: string, requestedName: string): Student;
  release(): void;
}

export interface WorkshopState {
  id: string;
  name: string;
  code: string;
  seats: number;
  seatsTaken: number;
  created: string;
  ended?: string;
  revision: number;
  students: {
    session: string;
    name: string;
    joinedAt: string;
    lastActive: string;
    resets: number;
    lastCommand?: { command: string; exitCode: number; at: string };
    left?: string;
    /** Names of the student's open terminals (filled in by the routes, which see the session). */
    terminals?: string[];
    lessons: { lesson: string; firstVisit: string; lastVisit: string }[];
    checks: (CheckProgress & { pass: boolean })[];
  }[];
}

export const MAX_SEATS = 1000;

/** Every workshop on this server node, by id and by join code, and which session is whose student. */
export class WorkshopRegistry {
  readonly #byId = new Map<string, Workshop>();
  readonly #byCode = new Map<string, Workshop>();

  async create(options: WorkshopOptions): Promise<Workshop> {
    const name = options.name.replace(/\s+/gu, ' ').trim();
    if (name.length === 0 || [...name].length > 100 || /\p{C}/u.test(name)) {
      throw new WorkshopError('invalid', 'A workshop name is 1–100 printable characters.');
    }
    if (!Number.isInteger(options.seats) || options.seats < 1 || options.seats > MAX_SEATS) {
      throw new WorkshopError('invalid', `Seats must be a whole number from 1 to ${MAX_SEATS}.`);
    }
    if (options.teacherPassword.length < 8) {
      throw new WorkshopError('invalid', 'The teacher password must be at least 8 characters long.');
    }
    const workshop = new Workshop({
      name,
      seats: options.seats,
      code: generateJoinCode((code) => this.#byCode.has(code)),
      password: await hashPassword(options.teacherPassword),
      ...(options.now ? { now: options.now } : {}),
    });
    this.#byId.set(workshop.id, workshop);
    this.#byCode.set(workshop.code, workshop);
    return workshop;
  }

  byId(id: string): Workshop | undefined {
    return this.#byId.get(id);
  }

  /** By a code as typed (case and dashes forgiven). Ended workshops are still found, to say so. */
  byCode(input: string): Workshop | undefined {
    const code = normalizeJoinCode(input);
    return code === undefined ? undefined : this.#byCode.get(code);
  }

  bySession(sessionId: string): Workshop | undefined {
    for (const w of this.#byId.values())
      if (w.students.get(sessionId)?.left === undefined && w.students.has(sessionId)) return w;
    return undefined;
  }

  list(): Workshop[] {
    return [...this.#byId.values()];
  }

  active(): Workshop[] {
    return this.list().filter((w) => w.active);
  }
}

/** Feeds a check result or a lesson visit into the dashboard. */
export function recordProgress(workshop: Workshop, sessionId: string, report: ProgressReport): boolean {
  return workshop.recordProgress(sessionId, report);
}
