// The classroom model: a workshop (name, join code, seats, teacher password), its students — each a
// seat with an id of its own, held by one server session at a time — and their progress through
// lessons and checks. Pure state plus a store it writes through on every change (store.ts), so a
// restarted server finds the class as it was; the routes and the session hooks act on it.

import { randomUUID } from 'node:crypto';
import { displayNameKey, uniqueDisplayName, validateDisplayName } from './display-name.ts';
import { generateJoinCode, normalizeJoinCode } from './join-code.ts';
import { hashPassword, type PasswordHash, verifyPassword } from './password.ts';
import {
  type CheckProgress,
  type LastCommand,
  MemoryWorkshopStore,
  type ResetNotice,
  type StoredWorkshop,
  type StudentRecord,
  type WorkshopRecord,
  type WorkshopStore,
} from './store.ts';

export type { CheckProgress, LastCommand, ResetNotice } from './store.ts';

/** A banner the teacher put on every student's page: a message, or a call to a lesson. */
export interface Broadcast {
  id: string;
  text: string;
  at: string;
}
export interface LessonCall {
  id: string;
  lesson: string;
  at: string;
}

/** Dismissed banner ids kept per student: enough for every banner still shown, and bounded. */
const DISMISSED_KEPT = 20;

export class WorkshopError extends Error {
  readonly code: 'ended' | 'full' | 'invalid_name' | 'not_found' | 'invalid';
  constructor(code: WorkshopError['code'], message: string) {
    super(message);
    this.name = 'WorkshopError';
    this.code = code;
  }
}

export interface Student {
  /** The seat's id: the teacher's actions name it, and it outlives the student's sessions. */
  readonly id: string;
  /** The session holding the seat now (kept while gone, so the same browser can come back). */
  sessionId: string | undefined;
  /** In a cluster: the node holding that session, and sha256 of its token (see StudentRecord). */
  node?: string;
  tokenHash?: string;
  /** In a cluster: the session's open terminals, as its node last saw them. */
  terminals?: string[];
  name: string;
  joinedAt: string;
  /** Lesson id → first and last visit (ISO). */
  lessons: Map<string, { firstVisit: string; lastVisit: string }>;
  /** `lesson/check` → progress. */
  checks: Map<string, CheckProgress>;
  /** Reset by the teacher this many times (shown so a teacher sees it took). */
  resets: number;
  lastResetAt?: string;
  lastActive: string;
  /** The lesson the student's page showed last. */
  currentLesson?: string;
  /** The shell command the student ran last, its exit code and, when it failed, its error text. */
  lastCommand?: LastCommand;
  /** Set when the student left (no socket for the grace period, session ended, seat freed). */
  left?: string;
  /** When the student raised their hand, until it is lowered. */
  hand?: string;
  /** The teacher's last reset of the student's sandbox, until the student dismisses the notice. */
  resetNotice?: ResetNotice;
  /** Banner ids the student dismissed (newest last). */
  dismissed: string[];
}

export interface WorkshopOptions {
  name: string;
  seats: number;
  /** The teacher's password in clear; only its scrypt hash is kept. */
  teacherPassword: string;
  now?: () => Date;
}

/** One progress report: a lesson visit, or a check result in a lesson (with the hint shown). */
export interface ProgressReport {
  lesson: string;
  check?: string;
  pass?: boolean;
  hint?: string;
}

export class Workshop {
  readonly id: string;
  readonly name: string;
  readonly code: string;
  seats: number;
  readonly created: string;
  ended: string | undefined;
  /** The teacher's message on every student's page. */
  broadcast: Broadcast | undefined;
  /** "Everyone to lesson N". */
  call: LessonCall | undefined;
  /** Since when the class is paused (students' terminals take no input), if it is. */
  paused: string | undefined;
  /** By student (seat) id, in joining order. */
  readonly students = new Map<string, Student>();
  /** Bumped on every change, so a dashboard can tell when nothing moved. */
  revision = 0;
  #password: PasswordHash;
  #pending = 0;
  #now: () => Date;
  #store: WorkshopStore;
  #listeners = new Set<() => void>();
  /** In a cluster, this node's id: the students it seats are marked as held here. */
  readonly #node: string | undefined;

  constructor(init: {
    name: string;
    code: string;
    seats: number;
    password: PasswordHash;
    now?: () => Date;
    store?: WorkshopStore;
    /** A workshop read back from the store (its id, times and students). */
    restore?: { record: WorkshopRecord; students: StudentRecord[] };
    /**
     * This node's id in a cluster. Students held by other nodes are live elsewhere, so a node
     * starting up does not mark them gone; a student whose node died is re-seated (`reseat`).
     */
    node?: string;
  }) {
    this.#now = init.now ?? (() => new Date());
    this.#node = init.node;
    this.#store = init.store ?? new MemoryWorkshopStore();
    this.id = init.restore?.record.id ?? randomUUID();
    this.name = init.name;
    this.code = init.code;
    this.seats = init.seats;
    this.#password = init.password;
    this.created = init.restore?.record.created ?? this.#now().toISOString();
    this.ended = init.restore?.record.ended;
    this.broadcast = init.restore?.record.broadcast;
    this.call = init.restore?.record.call;
    this.paused = init.restore?.record.paused;
    for (const record of init.restore?.students ?? []) {
      const student = studentFromRecord(record);
      // Sessions do not survive a restart: every student is away until they rejoin by name. (In a
      // cluster, the node that held the session may still be alive, and one that is not is noticed
      // by the others, which re-seat its students.)
      if (student.sessionId !== undefined && this.#node === undefined) {
        student.sessionId = undefined;
        student.left ??= this.created > student.lastActive ? this.created : student.lastActive;
      }
      this.students.set(student.id, student);
    }
    if (!init.restore) this.#saveWorkshop();
  }

  get active(): boolean {
    return this.ended === undefined;
  }

  /** Seats held by students present plus joins under way. */
  get seatsTaken(): number {
    let present = 0;
    for (const s of this.students.values()) if (s.left === undefined) present++;
    return present + this.#pending;
  }

  checkTeacherPassword(password: unknown): Promise<boolean> {
    return verifyPassword(password, this.#password);
  }

  /** The operator gave a (new) teacher password at a restart: it replaces the kept one. */
  setTeacherPassword(hash: PasswordHash): void {
    this.#password = hash;
    this.#saveWorkshop();
  }

  /** The student whose seat this session holds (present or away), if any. */
  bySession(sessionId: string): Student | undefined {
    for (const s of this.students.values()) if (s.sessionId === sessionId) return s;
    return undefined;
  }

  /** True while `sessionId` holds a seat and has not left. */
  isPresent(sessionId: string): boolean {
    const student = this.bySession(sessionId);
    return student !== undefined && student.left === undefined;
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
      commit: (sessionId, requestedName, rejoin, tokenHash) => {
        if (!close()) throw new WorkshopError('invalid', 'seat reservation already used');
        return rejoin
          ? this.#rebind(rejoin, sessionId, tokenHash)
          : this.#addStudent(sessionId, requestedName, tokenHash);
      },
      release: () => {
        close();
      },
    };
  }

  /**
   * The seat a join with this name takes back: a student of that name who has left (closed the
   * browser, lost the session, restarted server). A student still present keeps their seat, and a
   * second person with the same name gets a name of their own.
   */
  rejoinCandidate(requestedName: unknown): Student | undefined {
    const valid = validateDisplayName(requestedName);
    if (!valid.ok) return undefined;
    const key = displayNameKey(valid.name);
    for (const s of this.students.values())
      if (s.left !== undefined && displayNameKey(s.name) === key) return s;
    return undefined;
  }

  #rebind(student: Student, sessionId: string, tokenHash?: string): Student {
    if (!this.active) throw new WorkshopError('ended', 'This workshop has ended.');
    const now = this.#now().toISOString();
    student.sessionId = sessionId;
    this.#hold(student, tokenHash);
    delete student.left;
    student.lastActive = now;
    this.#changed(student);
    return student;
  }

  /** In a cluster, marks the student as held by this node, with their session token's hash. */
  #hold(student: Student, tokenHash: string | undefined): void {
    if (this.#node === undefined) return;
    student.node = this.#node;
    if (tokenHash !== undefined) student.tokenHash = tokenHash;
    else delete student.tokenHash;
  }

  #addStudent(sessionId: string, requestedName: string, tokenHash?: string): Student {
    if (!this.active) throw new WorkshopError('ended', 'This workshop has ended.');
    const valid = validateDisplayName(requestedName);
    if (!valid.ok) throw new WorkshopError('invalid_name', valid.reason);
    const keys = new Set([...this.students.values()].map((s) => displayNameKey(s.name)));
    const now = this.#now().toISOString();
    const student: Student = {
      id: randomUUID(),
      sessionId,
      name: uniqueDisplayName(valid.name, (key) => keys.has(key)),
      joinedAt: now,
      lessons: new Map(),
      checks: new Map(),
      resets: 0,
      lastActive: now,
      dismissed: [],
    };
    this.#hold(student, tokenHash);
    this.students.set(student.id, student);
    this.#changed(student);
    return student;
  }

  /**
   * The cluster node holding this student's sandbox is gone: the student takes their seat on this
   * node with a fresh session. Progress stays; the notice tells their page what was lost.
   */
  reseat(
    studentId: string,
    sessionId: string,
    tokenHash: string,
    notice: Omit<ResetNotice, 'id' | 'at'>,
  ): Student {
    const student = this.students.get(studentId);
    if (!student) throw new WorkshopError('not_found', 'This seat is no longer in the workshop.');
    if (!this.active) throw new WorkshopError('ended', 'This workshop has ended.');
    const at = this.#now().toISOString();
    student.sessionId = sessionId;
    this.#hold(student, tokenHash);
    delete student.left;
    student.lastActive = at;
    student.resetNotice = { ...notice, id: randomUUID(), at };
    this.#changed(student);
    return student;
  }

  /** Another cluster node changed the workshop's record: take it as it is (not written back). */
  applyRecord(record: WorkshopRecord): void {
    this.seats = record.seats;
    this.ended = record.ended;
    this.broadcast = record.broadcast;
    this.call = record.call;
    this.paused = record.paused;
    this.#password = {
      salt: Buffer.from(record.password.salt, 'base64'),
      hash: Buffer.from(record.password.hash, 'base64'),
    };
    this.#notify();
  }

  /** Another cluster node wrote a student's record (a join, progress, a reset): take it. */
  applyStudent(record: StudentRecord): Student {
    const student = studentFromRecord(record);
    const known = this.students.get(student.id);
    // Two nodes may write the same seat at once (the teacher's lowers a hand while the student's
    // records a check): the last record wins for everything but progress, which only grows, so a
    // check passed here is never undone by a record written from an older copy.
    const grew = known !== undefined && mergeProgress(student, known);
    this.students.set(student.id, student);
    if (grew && this.#node !== undefined && student.node === this.#node) this.#changed(student);
    else this.#notify();
    return student;
  }

  /** Another cluster node removed a student. */
  applyRemoval(studentId: string): void {
    if (this.students.delete(studentId)) this.#notify();
  }

  /** The name a join would get now (for the form's echo); does not reserve it. */
  previewName(requestedName: string): string | undefined {
    const valid = validateDisplayName(requestedName);
    if (!valid.ok) return undefined;
    const keys = new Set([...this.students.values()].map((s) => displayNameKey(s.name)));
    return uniqueDisplayName(valid.name, (key) => keys.has(key));
  }

  /** The teacher removes a student: the seat and the progress go. Returns the session to end. */
  removeStudent(studentId: string): string | undefined {
    const student = this.students.get(studentId);
    if (!student) return undefined;
    this.students.delete(studentId);
    this.#store.deleteStudent(this.id, studentId);
    this.#changed();
    return student.sessionId;
  }

  /**
   * The teacher frees a student's seat: the student is marked gone and their session is let go
   * (returned, for the caller to end); the progress stays, and they may rejoin by name.
   */
  freeSeat(studentId: string): string | undefined {
    const student = this.students.get(studentId);
    if (!student) return undefined;
    const session = student.sessionId;
    student.sessionId = undefined;
    // Its browser is not re-seated by another cluster node: the student joins again.
    delete student.tokenHash;
    student.left ??= this.#now().toISOString();
    this.#changed(student);
    return session;
  }

  /** The teacher adds seats (at most MAX_SEATS in all). */
  addSeats(count: number): void {
    if (!Number.isInteger(count) || count < 1 || this.seats + count > MAX_SEATS) {
      throw new WorkshopError('invalid', `Seats can be added 1 at a time up to ${MAX_SEATS} in all.`);
    }
    this.seats += count;
    this.#saveWorkshop();
    this.#changed();
  }

  /** The student's session is gone, or has had no socket for the grace period: the seat frees. */
  studentLeft(sessionId: string, options: { sessionEnded?: boolean } = {}): void {
    const student = this.bySession(sessionId);
    if (!student) return;
    if (options.sessionEnded) student.sessionId = undefined;
    if (student.left !== undefined && !options.sessionEnded) return;
    student.left ??= this.#now().toISOString();
    this.#changed(student);
  }

  /** A student marked gone came back on the same session (the same browser reconnected). */
  studentBack(sessionId: string): void {
    const student = this.bySession(sessionId);
    if (!student || student.left === undefined || !this.active) return;
    delete student.left;
    student.lastActive = this.#now().toISOString();
    this.#changed(student);
  }

  /** A command the student ran; returns its time, which names it for `noteCommandError`. */
  noteCommand(sessionId: string, command: string, exitCode: number): string | undefined {
    const student = this.bySession(sessionId);
    if (!student || !this.active) return undefined;
    const at = this.#now().toISOString();
    student.lastCommand = { command: command.slice(0, 200), exitCode, at };
    student.lastActive = at;
    this.#changed(student);
    return at;
  }

  /** What the failed command run at `at` printed, once its output is in (if it is still the last). */
  noteCommandError(sessionId: string, at: string, error: string): void {
    const student = this.bySession(sessionId);
    if (!student?.lastCommand || student.lastCommand.at !== at || student.lastCommand.exitCode === 0) return;
    student.lastCommand.error = error.slice(0, 500);
    this.#changed(student);
  }

  recordProgress(sessionId: string, report: ProgressReport): boolean {
    const student = this.bySession(sessionId);
    if (!student || !this.active) return false;
    const now = this.#now().toISOString();
    student.lastActive = now;
    student.currentLesson = report.lesson;
    const visit = student.lessons.get(report.lesson);
    if (visit) visit.lastVisit = now;
    else student.lessons.set(report.lesson, { firstVisit: now, lastVisit: now });
    if (report.check !== undefined) {
      const key = `${report.lesson}/${report.check}`;
      let entry = student.checks.get(key);
      if (!entry) {
        entry = { lesson: report.lesson, check: report.check, attempts: 0, failures: 0, failuresInARow: 0 };
        student.checks.set(key, entry);
      }
      entry.attempts++;
      entry.lastAttemptAt = now;
      if (report.pass) {
        // A check that passed once stays passed: a later reset or edit does not undo what was learnt.
        entry.passedAt ??= now;
        entry.failuresInARow = 0;
      } else {
        entry.failures++;
        entry.failuresInARow++;
        entry.lastFailedAt = now;
        if (report.hint) entry.hint = report.hint.slice(0, 1000);
      }
    }
    this.#changed(student);
    return true;
  }

  /** In a cluster: the student's session has these terminals open now (kept for other nodes). */
  noteTerminals(sessionId: string, terminals: string[]): void {
    const student = this.bySession(sessionId);
    if (!student || this.#node === undefined) return;
    const now = terminals.slice(0, 20);
    if (
      student.terminals &&
      now.length === student.terminals.length &&
      now.every((t, i) => t === student.terminals?.[i])
    )
      return;
    student.terminals = now;
    this.#changed(student);
  }

  /** The teacher reset the student's sandbox: counted, and the notice kept for the student's page. */
  noteReset(studentId: string, notice?: Omit<ResetNotice, 'id' | 'at'>): void {
    const student = this.students.get(studentId);
    if (!student) return;
    const at = this.#now().toISOString();
    student.resets++;
    student.lastResetAt = at;
    if (notice) student.resetNotice = { ...notice, id: randomUUID(), at };
    this.#changed(student);
  }

  /** The teacher's message to every student; an empty text takes the banner down. */
  setBroadcast(text: string): Broadcast | undefined {
    const clean = text
      .replace(/[^\P{C}\n]/gu, '')
      .trim()
      .slice(0, 500);
    this.broadcast =
      clean === '' ? undefined : { id: randomUUID(), text: clean, at: this.#now().toISOString() };
    this.#saveWorkshop();
    this.#changed();
    return this.broadcast;
  }

  /** "Everyone to lesson `lesson`" (undefined takes the banner down). */
  callTo(lesson: string | undefined): LessonCall | undefined {
    this.call =
      lesson === undefined ? undefined : { id: randomUUID(), lesson, at: this.#now().toISOString() };
    this.#saveWorkshop();
    this.#changed();
    return this.call;
  }

  /** Pauses (true) or resumes (false) the class; returns whether anything changed. */
  setPaused(paused: boolean): boolean {
    if (paused === (this.paused !== undefined)) return false;
    this.paused = paused ? this.#now().toISOString() : undefined;
    this.#saveWorkshop();
    this.#changed();
    return true;
  }

  /** The student raises (true) or lowers (false) their hand; the teacher may lower it too. */
  setHand(studentId: string, raised: boolean): void {
    const student = this.students.get(studentId);
    if (!student || raised === (student.hand !== undefined)) return;
    if (raised) student.hand = this.#now().toISOString();
    else delete student.hand;
    this.#changed(student);
  }

  /** The student closed a banner (broadcast, call) or the reset notice, named by its id. */
  dismiss(studentId: string, id: string): void {
    const student = this.students.get(studentId);
    if (!student) return;
    if (student.resetNotice?.id === id) delete student.resetNotice;
    else if (id === this.broadcast?.id || id === this.call?.id) {
      if (student.dismissed.includes(id)) return;
      student.dismissed = [...student.dismissed, id].slice(-DISMISSED_KEPT);
    } else return;
    this.#changed(student);
  }

  end(): void {
    if (this.ended !== undefined) return;
    this.ended = this.#now().toISOString();
    this.#saveWorkshop();
    this.#changed();
  }

  /** Called after every change (a teacher event stream can push instead of polling). */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The workshop as the store keeps it. */
  record(): WorkshopRecord {
    return {
      id: this.id,
      name: this.name,
      code: this.code,
      seats: this.seats,
      created: this.created,
      ...(this.ended ? { ended: this.ended } : {}),
      ...(this.broadcast ? { broadcast: { ...this.broadcast } } : {}),
      ...(this.call ? { call: { ...this.call } } : {}),
      ...(this.paused ? { paused: this.paused } : {}),
      password: {
        salt: this.#password.salt.toString('base64'),
        hash: this.#password.hash.toString('base64'),
      },
    };
  }

  #saveWorkshop(): void {
    this.#store.saveWorkshop(this.record());
  }

  #changed(student?: Student): void {
    if (student && this.students.has(student.id)) this.#store.saveStudent(this.id, studentRecord(student));
    this.#notify();
  }

  #notify(): void {
    this.revision++;
    for (const listener of this.#listeners) listener();
  }

  /** What the dashboard shows, as JSON (the routes add the grid and the live parts). */
  state(): WorkshopState {
    return {
      id: this.id,
      name: this.name,
      code: this.code,
      seats: this.seats,
      seatsTaken: this.seatsTaken,
      created: this.created,
      ...(this.ended ? { ended: this.ended } : {}),
      ...(this.broadcast ? { broadcast: { ...this.broadcast } } : {}),
      ...(this.call ? { call: { ...this.call } } : {}),
      ...(this.paused ? { paused: this.paused } : {}),
      revision: this.revision,
      students: [...this.students.values()].map((s) => {
        // The token's hash stays between the nodes: a teacher has no use for it.
        const { session, tokenHash: _tokenHash, ...record } = studentRecord(s);
        return {
          ...record,
          session: session ?? '',
          checks: record.checks.map((c) => ({ ...c, pass: c.passedAt !== undefined })),
        };
      }),
    };
  }
}

export interface SeatReservation {
  /**
   * Seats the session: a new student with this name, or the `rejoin` student taking their seat back.
   * In a cluster, `tokenHash` (sha256 of the session's token) lets another node recognise the student.
   */
  commit(sessionId: string, requestedName: string, rejoin?: Student, tokenHash?: string): Student;
  release(): void;
}

export function studentRecord(s: Student): StudentRecord {
  return {
    id: s.id,
    name: s.name,
    joinedAt: s.joinedAt,
    lastActive: s.lastActive,
    ...(s.sessionId !== undefined ? { session: s.sessionId } : {}),
    ...(s.node !== undefined ? { node: s.node } : {}),
    ...(s.tokenHash !== undefined ? { tokenHash: s.tokenHash } : {}),
    ...(s.terminals !== undefined ? { terminals: [...s.terminals] } : {}),
    ...(s.left !== undefined ? { left: s.left } : {}),
    resets: s.resets,
    ...(s.lastResetAt !== undefined ? { lastResetAt: s.lastResetAt } : {}),
    ...(s.currentLesson !== undefined ? { currentLesson: s.currentLesson } : {}),
    ...(s.lastCommand ? { lastCommand: { ...s.lastCommand } } : {}),
    ...(s.hand !== undefined ? { hand: s.hand } : {}),
    ...(s.resetNotice ? { resetNotice: structuredClone(s.resetNotice) } : {}),
    ...(s.dismissed.length > 0 ? { dismissed: [...s.dismissed] } : {}),
    lessons: [...s.lessons].map(([lesson, v]) => ({ lesson, ...v })),
    checks: [...s.checks.values()].map((c) => ({ ...c })),
  };
}

function studentFromRecord(r: StudentRecord): Student {
  return {
    id: r.id,
    sessionId: r.session,
    ...(r.node !== undefined ? { node: r.node } : {}),
    ...(r.tokenHash !== undefined ? { tokenHash: r.tokenHash } : {}),
    ...(r.terminals !== undefined ? { terminals: r.terminals } : {}),
    name: r.name,
    joinedAt: r.joinedAt,
    lastActive: r.lastActive,
    ...(r.left !== undefined ? { left: r.left } : {}),
    resets: r.resets,
    ...(r.lastResetAt !== undefined ? { lastResetAt: r.lastResetAt } : {}),
    ...(r.currentLesson !== undefined ? { currentLesson: r.currentLesson } : {}),
    ...(r.lastCommand ? { lastCommand: r.lastCommand } : {}),
    ...(r.hand !== undefined ? { hand: r.hand } : {}),
    ...(r.resetNotice ? { resetNotice: r.resetNotice } : {}),
    dismissed: r.dismissed ?? [],
    lessons: new Map(r.lessons.map(({ lesson, ...v }) => [lesson, v])),
    checks: new Map(r.checks.map((c) => [`${c.lesson}/${c.check}`, c])),
  };
}

/** A grid cell: where a student is on one step of one lesson. */
export type StepStatus = 'not-started' | 'in-progress' | 'failed' | 'passed';

export interface StudentState extends Omit<StudentRecord, 'session' | 'checks'> {
  /** The session holding the seat now ('' when none: away after a restart, or seat freed). */
  session: string;
  checks: (CheckProgress & { pass: boolean })[];
  /** Names of the student's open terminals (filled in by the routes, which see the session). */
  terminals?: string[];
  /** Seconds since the student's last action (filled in by the routes). */
  idleSeconds?: number;
  /** Why the student may need help, in words; empty when nothing says so (filled in by the routes). */
  needsHelp?: string[];
  /** `lesson/check` → the step's status, for every step of the course (filled in by the routes). */
  steps?: Record<string, StepStatus>;
}

export interface WorkshopState {
  id: string;
  name: string;
  code: string;
  seats: number;
  seatsTaken: number;
  created: string;
  ended?: string;
  broadcast?: Broadcast;
  call?: LessonCall;
  paused?: string;
  revision: number;
  students: StudentState[];
  /** The course's lessons and steps by title, the grid's columns (filled in by the routes). */
  lessons?: { id: string; title: string; checks: { id: string; title: string }[] }[];
  /** Every numbered lesson, for "everyone to lesson N" and the class reset (filled in by the routes). */
  course?: { id: string; order: number; title: string }[];
}

export const MAX_SEATS = 1000;

/** Every workshop on this server node, by id and by join code, and which session is whose student. */
export class WorkshopRegistry {
  readonly #byId = new Map<string, Workshop>();
  readonly #byCode = new Map<string, Workshop>();
  readonly #store: WorkshopStore;
  readonly #node: string | undefined;

  constructor(options: { store?: WorkshopStore; node?: string } = {}) {
    this.#store = options.store ?? new MemoryWorkshopStore();
    this.#node = options.node;
    for (const kept of this.#store.load()) this.adopt(kept);
  }

  /**
   * Takes a workshop as stored: at start, and in a cluster when another node starts one. Returns the
   * workshop (the one already known, when it is).
   */
  adopt(kept: StoredWorkshop): Workshop {
    const known = this.#byId.get(kept.workshop.id);
    if (known) return known;
    {
      const workshop = new Workshop({
        name: kept.workshop.name,
        code: kept.workshop.code,
        seats: kept.workshop.seats,
        password: {
          salt: Buffer.from(kept.workshop.password.salt, 'base64'),
          hash: Buffer.from(kept.workshop.password.hash, 'base64'),
        },
        store: this.#store,
        restore: { record: kept.workshop, students: kept.students },
        ...(this.#node !== undefined ? { node: this.#node } : {}),
      });
      // A restart hands every student's session back as gone: keep that on disk too.
      if (this.#node === undefined)
        for (const student of workshop.students.values())
          this.#store.saveStudent(workshop.id, studentRecord(student));
      this.#byId.set(workshop.id, workshop);
      this.#byCode.set(workshop.code, workshop);
      return workshop;
    }
  }

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
      store: this.#store,
      ...(options.now ? { now: options.now } : {}),
      ...(this.#node !== undefined ? { node: this.#node } : {}),
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

  /** The workshop whose present student this session is. */
  bySession(sessionId: string): Workshop | undefined {
    for (const w of this.#byId.values()) if (w.isPresent(sessionId)) return w;
    return undefined;
  }

  /** The workshop holding a seat for this session, present or away (a reconnect may bring them back). */
  holding(sessionId: string): Workshop | undefined {
    for (const w of this.#byId.values()) if (w.bySession(sessionId)) return w;
    return undefined;
  }

  list(): Workshop[] {
    return [...this.#byId.values()];
  }

  /** In a cluster: the seat whose session token hashes to `tokenHash` (sha256, hex). */
  byTokenHash(tokenHash: string): { workshop: Workshop; student: Student } | undefined {
    for (const workshop of this.#byId.values())
      for (const student of workshop.students.values())
        if (student.tokenHash === tokenHash) return { workshop, student };
    return undefined;
  }

  active(): Workshop[] {
    return this.list().filter((w) => w.active);
  }

  close(): void {
    this.#store.close();
  }
}

/** Feeds a check result or a lesson visit into the dashboard. */
export function recordProgress(workshop: Workshop, sessionId: string, report: ProgressReport): boolean {
  return workshop.recordProgress(sessionId, report);
}

/**
 * Folds into `into` the progress `from` has and `into` lacks: checks (attempts and failures only
 * grow, a pass stays), lesson visits, the later command and activity. True when `into` changed.
 */
export function mergeProgress(into: Student, from: Student): boolean {
  let changed = false;
  for (const [key, theirs] of from.checks) {
    const ours = into.checks.get(key);
    if (!ours) {
      into.checks.set(key, { ...theirs });
      changed = true;
      continue;
    }
    if (theirs.attempts > ours.attempts) {
      into.checks.set(key, { ...theirs, passedAt: earliest(ours.passedAt, theirs.passedAt) });
      changed = true;
    } else if (
      theirs.passedAt !== undefined &&
      (ours.passedAt === undefined || theirs.passedAt < ours.passedAt)
    ) {
      ours.passedAt = theirs.passedAt;
      changed = true;
    }
  }
  for (const [lesson, theirs] of from.lessons) {
    const ours = into.lessons.get(lesson);
    if (!ours) {
      into.lessons.set(lesson, { ...theirs });
      changed = true;
    } else if (theirs.lastVisit > ours.lastVisit) {
      ours.lastVisit = theirs.lastVisit;
      changed = true;
    }
  }
  if (from.lastCommand && (!into.lastCommand || from.lastCommand.at > into.lastCommand.at)) {
    into.lastCommand = { ...from.lastCommand };
    changed = true;
  }
  if (from.lastActive > into.lastActive) {
    into.lastActive = from.lastActive;
    if (from.currentLesson !== undefined) into.currentLesson = from.currentLesson;
    changed = true;
  }
  return changed;
}

function earliest(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a < b ? a : b;
}
