// Classroom mode wired into one server: the workshop registry, teacher sign-in, admission's load
// probe, the routes and the watch-socket upgrade, and the hooks that keep students' progress and
// seats in step with their sessions. `attachWorkshop` is what createServer (or main) calls.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { listContainers } from '../../engine/container/views.ts';
import type { Router } from '../http/router.ts';
import type { CreateSessionOptions } from '../sessions/manager.ts';
import type { Session } from '../sessions/session.ts';
import { type CapacityLimits, createLoadProbe, DEFAULT_CAPACITY, type MachineLoad } from './admission.ts';
import { generatePassword, hashPassword } from './password.ts';
import { endWorkshop, registerWorkshopRoutes, type WorkshopDeps } from './routes.ts';
import { createWatchUpgrade } from './student-view.ts';
import { TeacherAuth } from './teacher-auth.ts';
import { type ProgressReport, type Workshop, WorkshopRegistry } from './workshop.ts';

/** What attachWorkshop needs from the server: its sessions and the reset of one. */
export interface WorkshopHost {
  router: Router;
  sessions: {
    create(options?: CreateSessionOptions): Promise<Session>;
    /** Keeps capacity for free seats (SessionManager.reserve); returns the unregister. */
    reserve(seats: () => number): () => void;
    get(id: string): Session | undefined;
    list(): Session[];
    dispose(id: string): Promise<unknown>;
    readonly count: number;
    onDisposed(listener: (s: Session) => void): () => void;
  };
  resetSession(session: Session, to?: string): Promise<unknown>;
}

export interface WorkshopOptions {
  /** Server-wide capacity for admission (maxSessions should be the server's own limit). */
  capacity?: Partial<CapacityLimits>;
  /** `--admin-password` / LAYERLAB_ADMIN_PASSWORD: enables `POST /api/workshop`. */
  adminPassword?: string;
  /** Overrides the load reading (tests simulate a full machine). */
  load?: () => Promise<MachineLoad>;
  log?: (message: string) => void;
}

export interface WorkshopService {
  workshops: WorkshopRegistry;
  teachers: TeacherAuth;
  capacity: CapacityLimits;
  /** The machine load admission reads (cached briefly). */
  load(): Promise<MachineLoad>;
  /** `layerlab serve --workshop "Name"`: creates it; the password is generated when not given. */
  start(options: { name: string; seats?: number; teacherPassword?: string }): Promise<{
    workshop: Workshop;
    teacherPassword: string;
    generated: boolean;
  }>;
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
  const workshops = new WorkshopRegistry();
  const teachers = new TeacherAuth();
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
  const unsubscribers = new Map<string, () => void>();

  const deps: WorkshopDeps = {
    workshops,
    teachers,
    sessions: host.sessions,
    resetSession: host.resetSession,
    capacity,
    load,
    onJoin(workshop, session) {
      // The shell's `terminal.command` events show the teacher what each student is doing.
      unsubscribers.set(
        session.id,
        session.events.on((event) => {
          if (event.type === 'terminal.command')
            workshop.noteCommand(session.id, event.command, event.exitCode);
        }),
      );
    },
    ...(options.adminPassword ? { adminPassword: await hashPassword(options.adminPassword) } : {}),
    ...(options.log ? { log: options.log } : {}),
  };
  registerWorkshopRoutes(host.router, deps);
  const stopListening = host.sessions.onDisposed((session) => {
    unsubscribers.get(session.id)?.();
    unsubscribers.delete(session.id);
    workshops.bySession(session.id)?.studentLeft(session.id);
  });
  // Readers without a seat may not take the sessions this node keeps for students still to join.
  const stopReserving = host.sessions.reserve(() =>
    workshops.active().reduce((free, w) => free + Math.max(0, w.seats - w.seatsTaken), 0),
  );
  const watch = createWatchUpgrade({ workshops, teachers, getSession: (id) => host.sessions.get(id) });

  return {
    workshops,
    teachers,
    capacity,
    load,
    async start({ name, seats = 30, teacherPassword }) {
      const password = teacherPassword ?? generatePassword();
      const workshop = await workshops.create({ name, seats, teacherPassword: password });
      return { workshop, teacherPassword: password, generated: teacherPassword === undefined };
    },
    recordProgress(sessionId, report) {
      return workshops.bySession(sessionId)?.recordProgress(sessionId, report) ?? false;
    },
    handleUpgrade: watch.handleUpgrade,
    workshopOf: (sessionId) => workshops.bySession(sessionId),
    end: (workshop) => endWorkshop(workshop, deps),
    close() {
      stopListening();
      stopReserving();
      for (const off of unsubscribers.values()) off();
      unsubscribers.clear();
      watch.close();
    },
  };
}
