// Classroom mode as a server plugin: `createServer({ plugins: [workshopPlugin({ name })] })`, which
// is what `layerlab serve --workshop "Name"` does. Starts the named workshop (printing its join code
// and teacher password), registers the routes, gates new sessions on machine capacity, and wires the
// teacher's watch sockets and progress reports where the server offers hooks for them.

import type { ServerInternals, ServerPlugin } from '../app.ts';
import { HttpError } from '../http/router.ts';
import { type CapacityLimits, decideAdmission, type MachineLoad } from './admission.ts';
import { attachWorkshop, type WorkshopService } from './service.ts';

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
}

export function workshopPlugin(options: WorkshopPluginOptions = {}): ServerPlugin {
  return async (internals: ServerInternals) => {
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
          dispose: (id) => internals.endSession(id, 'the workshop ended'),
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
        log: internals.log,
      },
    );

    // A reader without a workshop still gets a session, but not on a machine that is already full.
    internals.sessionGates.push(async () => {
      const decision = decideAdmission(
        { active: true, seats: Number.POSITIVE_INFINITY, seatsTaken: 0 },
        { ...service.capacity },
        await service.load(),
      );
      if (!decision.ok) throw new HttpError(503, 'full', decision.message);
    });

    internals.upgradeHandlers.push(service.handleUpgrade);
    internals.checkListeners.push((sessionId, report) => service.recordProgress(sessionId, report));

    if (options.name !== undefined) {
      const seats = options.seats ?? 30;
      const teacherPassword = options.teacherPassword || undefined;
      const started = await service.start({
        name: options.name,
        seats,
        ...(teacherPassword ? { teacherPassword } : {}),
      });
      internals.workshopInfo = { name: started.workshop.name, code: started.workshop.code };
      out(
        `Workshop “${started.workshop.name}”: ${seats} seats, join code ${started.workshop.code} (students open /join/${started.workshop.code})`,
      );
      out(
        started.generated
          ? `Teacher: /teacher, password ${started.teacherPassword} (generated; set LAYERLAB_TEACHER_PASSWORD or --teacher-password-file to choose one)`
          : 'Teacher: /teacher, with the password given',
      );
    }
    options.onReady?.(service);
  };
}
