// Classroom mode's HTTP routes on the server's router: the student join flow (and rejoining one's own
// seat by name), teacher sign-in, the dashboard and its JSON state (the lesson × step grid, who needs
// help, raised hands), seat management (remove a student, free a seat, add seats), running the room
// (a message to everyone, "everyone to lesson N", pause and resume, lowering hands), resetting a
// student or the class to a lesson's start, end-workshop, the progress export, the read-only watch
// page and the wall of terminals, and starting a workshop with the admin password. A student's page
// reads its view of the room (`/api/workshop/me`), raises its hand and dismisses banners.
// Pages are HTML; /api/workshop/* is JSON (the export also CSV).

import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import QRCode from 'qrcode';
import { readAllRecords } from '../../engine/container/record.ts';
import type { EngineContext } from '../../engine/context.ts';
import { familiarName, parseReference } from '../../engine/reference/reference.ts';
import { listImages } from '../../engine/store/images.ts';
import { nodeCookie } from '../cluster/cookies.ts';
import { requestInfo } from '../http/request-info.ts';
import { HttpError, type Router, sendJson, sessionCookie } from '../http/router.ts';
import type { ResetTarget } from '../reset/target.ts';
import type { CreateSessionOptions } from '../sessions/manager.ts';
import type { Session } from '../sessions/session.ts';
import {
  type Admission,
  type AdmissionRefusal,
  type CapacityLimits,
  decideAdmission,
  type MachineLoad,
  seatsTakenMessage,
} from './admission.ts';
import type { Classroom } from './classroom.ts';
import type { ClusterLink, RemoteResetResult } from './cluster-link.ts';
import { validateDisplayName } from './display-name.ts';
import { progressCsv, progressJson } from './export.ts';
import { type CourseLesson, courseLessons, lessonCatalog } from './lesson-catalog.ts';
import {
  dashboardPage,
  joinPage,
  messagePage,
  sendPage,
  teacherLoginPage,
  wallPage,
  watchPage,
} from './pages.ts';
import { generatePassword, type PasswordHash, verifyNothing, verifyPassword } from './password.ts';
import { workshopScripts } from './scripts.ts';
import { needsHelp, type StuckThresholds, stepStatuses } from './stuck.ts';
import type { TeacherAuth } from './teacher-auth.ts';
import {
  type Student,
  type Workshop,
  WorkshopError,
  type WorkshopRegistry,
  type WorkshopState,
} from './workshop.ts';

/** What the routes need from the rest of the server: sessions and the reset of one. */
export interface WorkshopDeps {
  workshops: WorkshopRegistry;
  teachers: TeacherAuth;
  sessions: {
    create(options?: CreateSessionOptions): Promise<Session>;
    get(id: string): Session | undefined;
    /** Ends the session; `reason` is what the student's closed sockets are told. */
    dispose(id: string, reason?: string): Promise<unknown>;
  };
  /** Puts a student's session back to a starting state (the session API's `reset`). */
  resetSession(session: Session, to?: ResetTarget): Promise<unknown>;
  /** Pushes the room's state to students' pages and holds their input while paused. */
  classroom: Classroom;
  /** The first `--public-url`: the join link the dashboard shows and encodes as a QR code. */
  publicUrl?: string;
  capacity: CapacityLimits;
  load(): Promise<MachineLoad>;
  /** When the dashboard flags a student as needing help. */
  stuck: StuckThresholds;
  /** Called when a student joins (the service subscribes to the session's events). */
  onJoin(workshop: Workshop, session: Session): void;
  /** scrypt hash of `--admin-password`; without it, workshops cannot be started over HTTP. */
  adminPassword?: PasswordHash;
  /** In a cluster: the other nodes, seats counted across them, and actions on their students. */
  cluster?: ClusterLink;
  log?(message: string): void;
}

/** A join redirected to a node with room carries its hop count, so a full cluster cannot loop. */
const MAX_JOIN_HOPS = 3;

/**
 * A question to a cluster's shared store; when the store does not answer, a 503 the page may retry
 * (`then` ends the sentence; `failed` hears the cause first).
 */
export function fromSharedStore<T>(
  question: Promise<T>,
  then: string,
  failed?: (err: Error) => void,
): Promise<T> {
  return question.catch((err: Error) => {
    failed?.(err);
    throw new HttpError(503, 'unavailable', `The workshop's shared store is not answering: ${then}`, {
      'retry-after': '5',
    });
  });
}

/** sha256 of a session token (hex): what a cluster keeps to recognise the student's browser. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function registerWorkshopRoutes(router: Router, deps: WorkshopDeps): void {
  const none = { auth: 'none' } as const;
  const { workshops, teachers } = deps;

  /** The teacher's workshop, or a 401 (JSON routes) — pages redirect instead. */
  const teacherWorkshop = (req: IncomingMessage): Workshop | undefined => {
    const id = teachers.workshopOf(req);
    return id ? workshops.byId(id) : undefined;
  };
  const requireTeacher = (req: IncomingMessage): Workshop => {
    const workshop = teacherWorkshop(req);
    if (!workshop) throw new HttpError(401, 'not_teacher', 'sign in as the teacher first');
    // State changes come from this server's pages only: the router refuses other origins for every POST.
    return workshop;
  };
  const redirect = (res: ServerResponse, location: string) => {
    res.writeHead(303, { location, 'cache-control': 'no-store' });
    res.end();
  };
  const refuseJoin = (res: ServerResponse, refusal: AdmissionRefusal, asJson: boolean) => {
    const status = refusal.reason === 'ended' ? 410 : 503;
    const headers: Record<string, string> =
      refusal.retryAfterSeconds > 0 ? { 'retry-after': String(refusal.retryAfterSeconds) } : {};
    if (asJson) {
      sendJson(
        res,
        status,
        { error: { code: refusal.reason === 'ended' ? 'ended' : 'full', message: refusal.message } },
        headers,
      );
    } else {
      const title = refusal.reason === 'ended' ? 'This workshop has ended' : 'This workshop is full';
      sendPage(res, status, messagePage(title, refusal.message), headers);
    }
  };
  const admission = async (workshop: Workshop): Promise<Admission> => {
    const decision = decideAdmission(workshop, deps.capacity, await deps.load());
    if (decision.ok && deps.cluster?.draining) {
      return {
        ok: false,
        reason: 'sessions',
        message: 'This server is being taken down for maintenance: try again in a moment.',
        retryAfterSeconds: 5,
      };
    }
    return decision;
  };
  /**
   * In a cluster, a join this node has no room for goes to the node with the most room: the answer
   * pins the browser to it (the node cookie) and sends it back to the same address, which the router
   * now routes there. Undefined when no other node has room (or the join has hopped enough).
   */
  const moveJoin = async (
    req: IncomingMessage,
    res: ServerResponse,
    refusal: AdmissionRefusal,
  ): Promise<boolean> => {
    if (!deps.cluster || refusal.reason === 'ended' || refusal.reason === 'seats') return false;
    const url = new URL(req.url ?? '/', 'http://node');
    const hops = Number(url.searchParams.get('hop') ?? '0') || 0;
    const target = hops < MAX_JOIN_HOPS ? await deps.cluster.nodeWithRoom() : undefined;
    if (target === undefined) return false;
    url.searchParams.set('hop', String(hops + 1));
    // 307 keeps the method and body, so the join form's POST is made again on the other node.
    res.writeHead(307, {
      location: `${url.pathname}${url.search}`,
      'set-cookie': nodeCookie(req, target),
      'cache-control': 'no-store',
    });
    res.end();
    return true;
  };
  /** The session, when it holds a seat of this workshop (present, or away and coming back). */
  const studentOf = (workshop: Workshop, session: Session | undefined) =>
    session && workshop.bySession(session.id) ? session : undefined;
  /** The teacher's student named in a JSON body (`student`: the seat id, or `session`: its session). */
  const studentIn = (workshop: Workshop, body: unknown): Student => {
    const { student: id, session } = (body ?? {}) as { student?: unknown; session?: unknown };
    const found =
      typeof id === 'string'
        ? workshop.students.get(id)
        : typeof session === 'string' && session !== ''
          ? workshop.bySession(session)
          : undefined;
    if (!found) throw new HttpError(404, 'not_found', 'no such student in this workshop');
    return found;
  };

  // Bundled now, at start, so the first page load does not wait and a broken source is logged at once.
  workshopScripts().catch((err: unknown) =>
    deps.log?.(`workshop scripts: the bundle failed: ${(err as Error).message}`),
  );
  router.get(
    '/workshop/:script',
    async (_req, res, { params }) => {
      const name = params.script ?? '';
      const body = (await workshopScripts()).get(name);
      if (!body) throw new HttpError(404, 'not_found', 'no such script');
      res.writeHead(200, {
        'content-type': name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
      });
      res.end(body);
    },
    none,
  );

  // ---- students ------------------------------------------------------------------------------

  router.get(
    '/join/:code',
    async (req, res, { params, session }) => {
      const workshop = workshops.byCode(params.code ?? '');
      if (!workshop) {
        sendPage(res, 404, messagePage('No such workshop', 'Check the join code with your teacher.'));
        return;
      }
      if (workshop.active && studentOf(workshop, session)) return redirect(res, '/');
      const decision = await admission(workshop);
      if (!decision.ok) {
        if (await moveJoin(req, res, decision)) return;
        return refuseJoin(res, decision, false);
      }
      sendPage(res, 200, joinPage(workshop));
    },
    none,
  );

  router.post(
    '/join/:code',
    async (req, res, { params, body, session }) => {
      const workshop = workshops.byCode(params.code ?? '');
      if (!workshop)
        throw new HttpError(404, 'not_found', 'No workshop has this code. Check it with your teacher.');
      if (workshop.active && studentOf(workshop, session)) {
        return sendJson(res, 200, { redirect: '/', session: session?.id });
      }
      const name = (body as { name?: unknown } | undefined)?.name;
      // The name is checked first, so a bad one gets its own message even when the room is full.
      const valid = validateDisplayName(name);
      if (!valid.ok && workshop.active) throw new HttpError(400, 'invalid_name', valid.reason);
      const decision = await admission(workshop);
      if (!decision.ok) {
        if (await moveJoin(req, res, decision)) return;
        return refuseJoin(res, decision, true);
      }
      // A student who left takes their own seat back by joining with their name again.
      const rejoin = workshop.rejoinCandidate(name);
      let seat: ReturnType<Workshop['reserveSeat']>;
      try {
        seat = workshop.reserveSeat();
        // In a cluster the seat is held in Redis too: two nodes cannot give away the same last seat.
        const local = seat;
        const held = deps.cluster
          ? await fromSharedStore(deps.cluster.reserveSeat(workshop), 'try again in a moment.', (err) => {
              local.release();
              deps.log?.(`workshop ${workshop.code}: seat reservation: ${err.message}`);
            })
          : undefined;
        if (deps.cluster && !held) {
          seat.release();
          throw new WorkshopError('full', 'This workshop is full.');
        }
        if (held) {
          seat = {
            commit: (...args) => {
              const student = local.commit(...args);
              held.commit();
              return student;
            },
            release: () => {
              local.release();
              held.release();
            },
          };
        }
      } catch (err) {
        if (err instanceof WorkshopError && (err.code === 'full' || err.code === 'ended')) {
          return refuseJoin(
            res,
            {
              ok: false,
              reason: err.code === 'ended' ? 'ended' : 'seats',
              // The last seat taken meanwhile (on this node or another) reads as admission's own refusal.
              message: err.code === 'full' ? seatsTakenMessage(workshop.seats) : err.message,
              retryAfterSeconds: err.code === 'ended' ? 0 : 60,
            },
            true,
          );
        }
        throw err;
      }
      let created: Session;
      try {
        // Their sandbox is still there when they come back before the session was reaped.
        const kept = rejoin?.sessionId !== undefined ? deps.sessions.get(rejoin.sessionId) : undefined;
        // The seat reserved above is capacity the server keeps for students (SessionManager.reserve).
        created =
          kept && !kept.disposed
            ? kept
            : await deps.sessions.create({ client: requestInfo(req).client, workshopSeat: true });
      } catch (err) {
        seat.release();
        deps.log?.(`workshop ${workshop.code}: session for a student: ${(err as Error).message}`);
        const refusal: AdmissionRefusal = {
          ok: false,
          reason: 'sessions',
          message: 'This workshop is full: the server has no room for another student right now.',
          retryAfterSeconds: 30,
        };
        // Joins racing for this node's last room: the one that lost goes to a node with room.
        if (await moveJoin(req, res, refusal)) return;
        return refuseJoin(res, refusal, true);
      }
      let student: ReturnType<typeof seat.commit>;
      try {
        student = seat.commit(
          created.id,
          typeof name === 'string' ? name : '',
          rejoin,
          deps.cluster ? tokenHash(created.token) : undefined,
        );
      } catch (err) {
        if (created.id !== rejoin?.sessionId) await deps.sessions.dispose(created.id);
        if (err instanceof WorkshopError)
          throw new HttpError(err.code === 'invalid_name' ? 400 : 410, err.code, err.message);
        throw err;
      }
      deps.onJoin(workshop, created);
      sendJson(
        res,
        200,
        {
          redirect: '/',
          session: created.id,
          name: student.name,
          student: student.id,
          rejoined: rejoin !== undefined,
          workshop: { name: workshop.name },
        },
        {
          'set-cookie': deps.cluster
            ? [sessionCookie(req, created.token), nodeCookie(req, deps.cluster.node)]
            : sessionCookie(req, created.token),
        },
      );
    },
    none,
  );

  /** The seat this request's session holds (the student's own cookie), or a 404. */
  const me = (session: Session | undefined): { workshop: Workshop; student: Student } => {
    const workshop = session ? workshops.holding(session.id) : undefined;
    const student = session && workshop?.bySession(session.id);
    if (!workshop || !student)
      throw new HttpError(404, 'not_joined', 'This page is not a student of a workshop.');
    return { workshop, student };
  };

  /** The student's view of the room: names, the teacher's banners, a reset notice, pause, hand. */
  router.get('/api/workshop/me', (_req, res, { session }) => {
    const { workshop, student } = me(session);
    sendJson(res, 200, deps.classroom.view(workshop, student));
  });

  router.post('/api/workshop/me/hand', (_req, res, { body, session }) => {
    const { workshop, student } = me(session);
    const raised = (body as { raised?: unknown } | undefined)?.raised;
    if (typeof raised !== 'boolean') throw new HttpError(400, 'invalid', 'raised: true or false');
    if (!workshop.active) throw new HttpError(409, 'ended', 'This workshop has ended.');
    workshop.setHand(student.id, raised);
    deps.classroom.sync(workshop, [student]);
    sendJson(res, 200, deps.classroom.view(workshop, student));
  });

  router.post('/api/workshop/me/dismiss', (_req, res, { body, session }) => {
    const { workshop, student } = me(session);
    const id = (body as { id?: unknown } | undefined)?.id;
    if (typeof id !== 'string' || id.length > 100)
      throw new HttpError(400, 'invalid', 'id: the banner to dismiss');
    workshop.dismiss(student.id, id);
    deps.classroom.sync(workshop, [student]);
    sendJson(res, 200, deps.classroom.view(workshop, student));
  });

  // ---- teacher -------------------------------------------------------------------------------

  router.get(
    '/teacher',
    (req, res, { query }) => {
      if (teacherWorkshop(req)) return redirect(res, '/teacher/dashboard');
      const active = workshops.active();
      const code = query.get('code') ?? (active.length === 1 ? active[0]!.code : '');
      sendPage(res, 200, teacherLoginPage(code));
    },
    none,
  );

  router.post(
    '/teacher/login',
    async (req, res, { body }) => {
      const { code, password } = (body ?? {}) as { code?: unknown; password?: unknown };
      const workshop = typeof code === 'string' ? workshops.byCode(code) : undefined;
      // One answer (and one hash's time) for an unknown code and a wrong password.
      const tried = await teachers.tryPassword(requestInfo(req).client, () =>
        workshop ? workshop.checkTeacherPassword(password) : verifyNothing(password),
      );
      if (tried === 'limited' || tried === 'busy') return tooManyTries(res, tried, teachers.windowMs);
      if (!workshop || tried !== 'ok') {
        throw new HttpError(401, 'wrong_password', 'Wrong workshop code or password.');
      }
      const token = teachers.grant(workshop.id);
      const cookie = teachers.cookie(token, requestInfo(req).scheme === 'https');
      // In a cluster the teacher's pages stay on one node (any node can serve them; one keeps the
      // live views of its students' terminals steady), and move on if it goes.
      sendJson(
        res,
        200,
        { redirect: '/teacher/dashboard' },
        { 'set-cookie': deps.cluster ? [cookie, nodeCookie(req, deps.cluster.node)] : cookie },
      );
    },
    none,
  );

  router.post(
    '/teacher/logout',
    (req, res) => {
      teachers.revoke(req);
      sendJson(res, 200, { redirect: '/teacher' }, { 'set-cookie': teachers.clearCookie() });
    },
    none,
  );

  router.get(
    '/teacher/dashboard',
    async (req, res) => {
      const workshop = teacherWorkshop(req);
      if (!workshop) return redirect(res, '/teacher');
      const url = joinUrl(req, workshop, deps.publicUrl);
      sendPage(res, 200, dashboardPage(workshop, url, await qrSvg(url), courseLessons()));
    },
    none,
  );

  router.get(
    '/teacher/wall',
    (req, res) => {
      const workshop = teacherWorkshop(req);
      if (!workshop) return redirect(res, '/teacher');
      sendPage(res, 200, wallPage(workshop));
    },
    none,
  );

  router.get(
    '/teacher/watch/:session/:terminal',
    (req, res, { params }) => {
      const workshop = teacherWorkshop(req);
      if (!workshop) return redirect(res, '/teacher');
      const student = workshop.bySession(params.session ?? '');
      if (!student?.sessionId) {
        sendPage(res, 404, messagePage('No such student', 'This student is not in your workshop.'));
        return;
      }
      sendPage(res, 200, watchPage(student.name, student.sessionId, params.terminal ?? ''));
    },
    none,
  );

  router.get(
    '/api/workshop/state',
    (req, res) => {
      const workshop = requireTeacher(req);
      sendJson(
        res,
        200,
        dashboardState(workshop, deps.sessions.get, deps.stuck, Date.now(), deps.cluster?.node),
      );
    },
    none,
  );

  for (const format of ['csv', 'json'] as const) {
    router.get(
      `/api/workshop/export.${format}`,
      (req, res) => {
        const workshop = requireTeacher(req);
        const state = workshop.state();
        const body =
          format === 'csv'
            ? progressCsv(state, lessonCatalog())
            : `${JSON.stringify(progressJson(state, lessonCatalog()), null, 2)}\n`;
        res.writeHead(200, {
          'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
          'content-disposition': `attachment; filename="${workshop.code}-progress.${format}"`,
          'content-length': Buffer.byteLength(body),
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
        });
        res.end(body);
      },
      none,
    );
  }

  router.post(
    '/api/workshop/remove-student',
    async (req, res, { body }) => {
      const workshop = requireTeacher(req);
      const student = studentIn(workshop, body);
      const holder = student.node;
      const session = workshop.removeStudent(student.id);
      if (session) await endStudentSession(session, holder, 'the teacher removed you from the workshop');
      sendJson(res, 200, { removed: student.id, seatsTaken: workshop.seatsTaken });
    },
    none,
  );

  router.post(
    '/api/workshop/free-seat',
    async (req, res, { body }) => {
      const workshop = requireTeacher(req);
      const student = studentIn(workshop, body);
      const session = workshop.freeSeat(student.id);
      if (session)
        await endStudentSession(
          session,
          student.node,
          'the teacher freed your seat; join again to come back',
        );
      sendJson(res, 200, { freed: student.id, seatsTaken: workshop.seatsTaken });
    },
    none,
  );

  router.post(
    '/api/workshop/add-seats',
    (req, res, { body }) => {
      const workshop = requireTeacher(req);
      const count = (body as { count?: unknown } | undefined)?.count ?? 1;
      if (!workshop.active) throw new HttpError(409, 'ended', 'This workshop has ended.');
      try {
        workshop.addSeats(Number(count));
      } catch (err) {
        if (err instanceof WorkshopError) throw new HttpError(400, 'invalid', err.message);
        throw err;
      }
      sendJson(res, 200, { seats: workshop.seats, seatsTaken: workshop.seatsTaken });
    },
    none,
  );

  /** Ends a student's session here, or on the cluster node holding it. */
  const endStudentSession = async (session: string, holder: string | undefined, reason: string) => {
    if (deps.sessions.get(session)) await deps.sessions.dispose(session, reason);
    else if (deps.cluster && holder !== undefined && holder !== deps.cluster.node)
      await deps.cluster
        .send(holder, { action: 'dispose', sessionId: session, reason })
        .catch((err: Error) => deps.log?.(`workshop: ending a session on ${holder}: ${err.message}`));
  };

  /** The course lesson a reset goes back to the start of: the one named, else the student's own. */
  const lessonFor = (body: unknown, student?: Student): CourseLesson => {
    const named = (body as { lesson?: unknown } | undefined)?.lesson;
    if (named !== undefined && typeof named !== 'string')
      throw new HttpError(400, 'invalid', 'lesson: a lesson id');
    const id = named ?? student?.currentLesson;
    const lesson = courseLessons().find((l) => l.id === id);
    if (!lesson) {
      throw new HttpError(
        400,
        'invalid',
        id === undefined
          ? 'Say which lesson to reset to: this student has not opened one yet.'
          : `No lesson ${JSON.stringify(id.slice(0, 60))} to reset to.`,
      );
    }
    return lesson;
  };
  /** Resets one student's sandbox (here, or on the cluster node holding it). */
  const resetStudent = async (
    workshop: Workshop,
    student: Student,
    lesson: CourseLesson,
    scope: 'student' | 'class',
  ) => {
    const local = student.sessionId !== undefined && deps.sessions.get(student.sessionId);
    if (!local && deps.cluster && student.node !== undefined && student.node !== deps.cluster.node) {
      if (student.left !== undefined) return undefined;
      const holder = student.node;
      // A dead node cannot reset anything: the student's page gets a fresh sandbox elsewhere anyway.
      if (!(await deps.cluster.isAlive(holder))) {
        throw new HttpError(
          409,
          'gone',
          `${student.name}'s sandbox was on ${holder}, which is down: they get a fresh one on another machine when their page reconnects.`,
        );
      }
      return deps.cluster
        .send(holder, {
          action: 'reset',
          workshopId: workshop.id,
          studentId: student.id,
          lesson: lesson.id,
          scope,
        })
        .catch((err: Error) => {
          throw new HttpError(
            503,
            'unavailable',
            `${holder} could not reset ${student.name}: ${err.message}`,
          );
        });
    }
    return resetStudentHere(deps, workshop, student, lesson, scope);
  };

  router.post(
    '/api/workshop/reset-student',
    async (req, res, { body }) => {
      const workshop = requireTeacher(req);
      const student = studentIn(workshop, body);
      if (!workshop.active) throw new HttpError(409, 'ended', 'This workshop has ended.');
      const lesson = lessonFor(body, student);
      const done = await resetStudent(workshop, student, lesson, 'student');
      if (!done) throw new HttpError(409, 'gone', "this student's session has ended");
      sendJson(res, 200, { reset: student.sessionId, ...done });
    },
    none,
  );

  router.post(
    '/api/workshop/reset-class',
    async (req, res, { body }) => {
      const workshop = requireTeacher(req);
      if (!workshop.active) throw new HttpError(409, 'ended', 'This workshop has ended.');
      if ((body as { lesson?: unknown } | undefined)?.lesson === undefined)
        throw new HttpError(400, 'invalid', 'lesson: the lesson whose start the class goes back to');
      const lesson = lessonFor(body);
      // One student at a time: a class of resets at once would be a burst of container removals.
      const students: unknown[] = [];
      for (const student of [...workshop.students.values()]) {
        try {
          const done = await resetStudent(workshop, student, lesson, 'class');
          if (done) students.push(done);
        } catch (err) {
          deps.log?.(`workshop ${workshop.code}: reset of ${student.name}: ${(err as Error).message}`);
          students.push({ student: student.id, name: student.name, error: (err as Error).message });
        }
      }
      sendJson(res, 200, { lesson: lesson.id, students });
    },
    none,
  );

  router.post(
    '/api/workshop/broadcast',
    (req, res, { body }) => {
      const workshop = requireTeacher(req);
      const text = (body as { text?: unknown } | undefined)?.text;
      if (typeof text !== 'string' || text.length > 2000)
        throw new HttpError(400, 'invalid', 'text: the message, at most 500 characters ("" takes it down)');
      if (!workshop.active) throw new HttpError(409, 'ended', 'This workshop has ended.');
      const broadcast = workshop.setBroadcast(text);
      deps.classroom.sync(workshop);
      sendJson(res, 200, { broadcast: broadcast ?? null });
    },
    none,
  );

  router.post(
    '/api/workshop/call',
    (req, res, { body }) => {
      const workshop = requireTeacher(req);
      const lesson = (body as { lesson?: unknown } | undefined)?.lesson;
      if (!workshop.active) throw new HttpError(409, 'ended', 'This workshop has ended.');
      if (lesson !== null && !courseLessons().some((l) => l.id === lesson))
        throw new HttpError(400, 'invalid', 'lesson: a lesson of the course (null takes the banner down)');
      const call = workshop.callTo(lesson === null ? undefined : String(lesson));
      deps.classroom.sync(workshop);
      sendJson(res, 200, { call: call ?? null });
    },
    none,
  );

  router.post(
    '/api/workshop/pause',
    (req, res, { body }) => {
      const workshop = requireTeacher(req);
      const paused = (body as { paused?: unknown } | undefined)?.paused;
      if (typeof paused !== 'boolean') throw new HttpError(400, 'invalid', 'paused: true or false');
      if (!workshop.active) throw new HttpError(409, 'ended', 'This workshop has ended.');
      workshop.setPaused(paused);
      deps.classroom.sync(workshop);
      sendJson(res, 200, { paused: workshop.paused ?? null });
    },
    none,
  );

  router.post(
    '/api/workshop/lower-hand',
    (req, res, { body }) => {
      const workshop = requireTeacher(req);
      const student = studentIn(workshop, body);
      workshop.setHand(student.id, false);
      deps.classroom.sync(workshop, [student]);
      sendJson(res, 200, { lowered: student.id });
    },
    none,
  );

  router.post(
    '/api/workshop/end',
    async (req, res) => {
      const workshop = requireTeacher(req);
      const destroyed = await endWorkshop(workshop, deps);
      sendJson(res, 200, { ended: workshop.ended, destroyed });
    },
    none,
  );

  // ---- admin ---------------------------------------------------------------------------------

  router.post(
    '/api/workshop',
    async (req, res, { body }) => {
      const adminPassword = deps.adminPassword;
      if (!adminPassword) {
        throw new HttpError(
          403,
          'disabled',
          'starting workshops needs the server started with --admin-password',
        );
      }
      const input = (body ?? {}) as {
        adminPassword?: unknown;
        name?: unknown;
        seats?: unknown;
        teacherPassword?: unknown;
      };
      const tried = await teachers.tryPassword(requestInfo(req).client, () =>
        verifyPassword(input.adminPassword, adminPassword),
      );
      if (tried === 'limited' || tried === 'busy') return tooManyTries(res, tried, teachers.windowMs);
      if (tried !== 'ok') throw new HttpError(401, 'wrong_password', 'Wrong admin password.');
      const generated = input.teacherPassword === undefined ? generatePassword() : undefined;
      const teacherPassword = generated ?? input.teacherPassword;
      if (typeof input.name !== 'string' || typeof teacherPassword !== 'string') {
        throw new HttpError(400, 'invalid', 'name and teacherPassword must be strings');
      }
      let workshop: Workshop;
      try {
        workshop = await workshops.create({
          name: input.name,
          seats: input.seats === undefined ? 30 : Number(input.seats),
          teacherPassword,
        });
      } catch (err) {
        if (err instanceof WorkshopError) throw new HttpError(400, 'invalid', err.message);
        throw err;
      }
      sendJson(res, 201, {
        id: workshop.id,
        name: workshop.name,
        code: workshop.code,
        seats: workshop.seats,
        joinUrl: joinUrl(req, workshop, deps.publicUrl),
        teacherUrl: new URL('/teacher', joinUrl(req, workshop, deps.publicUrl)).href,
        ...(generated ? { teacherPassword: generated } : {}),
      });
    },
    none,
  );
}

/** Ends the workshop and destroys every student's sandbox; returns how many sessions were disposed. */
export async function endWorkshop(
  workshop: Workshop,
  deps: Pick<WorkshopDeps, 'sessions' | 'teachers'>,
): Promise<number> {
  workshop.end();
  const ids = [...workshop.students.values()]
    .map((s) => s.sessionId)
    .filter((id): id is string => id !== undefined && deps.sessions.get(id) !== undefined);
  await Promise.all(ids.map((id) => deps.sessions.dispose(id)));
  return ids.length;
}

/** The dashboard's JSON: the workshop's state plus the course grid, idle times and help flags. */
export function dashboardState(
  workshop: Workshop,
  getSession: (id: string) => Session | undefined,
  stuck: StuckThresholds,
  now = Date.now(),
  /** In a cluster, this node's id: other nodes' students show the terminals their node published. */
  node?: string,
): WorkshopState {
  const state = workshop.state();
  const lessons = lessonCatalog();
  state.course = courseLessons().map(({ id, order, title }) => ({ id, order, title }));
  state.lessons = lessons.map((l) => ({
    id: l.id,
    title: l.title,
    checks: l.checks.map(({ id, title }) => ({ id, title })),
  }));
  for (const student of state.students) {
    const session = student.session ? getSession(student.session) : undefined;
    // A student held by another cluster node: the terminals that node last published.
    const remote = !session && student.node !== undefined && student.node !== node;
    student.terminals =
      student.left !== undefined
        ? []
        : session
          ? [...session.terminals.keys()]
          : remote
            ? (student.terminals ?? [])
            : [];
    student.idleSeconds = Math.max(0, Math.floor((now - Date.parse(student.lastActive)) / 1000));
    student.steps = stepStatuses(student, lessons);
    student.needsHelp = workshop.active ? needsHelp(student, lessons, now, stuck) : [];
  }
  return state;
}

/** 429 for a password try that was not checked: the address's tries are used up, or the server is busy hashing. */
function tooManyTries(res: ServerResponse, why: 'limited' | 'busy', windowMs: number): void {
  const message =
    why === 'limited'
      ? 'Too many wrong passwords; wait a minute and try again.'
      : 'Too many sign-ins at once; try again in a moment.';
  const retryAfter = why === 'limited' ? Math.ceil(windowMs / 1000) : 1;
  sendJson(res, 429, { error: { code: 'rate_limited', message } }, { 'retry-after': String(retryAfter) });
}

/**
 * The join link: under the operator's `--public-url` when there is one (what students' devices can
 * reach, whatever address the teacher's browser used), else as the teacher's browser reached us (a
 * trusted proxy's scheme and host included).
 */
export function joinUrl(req: IncomingMessage, workshop: Workshop, publicUrl?: string): string {
  if (publicUrl)
    return new URL(`join/${workshop.code}`, publicUrl.endsWith('/') ? publicUrl : `${publicUrl}/`).href;
  const { scheme, host } = requestInfo(req);
  return `${scheme}://${host || 'localhost'}/join/${workshop.code}`;
}

const qrCache = new Map<string, string>();

/** The join link as a QR code, an SVG drawn here (no outside service), kept per link. */
async function qrSvg(url: string): Promise<string> {
  let svg = qrCache.get(url);
  if (!svg) {
    svg = await QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    if (qrCache.size > 16) qrCache.clear();
    qrCache.set(url, svg);
  }
  return svg;
}

/** A sandbox's containers (name and image) and images (by name), as a reset notice lists them. */
async function sandboxContents(ctx: EngineContext): Promise<{ containers: string[]; images: string[] }> {
  const records = await readAllRecords(ctx);
  const images: string[] = [];
  for (const image of await listImages(ctx)) {
    if (image.repoTags.length === 0)
      images.push(`${image.id.replace(/^sha256:/, '').slice(0, 12)} (untagged)`);
    for (const tag of image.repoTags) images.push(shortName(tag));
  }
  return {
    containers: records.filter((r) => !r.external).map((r) => `${r.name} (${shortName(r.image)})`),
    images,
  };
}

function shortName(ref: string): string {
  try {
    return familiarName(parseReference(ref)).replace(/:latest$/, '');
  } catch {
    return ref;
  }
}

/** Resets one student's sandbox on this node to `lesson`'s start and leaves them a notice of what went. */
export async function resetStudentHere(
  deps: Pick<WorkshopDeps, 'sessions' | 'resetSession' | 'classroom'>,
  workshop: Workshop,
  student: Student,
  lesson: CourseLesson,
  scope: 'student' | 'class',
): Promise<RemoteResetResult | undefined> {
  const session = student.sessionId !== undefined ? deps.sessions.get(student.sessionId) : undefined;
  if (!session || session.disposed || student.left !== undefined) return undefined;
  const before = await sandboxContents(session.ctx);
  await deps.resetSession(session, lesson.start);
  const after = await sandboxContents(session.ctx);
  const notice = {
    scope,
    lesson: lesson.id,
    // Every container goes (the lesson's own are made afresh); images not in the start go too.
    removedContainers: before.containers.slice(0, 200),
    removedImages: before.images.filter((i) => !after.images.includes(i)).slice(0, 200),
  };
  workshop.noteReset(student.id, notice);
  deps.classroom.sync(workshop, [student]);
  return { student: student.id, name: student.name, ...notice };
}
