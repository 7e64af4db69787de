// What a student's page shows of the room the teacher runs: the workshop's name and their own, the
// teacher's message, "everyone to lesson N", the notice of a reset the teacher made (what went), their
// raised hand, and whether the class is paused. `classroomView` is that view for one student;
// `Classroom.sync` pushes it to the students' pages (a `workshop.classroom` session event) and holds
// or frees their terminals' input as the pause says (`Session.held`, which the socket layer obeys).

import type { Session } from '../sessions/session.ts';
import { courseLessons } from './lesson-catalog.ts';
import type { Broadcast, ResetNotice, Student, Workshop } from './workshop.ts';

/** What the student's terminals say while the class is paused (also the socket layer's reason). */
export const PAUSED_BY_TEACHER = 'Paused by your teacher';

export interface ClassroomView {
  workshop: { name: string; ended: boolean };
  you: { name: string };
  /** The teacher paused the class: terminals take no input and Run blocks are off. */
  paused: boolean;
  /** When the student's hand went up, while it is up. */
  hand?: string;
  /** The teacher's message, unless this student dismissed it. */
  broadcast?: Broadcast;
  /** "Everyone to lesson N", unless dismissed: the lesson's number, title and page. */
  call?: { id: string; lesson: string; order?: number; title: string; href: string; at: string };
  /** The teacher's last reset of this student's sandbox, until dismissed. */
  reset?: ResetNotice & { title: string; order?: number };
  /** The server's own word to every student (a cluster node being taken down: they will be moved). */
  notice?: string;
}

/** The lesson's number and title as the course names it (the id when it is not a numbered lesson). */
export function lessonLabel(lesson: string): { order?: number; title: string } {
  const found = courseLessons().find((l) => l.id === lesson);
  return found ? { order: found.order, title: found.title } : { title: lesson };
}

export function classroomView(workshop: Workshop, student: Student, notice?: string): ClassroomView {
  const dismissed = new Set(student.dismissed);
  const view: ClassroomView = {
    workshop: { name: workshop.name, ended: !workshop.active },
    you: { name: student.name },
    paused: workshop.active && workshop.paused !== undefined,
  };
  if (student.hand !== undefined) view.hand = student.hand;
  if (workshop.broadcast && !dismissed.has(workshop.broadcast.id)) view.broadcast = { ...workshop.broadcast };
  if (workshop.call && !dismissed.has(workshop.call.id)) {
    const { id, lesson, at } = workshop.call;
    view.call = { id, lesson, at, ...lessonLabel(lesson), href: `/${lesson}/` };
  }
  if (student.resetNotice)
    view.reset = { ...student.resetNotice, ...lessonLabel(student.resetNotice.lesson) };
  if (notice !== undefined) view.notice = notice;
  return view;
}

export class Classroom {
  readonly #getSession: (id: string) => Session | undefined;
  #notice: string | undefined;

  constructor(options: { getSession(id: string): Session | undefined }) {
    this.#getSession = options.getSession;
  }

  /**
   * Brings the students' sessions in line with the room: input held while the class is paused, and
   * each page sent its view. `students` limits it to those whose view changed (default: everyone).
   */
  sync(workshop: Workshop, students: Iterable<Student> = workshop.students.values()): void {
    for (const student of students) {
      const session = student.sessionId !== undefined ? this.#getSession(student.sessionId) : undefined;
      if (!session || session.disposed) continue;
      this.hold(workshop, session);
      session.events.emit({ type: 'workshop.classroom', view: this.view(workshop, student) });
    }
  }

  /** What `student`'s page shows now. */
  view(workshop: Workshop, student: Student): ClassroomView {
    return classroomView(workshop, student, this.#notice);
  }

  /** The server's word to every student here (undefined takes it down); the caller syncs. */
  setNotice(notice: string | undefined): void {
    this.#notice = notice;
  }

  /** Holds a student's terminal input while the class is paused (a join or rejoin mid-pause too). */
  hold(workshop: Workshop, session: Session): void {
    session.held = workshop.active && workshop.paused !== undefined ? PAUSED_BY_TEACHER : undefined;
  }
}
