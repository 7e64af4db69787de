// Classroom mode wired into one server: the workshop registry, teacher sign-in, admission's load
// probe, the routes and the watch-socket upgrade, and the hooks that keep students' progress and
// seats in step with their sessions (presence.ts), and the store the class is kept in between runs.
// `attachWorkshop` is what the plugin calls.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { listContainers } from '../../engine/container/views.ts';
import { nodeCookie } from '../cluster/cookies.ts';
import { HttpError, parseCookies, type Router, SESSION_COOKIE } from '../http/router.ts';
import type { ResetTarget } from '../reset/target.ts';
import { type CreateSessionOptions, SessionLimitError } from '../sessions/manager.ts';
import type { Session } from '../sessions/session.ts';
import {
  type CapacityLimits,
  createLoadProbe,
  DEFAULT_CAPACITY,
  type MachineLoad,
  seatsTakenMessage,
} from './admission.ts';
import { Classroom } from './classroom.ts';
import type { ClusterLink } from './cluster-link.ts';
import { catalogCheck, courseLessons } from './lesson-catalog.ts';
import { generatePassword, hashPassword } from './password.ts';
import { Presence } from './presence.ts';
import {
  endWorkshop,
  fromSharedStore,
  registerWorkshopRoutes,
  resetStudentHere,
  tokenHash,
  type WorkshopDeps,
} from './routes.ts';
import type { WorkshopStore } from './store.ts';
import { DEFAULT_STUCK, type StuckThresholds } from './stuck.ts';
import { createWatchUpgrade } from './student-view.ts';
import { TeacherAuth } from './teacher-auth.ts';
import { type ProgressReport, type Student, type Workshop, WorkshopRegistry } from './workshop.ts';

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
  /**
   * `layerlab serve --cluster`: the workshops are shared with the other nodes (the store must be the
   * cluster's), seats are counted across them, and a student whose node died is re-seated here.
   */
  cluster?: ClusterLink;
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
  /**
   * In a cluster: a browser whose session was on a node that is gone (its cookie's token names a
   * seat) gets a new session here, keeping the seat and progress. Undefined when the request is not
   * such a student's.
   */
  reseat(req: IncomingMessage, client: string | undefined): Promise<Session | undefined>;
  /** A cluster node being taken down: students here are told they will be moved (undefined: none). */
  setNotice(notice: string | undefined): void;
  end(workshop: Workshop): Promise<number>;
  close(): void;
}

export async function attachWorkshop(
  host: WorkshopHost,
  options: WorkshopOptions = {},
): Promise<WorkshopService> {
  const cluster = options.cluster;
  const workshops = new WorkshopRegistry({
    ...(options.store ? { store: options.store } : {}),
    ...(cluster ? { node: cluster.node } : {}),
  });
  const graceMs = options.leaveGraceMs ?? DEFAULT_LEAVE_GRACE_MS;
  const presence = new Presence({
    workshops,
    getSession: (id) => host.sessions.get(id),
    graceMs,
    ...(cluster ? { node: cluster.node } : {}),
  });
  const teachers = new TeacherAuth(cluster ? { share: (key, grant) => cluster.shareGrant(key, grant) } : {});
  if (cluster) for (const [key, grant] of await cluster.grants()) teachers.accept(key, grant);
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
      cluster?.capacityChanged();
      // The shell's `terminal.command` events (with the error text) show the teacher what each does.
      presence.watch(workshop, session);
      // A student joining a paused class joins it paused.
      classroom.hold(workshop, session);
    },
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    ...(options.adminPassword ? { adminPassword: await hashPassword(options.adminPassword) } : {}),
    ...(options.log ? { log: options.log } : {}),
    ...(cluster ? { cluster } : {}),
  };
  registerWorkshopRoutes(host.router, deps);
  const stopListening = host.sessions.onDisposed((session) => {
    presence.unwatch(session.id);
    cluster?.capacityChanged();
    // A cluster node going down keeps its students' seats: their pages are re-seated on another node.
    if (cluster?.draining) return;
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
  const stopCluster = cluster ? joinCluster(cluster, host, deps, graceMs) : () => {};

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
    reseat: (req, client) =>
      cluster ? reseat(cluster, host, deps, req, client) : Promise.resolve(undefined),
    setNotice(notice) {
      classroom.setNotice(notice);
      for (const workshop of workshops.active()) classroom.sync(workshop);
    },
    end: (workshop) => endWorkshop(workshop, deps),
    close() {
      stopCluster();
      stopListening();
      stopReserving();
      presence.close();
      watch.close();
      workshops.close();
    },
  };
}

/**
 * Keeps this node's copy of the shared workshops in step with the other nodes' changes, runs the
 * teacher actions they send for students held here, and marks gone the students of nodes that died
 * and did not come back for them. Returns the stop.
 */
function joinCluster(
  cluster: ClusterLink,
  host: WorkshopHost,
  deps: WorkshopDeps,
  graceMs: number,
): () => void {
  const { workshops, teachers, classroom } = deps;
  /** A session here whose seat another node now holds (re-seated, or rejoined there) is let go. */
  const letGo = (sessionId: string | undefined, reason: string) => {
    if (sessionId !== undefined && host.sessions.get(sessionId))
      void host.sessions.dispose(sessionId, reason);
  };
  const stopChanges = cluster.onChange((change) => {
    switch (change.kind) {
      case 'teacher-grant':
        teachers.accept(change.key, change.grant);
        return;
      case 'workshop': {
        const known = workshops.byId(change.record.id);
        if (!known) {
          workshops.adopt({ workshop: change.record, students: [] });
          return;
        }
        const wasActive = known.active;
        known.applyRecord(change.record);
        classroom.sync(known);
        // The teacher stays signed in, as on the node that ended it: the dashboard and the export
        // still show what the class did, whichever node the router sends them to.
        if (wasActive && !known.active) {
          for (const student of known.students.values())
            if (student.node === cluster.node) letGo(student.sessionId, 'the workshop ended');
        }
        return;
      }
      case 'student': {
        const workshop = workshops.byId(change.workshopId);
        if (!workshop) return;
        const before = workshop.students.get(change.record.id);
        const student = workshop.applyStudent(change.record);
        if (before?.sessionId !== undefined && before.sessionId !== student.sessionId)
          letGo(before.sessionId, 'your seat moved to another machine of this workshop');
        classroom.sync(workshop, [student]);
        return;
      }
      case 'student-removed': {
        const workshop = workshops.byId(change.workshopId);
        const before = workshop?.students.get(change.studentId);
        workshop?.applyRemoval(change.studentId);
        letGo(before?.sessionId, 'the teacher removed you from the workshop');
        return;
      }
    }
  });
  cluster.handleCommands({
    async dispose(sessionId, reason) {
      if (host.sessions.get(sessionId)) await host.sessions.dispose(sessionId, reason);
    },
    async reset(command) {
      const workshop = workshops.byId(command.workshopId);
      const student = workshop?.students.get(command.studentId);
      const lesson = courseLessons().find((l) => l.id === command.lesson);
      if (!workshop || !student || !lesson) return undefined;
      return resetStudentHere(deps, workshop, student, lesson, command.scope);
    },
  });
  // A node that died holds its students' seats until they are re-seated (their pages reconnect
  // within seconds); one whose student never comes back is marked gone after the grace period.
  const deadSince = new Map<string, number>();
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const workshop of workshops.active()) {
      for (const student of workshop.students.values()) {
        const node = student.node;
        if (student.left !== undefined || node === undefined || cluster.aliveNow(node)) {
          deadSince.delete(student.id);
          continue;
        }
        const since = deadSince.get(student.id) ?? now;
        deadSince.set(student.id, since);
        if (now - since >= graceMs && student.sessionId !== undefined) {
          workshop.studentLeft(student.sessionId);
          deadSince.delete(student.id);
        }
      }
    }
  }, 1000);
  sweep.unref();
  return () => {
    stopChanges();
    clearInterval(sweep);
  };
}

/** How long one node holds a student's re-seat, so two nodes do not both make them a session. */
const RESEAT_CLAIM_MS = 10_000;

async function reseat(
  cluster: ClusterLink,
  host: WorkshopHost,
  deps: WorkshopDeps,
  req: IncomingMessage,
  client: string | undefined,
): Promise<Session | undefined> {
  const token = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
  if (token === undefined || token.length > 200) return undefined;
  const found = deps.workshops.byTokenHash(tokenHash(token));
  if (!found) return undefined;
  const { workshop, student } = found;
  if (!workshop.active) return undefined;
  // A seat whose session ended (the teacher freed it, the student left for good) is joined again.
  if (student.sessionId === undefined) return undefined;
  // The router sent this page here although its node is alive (a health check flapped): it goes
  // back there on its next try, which the node cookie it still holds asks for.
  if (
    student.node !== undefined &&
    student.node !== cluster.node &&
    (await fromSharedStore(cluster.isAlive(student.node), 'reconnecting…'))
  ) {
    throw new HttpError(503, 'moved', 'Your sandbox is on another machine of this workshop: reconnecting…');
  }
  const claim = `reseat:${student.id}`;
  if (!(await fromSharedStore(cluster.claim(claim, RESEAT_CLAIM_MS), 'reconnecting…'))) {
    throw new HttpError(503, 'moved', 'Your seat is being moved to another machine: reconnecting…');
  }
  try {
    return await reseatHere(cluster, host, deps, req, client, workshop, student);
  } catch (err) {
    // Not seated here (no seat, no room): the node the page tries next must not wait for the claim.
    await cluster.unclaim(claim).catch(() => {});
    throw err;
  }
}

/** The re-seat itself, once this node holds the student's claim. */
async function reseatHere(
  cluster: ClusterLink,
  host: WorkshopHost,
  deps: WorkshopDeps,
  req: IncomingMessage,
  client: string | undefined,
  workshop: Workshop,
  student: Student,
): Promise<Session> {
  // Marked gone while no page came back for it: the seat is free again, so it is taken anew.
  const seat =
    student.left !== undefined
      ? await fromSharedStore(cluster.reserveSeat(workshop), 'reconnecting…')
      : undefined;
  if (student.left !== undefined && !seat) {
    throw new HttpError(503, 'full', seatsTakenMessage(workshop.seats));
  }
  const gone = student.node ?? '?';
  let session: Session;
  try {
    session = await host.sessions.create({ ...(client ? { client } : {}), workshopSeat: true });
  } catch (err) {
    seat?.release();
    // This node is full: the page's next try goes to the node with the most room.
    if (!(err instanceof SessionLimitError)) throw err;
    const elsewhere = await cluster.nodeWithRoom();
    if (elsewhere === undefined) throw new HttpError(503, 'full', err.message);
    throw new HttpError(503, 'moved', 'Your seat is being moved to another machine: reconnecting…', {
      'set-cookie': nodeCookie(req, elsewhere),
    });
  }
  workshop.reseat(student.id, session.id, tokenHash(session.token), {
    scope: 'node',
    lesson: student.currentLesson ?? '',
    removedContainers: [],
    removedImages: [],
  });
  seat?.commit();
  deps.onJoin(workshop, session);
  deps.classroom.sync(workshop, [student]);
  deps.log?.(`workshop ${workshop.code}: ${student.name} re-seated here (their node ${gone} is gone)`);
  // The page prepares its lesson's starting state in the new sandbox itself (lesson-start.ts), as
  // it does whenever it gets a session it has not prepared.
  return session;
}
