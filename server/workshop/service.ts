// Classroom mode wired into one server: the workshop registry, teacher sign-in, admission's load
// probe, the routes and the watch-socket upgrade, and the hooks that keep students' progress and
// seats in step with their sessions (presence.ts), and the store the class is kept in between runs.
// `attachWorkshop` is what the plugin calls.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { listContainers } from '../../engine/container/views.ts';
import type { Router } from '../http/router.ts';
import type { ResetTarget } from '../reset/target.ts';
import type { CreateSessionOptions } from '../sessions/manager.ts';
import type { Session } from '../sessions/session.ts';
import { type CapacityLimits, createLoadProbe, DEFAULT_CAPACITY, type MachineLoad } from './admission.ts';
import { Classroom } from './classroom.ts';
import { catalogCheck } from './lesson-catalog.ts';
import { generatePassword, hashPassword } from './password.ts';
import { Presence } from './presence.ts';
import { endWorkshop, registerWorkshopRoutes, type WorkshopDeps } from './routes.ts';
import type { WorkshopStore } from './store.ts';
import { DEFAULT_STUCK, type StuckThresholds } from './stuck.ts';
import { createWatchUpgrade } from './student-view.ts';
import { TeacherAuth } from './teacher-auth.ts';
import { type ProgressReport, type Workshop, WorkshopRegistry } from './workshop.ts';

/** A student with no open socket this long is marked gone and their seat frees. */
export const DEFAULT_LEAVE_GRACE_MS = 60_000;

/** What attachWorkshop needs from the server: its sessions and the reset of one. */
export interface WorkshopHost {
  router: Router;
  sessions: {
    create(options?: CreateSessionOptions): Promise<Session>;
    /** Keeps capacity for free seats (SessionManager.reserve); returns the unregister. */
    reserve(seats: () => number): () => void;
    get(id: string): Session | undefined;
    list(): Session[];
    dispose(id: string, reason?: string): Promise<unknown>;
    readonly count: number;
    onDisposed(listener: (s: Session) => void): () => void;
  };
  resetSession(session: Session, to?: ResetTarget): Promise<unknown>;
}

export interface WorkshopOptions {
  /** Server-wide capacity for admission (maxSessions should be the server's own limit). */
  capacity?: Partial<CapacityLimits>;
  /** `--admin-password` / LAYERLAB_ADMIN_PASSWORD: enables `POST /api/workshop`. */
  adminPassword?: string;
  /** Overrides the load reading (tests simulate a full machine). */
  load?: () => Promise<MachineLoad>;
  log?: (message: string) => void;
  /** Where workshops are kept between runs (default: in memory only). Closed with the service. */
  store?: WorkshopStore;
  /** No socket for this long marks a student gone (default 60 s). */
  leaveGraceMs?: number;
  /** When the dashboard flags a student as needing help. */
  stuck?: Partial<StuckThresholds>;
  /** The first `--public-url`: the join link the dashboard shows and its QR code encodes. */
  publicUrl?: string;
}

export interface WorkshopService {
  workshops: WorkshopRegistry;
  teachers: TeacherAuth;
  capacity: CapacityLimits;
  /** The machine load admission reads (cached briefly). */
  load(): Promise<MachineLoad>;
  /**
   * `layerlab serve --workshop "Name"`: resumes the kept workshop of that name that has not ended
   * (a restart), or creates it; the password is generated when not given to a new one.
   */
  start(options: { name: string; seats?: number; teacherPassword?: string }): Promise<{
    workshop: Workshop;
    /** Absent when a resumed workshop keeps the password it had. */
    teacherPassword?: string;
    generated: boolean;
    resumed: boolean;
  }>;
  /** Every lesson visit a student's page reports. */
  recordVisit(sessionId: string, lesson: string): boolean;
  /** Every evaluated check, from either transport, and every lesson visit: feeds the dashboard. */
  recordProgress(sessionId: string, report: ProgressReport): boolean;
  /** Upgrade handler for teacher watch sockets; returns false for other paths. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** The workshop a session is a student of (for `welcome { workshop }`). */
  workshopOf(sessionId: string): Workshop | undefined;
  end(workshop: Workshop): Promise<number>;
  close(): void;
}

export async function attachWorkshop(
  host: WorkshopHost,
  options: WorkshopOptions = {},
): Promise<WorkshopService> {
  const workshops = new WorkshopRegistry(options.store ? { store: options.store } : {});
  const presence = new Presence({
    workshops,
    getSession: (id) => host.sessions.get(id),
    graceMs: options.leaveGraceMs ?? DEFAULT_LEAVE_GRACE_MS,
  });
  const teachers = new TeacherAuth();
  const classroom = new Classroom({ getSession: (id) => host.sessions.get(id) });
  const capacity: CapacityLimits = { ...DEFAULT_CAPACITY, ...options.capacity };
  const load =
    options.load ??
    createLoadProbe({
      sessions: () => host.sessions.count,
      runningContainers: async () => {
        let running = 0;
        for (const session of host.sessions.list()) {
          if (session.disposed) continue;
          running += (await listContainers(session.ctx).catch(() => [])).length;
        }
        return running;
      },
    });
  const deps: WorkshopDeps = {
    workshops,
    teachers,
    sessions: host.sessions,
    resetSession: host.resetSession,
    capacity,
    load,
    stuck: { ...DEFAULT_STUCK, ...options.stuck },
    classroom,
    onJoin(workshop, session) {
      // The shell's `terminal.command` events (with the error text) show the teacher what each does.
      presence.watch(workshop, session);
      // A student joining a paused class joins it paused.
      classroom.hold(workshop, session);
    },
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    ...(options.adminPassword ? { adminPassword: await hashPassword(options.adminPassword) } : {}),
    ...(options.log ? { log: options.log } : {}),
  };
  registerWorkshopRoutes(host.router, deps);
  const stopListening = host.sessions.onDisposed((session) => {
    presence.unwatch(session.id);
    workshops.holding(session.id)?.studentLeft(session.id, { sessionEnded: true });
  });
  // Readers without a seat may not take the sessions this node keeps for students still to join.
  const stopReserving = host.sessions.reserve(() =>
    workshops.active().reduce((free, w) => free + Math.max(0, w.seats - w.seatsTaken), 0),
  );
  /** A student acting is a student present: one marked gone whose page came back is back. */
  const record = (sessionId: string, report: ProgressReport): boolean => {
    const workshop = workshops.holding(sessionId);
    if (!workshop) return false;
    if (workshop.seatsTaken < workshop.seats) workshop.studentBack(sessionId);
    // A failed step's hint is the check's own, else the one its page shows (the lesson's MDX).
    const hint =
      report.check !== undefined && !report.pass
        ? (report.hint ?? catalogCheck(report.lesson, report.check)?.hint)
        : undefined;
    return workshop.recordProgress(sessionId, { ...report, ...(hint ? { hint } : {}) });
  };
  const watch = createWatchUpgrade({ workshops, teachers, getSession: (id) => host.sessions.get(id) });

  return {
    workshops,
    teachers,
    capacity,
    load,
    async start({ name, seats = 30, teacherPassword }) {
      const kept = workshops.active().find((w) => w.name === name.replace(/\s+/gu, ' ').trim());
      if (kept) {
        if (teacherPassword !== undefined) kept.setTeacherPassword(await hashPassword(teacherPassword));
        if (seats > kept.seats) kept.addSeats(seats - kept.seats);
        return { workshop: kept, generated: false, resumed: true };
      }
      const password = teacherPassword ?? generatePassword();
      const workshop = await workshops.create({ name, seats, teacherPassword: password });
      return {
        workshop,
        teacherPassword: password,
        generated: teacherPassword === undefined,
        resumed: false,
      };
    },
    recordProgress: (sessionId, report) => record(sessionId, report),
    recordVisit: (sessionId, lesson) => record(sessionId, { lesson }),
    handleUpgrade: watch.handleUpgrade,
    workshopOf: (sessionId) => workshops.bySession(sessionId),
    end: (workshop) => endWorkshop(workshop, deps),
    close() {
      stopListening();
      stopReserving();
      presence.close();
      watch.close();
      workshops.close();
    },
  };
}
