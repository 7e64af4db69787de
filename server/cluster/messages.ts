// What nodes tell each other through Redis, as zod schemas: a node's status (its heartbeat), the
// changes published for other nodes' dashboards, and commands with their answers. Everything read
// from Redis is parsed here, never trusted into shape: another node may run another version.

import { z } from 'zod';
import { studentRecordSchema, workshopRecordSchema } from '../workshop/store.ts';

const id = z.string().min(1).max(200);

export const nodeStatusSchema = z.object({
  id,
  /** Sessions the node can still take. */
  free: z.number().int(),
  sessions: z.number().int().min(0),
  maxSessions: z.number().int().min(0),
  draining: z.boolean(),
  /** Milliseconds since the epoch of this heartbeat. */
  at: z.number(),
});
export type NodeStatus = z.infer<typeof nodeStatusSchema>;

export const grantSchema = z.object({ workshopId: id, expires: z.number() });

export const changeMessageSchema = z.object({
  from: id,
  change: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('workshop'), record: workshopRecordSchema }),
    z.object({ kind: z.literal('student'), workshopId: id, record: studentRecordSchema }),
    z.object({ kind: z.literal('student-removed'), workshopId: id, studentId: id }),
    z.object({ kind: z.literal('teacher-grant'), key: id, grant: grantSchema.optional() }),
  ]),
});
export type ChangeMessage = z.infer<typeof changeMessageSchema>;

export const commandSchema = z.discriminatedUnion('action', [
  z.object({ action: z.literal('dispose'), sessionId: id, reason: z.string().max(500) }),
  z.object({
    action: z.literal('reset'),
    workshopId: id,
    studentId: id,
    lesson: z.string().max(200),
    scope: z.enum(['student', 'class']),
  }),
]);

export const commandMessageSchema = z.object({ id, from: id, command: commandSchema });

export const resetResultSchema = z.object({
  student: id,
  name: z.string().max(200),
  scope: z.enum(['student', 'class']),
  lesson: z.string().max(200),
  removedContainers: z.array(z.string().max(400)).max(200),
  removedImages: z.array(z.string().max(400)).max(200),
});

export const replyMessageSchema = z.object({
  id,
  ok: z.boolean(),
  result: resetResultSchema.optional(),
  error: z.string().max(1000).optional(),
});

/** Parses a JSON text with `schema`; undefined when it is not JSON or not of that shape. */
export function parseJson<T>(schema: z.ZodType<T>, text: string | null | undefined): T | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
