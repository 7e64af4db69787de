// Classroom mode as a server plugin: `createServer({ plugins: [workshopPlugin({ name })] })`, which
// is what `layerlab serve --workshop "Name"` does. Opens the workshop store in the state root, starts
// the named workshop or resumes it after a restart (printing its join code and teacher password),
// registers the routes, keeps sandboxes for students who joined (readers only when the operator says
// so, and never after the end), and wires the teacher's watch sockets and progress reports.

import type { ServerInternals, ServerPlugin } from '../app.ts';
import { HttpError } from '../http/router.ts';
import { type CapacityLimits, decideAdmission, type MachineLoad } from './admission.ts';
import type { ClusterLink } from './cluster-link.ts';
import { attachWorkshop, type WorkshopService } from './service.ts';
import { SqliteWorkshopStore, workshopDbPath } from './sqlite-store.ts';
import type { WorkshopStore } from './store.ts';
import type { StuckThresholds } from './stuck.ts';

export interface WorkshopPluginOptions {
  /** Start this workshop at once (`--workshop "Name"`); without it, only `POST /api/workshop` starts one. */
  name?: string;
  /** Default 30 (`layerlab serve` reads LAYERLAB_WORKSHOP_SEATS). */
  seats?: number;
  /**
   * Generated and printed when absent. `layerlab serve` takes it from `--teacher-password-file` or
   * LAYERLAB_TEACHER_PASSWORD(_FILE) at start-up; the plugin never reads the environment.
   */
  teacherPassword?: string;
  /** Enables starting workshops over HTTP (`--admin-password-file`, LAYERLAB_ADMIN_PASSWORD(_FILE)). */
  adminPassword?: string;
  capacity?: Partial<CapacityLimits>;
  /** Overrides the machine-load reading (tests). */
  load?: () => Promise<MachineLoad>;
  /** Where the join code and password are printed (default stdout). */
  out?: (line: string) => void;
  /** Receives the service once attached (tests, and the server's own wiring). */
  onReady?: (service: WorkshopService) => void;
  /**
   * Anonymous readers get a sandbox too (`--workshop-readers`). Off by default: on a workshop server
   * only students who joined get one.
   */
  readers?: boolean;
  /** Where the class is kept (default SQLite in `<root>/workshop.db`; the cluster puts Redis here). */
  store?: WorkshopStore;
  /** No socket for this long marks a student gone and frees the seat (default 60 s). */
  leaveGraceMs?: number;
  /** When the dashboard flags a student as needing help (default idle 5 min, 3 failures in a row). */
  stuck?: Partial<StuckThresholds>;
  /** `--cluster`: workshops shared with the other nodes (`store` must then be the cluster's). */
  cluster?: ClusterLink;
}

/** How long a node starting with `--workshop` waits for another node that is creating it. */
const START_WAIT_MS = 15_000;

export function workshopPlugin(options: WorkshopPluginOptions = {}): ServerPlugin {
  return async (internals: ServerInternals) => {
    const cluster = options.cluster;
    const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
    const service = await attachWorkshop(
      {
        router: internals.router,
        sessions: {
          create: (options) => internals.sessions.create(options),
          reserve: (seats) => internals.sessions.reserve(seats),
          get: (id) => internals.sessions.get(id),
          list: () => internals.sessions.list(),
          // endSession closes the student's sockets (code 4000: do not reconnect) and disposes.
          dispose: (id, reason) => internals.endSession(id, reason ?? 'the workshop ended'),
          get count() {
            return internals.sessions.count;
          },
          onDisposed: (listener) => internals.sessions.onDisposed(listener),
        },
        resetSession: (session, to) => internals.api.reset(session, { to }),
      },
      {
        capacity: { maxSessions: internals.limits.maxSessions, ...options.capacity },
        ...(options.load ? { load: options.load } : {}),
        ...(options.adminPassword ? { adminPassword: options.adminPassword } : {}),
        store:
          options.store ?? new SqliteWorkshopStore(workshopDbPath(internals.root), { log: internals.log }),
        ...(options.leaveGraceMs !== undefined ? { leaveGraceMs: options.leaveGraceMs } : {}),
        ...(options.stuck ? { stuck: options.stuck } : {}),
        ...(internals.publicUrls[0] ? { publicUrl: internals.publicUrls[0] } : {}),
        ...(cluster ? { cluster } : {}),
        log: internals.log,
      },
    );
    internals.workshopOf = (sessionId) => {
      const workshop = service.workshopOf(sessionId);
      return workshop ? { name: workshop.name, code: workshop.code } : undefined;
    };
    if (cluster) {
      internals.cluster = cluster;
      internals.sessionAdopters.push((req, client) => service.reseat(req, client));
    }

    // A page without a student's session asks here for one (a lesson URL opened directly, a reload
    // after the end): no sandbox outside the class unless the operator lets readers in.
    internals.sessionGates.push(async () => {
      const workshops = service.workshops.list();
      if (workshops.length > 0 && workshops.every((w) => !w.active)) {
        throw new HttpError(410, 'ended', 'This workshop has ended: no new sandboxes are made.');
      }
      if (!options.readers) {
        throw new HttpError(
          403,
          'not_joined',
          'This server runs a workshop: join it with the link or code from your teacher to get a sandbox.',
        );
      }
      // A reader without a workshop still gets a session, but not on a machine that is already full.
      const decision = decideAdmission(
        { active: true, seats: Number.POSITIVE_INFINITY, seatsTaken: 0 },
        { ...service.capacity },
        await service.load(),
      );
      if (!decision.ok) throw new HttpError(503, 'full', decision.message);
    });

    internals.upgradeHandlers.push(service.handleUpgrade);
    internals.checkListeners.push((sessionId, report) => service.recordProgress(sessionId, report));
    internals.visitListeners.push((sessionId, lesson) => service.recordVisit(sessionId, lesson));

    if (options.name !== undefined) {
      const seats = options.seats ?? 30;
      // Every node of a cluster may be started with the same --workshop: one creates it, the others
      // wait until it reaches them and resume it.
      if (cluster && !(await cluster.claim(`start:${options.name}`, START_WAIT_MS))) {
        const wanted = options.name.replace(/\s+/gu, ' ').trim();
        const deadline = Date.now() + START_WAIT_MS;
        while (!service.workshops.active().some((w) => w.name === wanted) && Date.now() < deadline)
          await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const teacherPassword = options.teacherPassword || undefined;
      const started = await service.start({
        name: options.name,
        seats,
        ...(teacherPassword ? { teacherPassword } : {}),
      });
      internals.workshopInfo = { name: started.workshop.name, code: started.workshop.code };
      out(
        `Workshop “${started.workshop.name}”${started.resumed ? ' (resumed)' : ''}: ${started.workshop.seats} seats, join code ${started.workshop.code} (students open /join/${started.workshop.code})`,
      );
      out(
        started.generated
          ? `Teacher: /teacher, password ${started.teacherPassword} (generated; set LAYERLAB_TEACHER_PASSWORD or --teacher-password-file to choose one)`
          : started.resumed && teacherPassword === undefined
            ? 'Teacher: /teacher, with the password printed when this workshop started'
            : 'Teacher: /teacher, with the password given',
      );
    }
    options.onReady?.(service);
  };
}
