// What classroom mode needs from a cluster (`layerlab serve --cluster`): the other nodes' changes to
// the shared workshops, which nodes are alive and have room, seats counted across every node, and a
// way to run a teacher's action on the node that holds a student's sandbox. server/cluster/ builds it
// over Redis; without a cluster the classroom runs alone and none of this is used.

import type { StudentRecord, WorkshopRecord } from './store.ts';
import type { Grant } from './teacher-auth.ts';

/** A change another node made, as it reaches this one. */
export type ClusterChange =
  | { kind: 'workshop'; record: WorkshopRecord }
  | { kind: 'student'; workshopId: string; record: StudentRecord }
  | { kind: 'student-removed'; workshopId: string; studentId: string }
  | { kind: 'teacher-grant'; key: string; grant?: Grant };

/** What a teacher's reset did on the node that ran it (the same shape a local reset answers). */
export interface RemoteResetResult {
  student: string;
  name: string;
  scope: 'student' | 'class';
  lesson: string;
  removedContainers: string[];
  removedImages: string[];
}

/** A teacher's action on a student whose session another node holds. */
export type ClusterCommand =
  | { action: 'dispose'; sessionId: string; reason: string }
  | { action: 'reset'; workshopId: string; studentId: string; lesson: string; scope: 'student' | 'class' };

export interface ClusterCommandHandlers {
  dispose(sessionId: string, reason: string): Promise<void>;
  reset(command: Extract<ClusterCommand, { action: 'reset' }>): Promise<RemoteResetResult | undefined>;
}

/** A seat held cluster-wide while a join completes. */
export interface ClusterSeat {
  commit(): void;
  release(): void;
}

export interface ClusterLink {
  /** This node's id (`--node-id`). */
  readonly node: string;
  /** Set while the node drains: it admits no one and its readiness fails. */
  readonly draining: boolean;
  /** Changes other nodes made, in the order they made them. */
  onChange(listener: (change: ClusterChange) => void): () => void;
  /** True while `node` has been heard from (its heartbeat has not expired); read fresh. */
  isAlive(node: string): Promise<boolean>;
  /** The last reading of `isAlive`, without asking (for sweeps). */
  aliveNow(node: string): boolean;
  /** The live, not draining node with the most free room besides this one, if any has room (read fresh). */
  nodeWithRoom(): Promise<string | undefined>;
  /** This node's sessions were made or ended: its room is told to the others now, not at the next beat. */
  capacityChanged(): void;
  /** Holds one of the workshop's seats across the cluster; undefined when every seat is taken. */
  reserveSeat(workshop: { id: string; seats: number }): Promise<ClusterSeat | undefined>;
  /** Takes `key` for `ms` unless another node holds it (one node re-seats a student, not two). */
  claim(key: string, ms: number): Promise<boolean>;
  /** Gives back a claim this node holds (one that failed half-way, so another node may try at once). */
  unclaim(key: string): Promise<void>;
  /** Runs `command` on `node` and waits for its answer (rejects after a few seconds). */
  send(node: string, command: ClusterCommand): Promise<RemoteResetResult | undefined>;
  /** Where this node runs the commands other nodes send it. */
  handleCommands(handlers: ClusterCommandHandlers): void;
  /** Shares a teacher's sign-in (or sign-out, `undefined`) with every node. */
  shareGrant(key: string, grant: Grant | undefined): void;
  /** Teacher sign-ins shared before this node started. */
  grants(): Promise<[string, Grant][]>;
}
