// Admission control for workshop joins: a student is let in only while the workshop has a free seat
// and the machine has room (server-wide sessions, running containers, free memory). The answer is
// immediate — a join never waits for capacity — and says why and when to try again.

import { freemem } from 'node:os';

export interface CapacityLimits {
  /** Sessions alive at once on this node (the server's `maxSessions`). */
  maxSessions: number;
  /** Running containers across every session on this node. */
  maxRunningContainers: number;
  /** Memory that must stay free after admitting one more student (their containers need it). */
  minFreeMemoryBytes: number;
}

export const DEFAULT_CAPACITY: CapacityLimits = {
  maxSessions: 200,
  maxRunningContainers: 400,
  minFreeMemoryBytes: 512 * 1024 * 1024,
};

export interface MachineLoad {
  sessions: number;
  runningContainers: number;
  freeMemoryBytes: number;
}

export type AdmissionRefusal = {
  ok: false;
  reason: 'ended' | 'seats' | 'sessions' | 'containers' | 'memory';
  /** A sentence for the student's page. */
  message: string;
  /** For `Retry-After`; 0 when trying again will not help (the workshop ended). */
  retryAfterSeconds: number;
};
export type Admission = { ok: true } | AdmissionRefusal;

/** What a student reads when every seat is taken (here, or on another node of a cluster). */
export function seatsTakenMessage(seats: number): string {
  return `This workshop is full: all ${seats} seats are taken. Ask your teacher for a seat.`;
}

/** Pure: decides from the workshop's seats and a load reading. */
export function decideAdmission(
  workshop: { active: boolean; seats: number; seatsTaken: number },
  limits: CapacityLimits,
  load: MachineLoad,
): Admission {
  if (!workshop.active) {
    return { ok: false, reason: 'ended', message: 'This workshop has ended.', retryAfterSeconds: 0 };
  }
  if (workshop.seatsTaken >= workshop.seats) {
    return {
      ok: false,
      reason: 'seats',
      message: seatsTakenMessage(workshop.seats),
      retryAfterSeconds: 60,
    };
  }
  const machineFull = 'This workshop is full: the server has no room for another student right now.';
  if (load.sessions >= limits.maxSessions) {
    return { ok: false, reason: 'sessions', message: machineFull, retryAfterSeconds: 30 };
  }
  if (load.runningContainers >= limits.maxRunningContainers) {
    return { ok: false, reason: 'containers', message: machineFull, retryAfterSeconds: 30 };
  }
  if (load.freeMemoryBytes < limits.minFreeMemoryBytes) {
    return { ok: false, reason: 'memory', message: machineFull, retryAfterSeconds: 30 };
  }
  return { ok: true };
}

/**
 * Reads the load, caching the container count briefly: counting walks every session's containers,
 * and a class joining at once would otherwise walk them once per student.
 */
export function createLoadProbe(sources: {
  sessions: () => number;
  runningContainers: () => Promise<number>;
  freeMemoryBytes?: () => number;
  cacheMs?: number;
}): () => Promise<MachineLoad> {
  const cacheMs = sources.cacheMs ?? 1000;
  let cached: { at: number; value: number } | undefined;
  return async () => {
    const now = Date.now();
    if (!cached || now - cached.at > cacheMs) {
      cached = { at: now, value: await sources.runningContainers() };
    }
    return {
      sessions: sources.sessions(),
      runningContainers: cached.value,
      freeMemoryBytes: (sources.freeMemoryBytes ?? freemem)(),
    };
  };
}
