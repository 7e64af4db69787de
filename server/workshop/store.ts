// Where classroom state is kept between server runs: the `WorkshopStore` interface and the records it
// holds (a workshop, and one record per student seat with its progress). The SQLite store in
// sqlite-store.ts is the default; a cluster can put the same interface behind Redis. Records are zod
// schemas, so what comes back from disk is checked, never trusted into shape.

import { z } from 'zod';

const isoTime = z.string().min(1).max(40);

export const workshopRecordSchema = z.object({
  id: z.string().min(1).max(100),
  name: z.string().min(1).max(200),
  code: z.string().min(1).max(20),
  seats: z.number().int().min(1),
  created: isoTime,
  ended: isoTime.optional(),
  /** The teacher password's scrypt salt and hash, base64. */
  password: z.object({ salt: z.string().max(200), hash: z.string().max(200) }),
  /** The teacher's message to every student, shown on their pages until each dismisses it. */
  broadcast: z.object({ id: z.string().max(100), text: z.string().max(500), at: isoTime }).optional(),
  /** "Everyone to lesson N": a banner with a link on every student's page. */
  call: z.object({ id: z.string().max(100), lesson: z.string().max(200), at: isoTime }).optional(),
  /** Since when the teacher has paused the class (students' terminals take no input). */
  paused: isoTime.optional(),
});
export type WorkshopRecord = z.infer<typeof workshopRecordSchema>;

export const checkProgressSchema = z.object({
  lesson: z.string().max(200),
  check: z.string().max(200),
  /** Every Check press, passed or not. */
  attempts: z.number().int().min(0),
  /** Check presses that did not pass. */
  failures: z.number().int().min(0),
  /** Failures since the last pass (or ever, when it never passed): what "stuck on a step" counts. */
  failuresInARow: z.number().int().min(0),
  /** First time the check passed, if it has. */
  passedAt: isoTime.optional(),
  lastAttemptAt: isoTime.optional(),
  lastFailedAt: isoTime.optional(),
  /** The hint the student was shown at the last failure. */
  hint: z.string().max(1000).optional(),
});
export type CheckProgress = z.infer<typeof checkProgressSchema>;

export const lastCommandSchema = z.object({
  command: z.string().max(1000),
  exitCode: z.number().int(),
  at: isoTime,
  /** The last lines the command printed when it failed (escape sequences removed). */
  error: z.string().max(1000).optional(),
});
export type LastCommand = z.infer<typeof lastCommandSchema>;

/** What a teacher's reset did to a student's sandbox, as the student's page says it. */
export const resetNoticeSchema = z.object({
  id: z.string().max(100),
  at: isoTime,
  /**
   * The student alone, the whole class at once, or no teacher at all: the cluster node holding the
   * sandbox stopped and the student was seated on another one, with a fresh sandbox.
   */
  scope: z.enum(['student', 'class', 'node']),
  /** The lesson whose start the sandbox was put back to. */
  lesson: z.string().max(200),
  /** What went: containers by name (with their image) and images by name. */
  removedContainers: z.array(z.string().max(400)).max(200),
  removedImages: z.array(z.string().max(400)).max(200),
});
export type ResetNotice = z.infer<typeof resetNoticeSchema>;

export const studentRecordSchema = z.object({
  /** The seat's own id: stays when the student rejoins with another session. */
  id: z.string().min(1).max(100),
  name: z.string().min(1).max(100),
  joinedAt: isoTime,
  lastActive: isoTime,
  /** The session holding the seat now; none after a restart until the student rejoins. */
  session: z.string().max(200).optional(),
  /** In a cluster: the node holding that session. */
  node: z.string().max(100).optional(),
  /**
   * In a cluster: the names of the session's open terminals, as its node last saw them, so the
   * teacher's views on any node can ask that node for them.
   */
  terminals: z.array(z.string().max(100)).max(20).optional(),
  /**
   * In a cluster: sha256 of the session's token (hex), so another node can recognise the student's
   * browser when the node holding the session is gone. The token itself is never stored.
   */
  tokenHash: z.string().max(100).optional(),
  /** When the student was last seen leaving (no socket for the grace period, or the session ended). */
  left: isoTime.optional(),
  resets: z.number().int().min(0),
  lastResetAt: isoTime.optional(),
  /** The lesson the student's page showed last. */
  currentLesson: z.string().max(200).optional(),
  lastCommand: lastCommandSchema.optional(),
  /** When the student raised their hand (cleared when they or the teacher lower it). */
  hand: isoTime.optional(),
  /** The teacher's last reset of this student's sandbox, until the student dismisses it. */
  resetNotice: resetNoticeSchema.optional(),
  /** Banners (broadcast, call to a lesson) this student dismissed, by id; the newest few. */
  dismissed: z.array(z.string().max(100)).max(50).optional(),
  lessons: z.array(z.object({ lesson: z.string().max(200), firstVisit: isoTime, lastVisit: isoTime })),
  checks: z.array(checkProgressSchema),
});
export type StudentRecord = z.infer<typeof studentRecordSchema>;

/** A workshop as stored, with its students. */
export interface StoredWorkshop {
  workshop: WorkshopRecord;
  students: StudentRecord[];
}

/**
 * The persistence the classroom needs: whole records written on every change (a student's record is
 * small), everything read once at start. Synchronous by design for the embedded store; an adapter
 * over a network store queues its writes behind the same calls.
 */
export interface WorkshopStore {
  saveWorkshop(record: WorkshopRecord): void;
  saveStudent(workshopId: string, record: StudentRecord): void;
  deleteStudent(workshopId: string, studentId: string): void;
  /** Every workshop kept, oldest first, each with its students in joining order. */
  load(): StoredWorkshop[];
  close(): void;
}

/** Keeps nothing: for a server started without a state root to keep it in (and unit tests). */
export class MemoryWorkshopStore implements WorkshopStore {
  readonly #workshops = new Map<string, StoredWorkshop>();

  saveWorkshop(record: WorkshopRecord): void {
    const kept = this.#workshops.get(record.id);
    if (kept) kept.workshop = record;
    else this.#workshops.set(record.id, { workshop: record, students: [] });
  }

  saveStudent(workshopId: string, record: StudentRecord): void {
    const kept = this.#workshops.get(workshopId);
    if (!kept) return;
    const at = kept.students.findIndex((s) => s.id === record.id);
    if (at >= 0) kept.students[at] = record;
    else kept.students.push(record);
  }

  deleteStudent(workshopId: string, studentId: string): void {
    const kept = this.#workshops.get(workshopId);
    if (kept) kept.students = kept.students.filter((s) => s.id !== studentId);
  }

  load(): StoredWorkshop[] {
    return [...this.#workshops.values()].map((w) => structuredClone(w));
  }

  close(): void {}
}
