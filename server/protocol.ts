// The WebSocket protocol between a lesson page and the server: zod schemas for every JSON control
// message (one discriminated union per direction) and the binary terminal frame `[channel][bytes]`.
// Imported by the server and the site; it depends on nothing but zod and the request table (engine
// and result types are type-only).

import { z } from 'zod';
import type { EngineEvent } from '../engine/events.ts';
import { type RequestName, requestSchemas } from './requests.ts';
import type { ClassroomView } from './workshop/classroom.ts';

/** Largest WebSocket message the server accepts (JSON or binary); bigger closes the socket (1009). */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/** A terminal's name as the page chooses it (`main`, `left`, `t1`): short and path-safe. */
export const terminalNameSchema = z
  .string()
  .min(1, 'terminal name is empty')
  .max(64, 'terminal name is longer than 64 characters')
  .regex(/^[A-Za-z0-9_.-]+$/, 'terminal name may hold only letters, digits, ".", "_" and "-"');

const colsSchema = z.number().int().min(2).max(1000);
const rowsSchema = z.number().int().min(1).max(500);
/** Correlates a request (`check`, `reset`, `state.get`, …) with its `result` or `error`. */
export const requestIdSchema = z.string().min(1).max(64);

/** The WebSocket message of request `name`: its input's fields beside `type` and `id`. */
function requestMessage<K extends RequestName, S extends z.ZodRawShape>(
  name: K,
  input: z.ZodObject<S, z.core.$strict>,
) {
  return input.extend({ type: z.literal(name), id: requestIdSchema });
}

// ---- client → server -------------------------------------------------------------------------

export const clientMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('terminal.open'),
    terminal: terminalNameSchema,
    cols: colsSchema,
    rows: rowsSchema,
  }),
  z.object({
    type: z.literal('terminal.resize'),
    terminal: terminalNameSchema,
    cols: colsSchema,
    rows: rowsSchema,
  }),
  /**
   * Click-to-run: types `command` into the terminal's prompt and runs it. With an `id`, the server
   * answers `terminal.ran` as the run starts (or is refused) and once the terminal is idle again.
   */
  z.object({
    type: z.literal('terminal.run'),
    terminal: terminalNameSchema,
    command: z.string().max(8192),
    id: requestIdSchema.optional(),
  }),
  z.object({ type: z.literal('terminal.close'), terminal: terminalNameSchema }),
  // The session API's requests (requests.ts): `{ type: <request name>, id, ...input }`.
  requestMessage('state.get', requestSchemas['state.get']),
  requestMessage('state.which-layer', requestSchemas['state.which-layer']),
  requestMessage('state.file', requestSchemas['state.file']),
  requestMessage('state.host', requestSchemas['state.host']),
  requestMessage('check', requestSchemas.check),
  requestMessage('answer', requestSchemas.answer),
  requestMessage('reset', requestSchemas.reset),
  requestMessage('prepare', requestSchemas.prepare),
  requestMessage('visit', requestSchemas.visit),
  requestMessage('workspace.list', requestSchemas['workspace.list']),
  requestMessage('workspace.read', requestSchemas['workspace.read']),
  requestMessage('workspace.write', requestSchemas['workspace.write']),
  requestMessage('workspace.seed', requestSchemas['workspace.seed']),
  z.object({ type: z.literal('ping') }),
]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;
export type ClientMessageType = ClientMessage['type'];
/** A request as it travels over the WebSocket. */
export type RequestMessage = Extract<ClientMessage, { id: string }>;

// Every request of the table travels over the WebSocket too: a name missing above fails to compile.
const everyRequestHasAMessage: [RequestName] extends [RequestMessage['type']] ? true : never = true;
void everyRequestHasAMessage;

// ---- server → client -------------------------------------------------------------------------

/** Error codes an `error` frame or a failed `result` carries; the message says the rest in words. */
export const errorCodeSchema = z.enum([
  'bad_json', // a text frame that is not JSON
  'invalid_message', // JSON that does not match ClientMessage
  'bad_frame', // a binary frame without a known channel
  'rate_limited', // too many messages; persistent abuse closes with 1008
  'too_large', // a message over MAX_MESSAGE_BYTES (the socket closes with 1009)
  'no_such_terminal', // resize/run/close of a terminal that is not open
  'limit', // a session or server limit (terminals, containers, sessions)
  'internal', // an unexpected failure; details are in the server log, never here
  'failed', // the request ran and failed (e.g. a reset whose target is unknown)
]);
export type ErrorCode = z.infer<typeof errorCodeSchema>;

/**
 * A session event as it travels: the engine's `EngineEvent`, the upper-dir watcher's `fs.change`
 * and the shell's `terminal.command`. On the wire it is checked only for its `type`, so the site
 * keeps working when the engine adds an event kind.
 */
export type SessionEvent =
  | EngineEvent
  | {
      type: 'fs.change';
      container: string;
      path: string;
      kind: 'A' | 'C' | 'D';
      copyUp?: { from: string };
      whiteout?: boolean;
    }
  | { type: 'terminal.command'; terminal: string; command: string; exitCode: number; durationMs?: number }
  /** A workshop student's page: what the teacher's room says now (server/workshop/classroom.ts). */
  | { type: 'workshop.classroom'; view: ClassroomView };
export const sessionEventSchema = z.looseObject({ type: z.string() });

export const workshopInfoSchema = z.looseObject({ name: z.string() });

export const serverMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('welcome'), session: z.string(), workshop: workshopInfoSchema.optional() }),
  /** `replay` is the terminal's current screen (serialised escape sequences) to write before output. */
  z.object({
    type: z.literal('terminal.opened'),
    terminal: terminalNameSchema,
    channel: z.number().int().min(0).max(255),
    replay: z.string(),
  }),
  z.object({
    type: z.literal('terminal.mode'),
    terminal: terminalNameSchema,
    mode: z.enum(['shell', 'container']),
    container: z.string().optional(),
  }),
  z.object({ type: z.literal('terminal.closed'), terminal: terminalNameSchema }),
  /**
   * What became of a click-to-run `terminal.run` with an `id`: `started` or `queued` (behind the
   * command in progress), then `done` once the terminal is idle; or `refused` — `container` while the
   * terminal is inside a container's session (the line would go to the container's program, or wait
   * for its `exit`), `busy` when the run queue is full, `closed` when the terminal is not open.
   */
  z.object({
    type: z.literal('terminal.ran'),
    terminal: terminalNameSchema,
    id: requestIdSchema,
    status: z.enum(['started', 'queued', 'refused', 'done']),
    reason: z.enum(['container', 'busy', 'closed', 'paused']).optional(),
  }),
  z.object({ type: z.literal('event'), event: sessionEventSchema }),
  z.object({
    type: z.literal('result'),
    id: requestIdSchema,
    ok: z.boolean(),
    data: z.unknown().optional(),
    error: z.object({ code: errorCodeSchema, message: z.string() }).optional(),
  }),
  z.object({
    type: z.literal('error'),
    code: errorCodeSchema,
    message: z.string(),
    id: requestIdSchema.optional(),
  }),
  z.object({ type: z.literal('pong') }),
]);
export type ServerMessage = z.infer<typeof serverMessageSchema>;
export type ServerMessageOf<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

// ---- parsing and framing ---------------------------------------------------------------------

export type ParseResult =
  | { ok: true; message: ClientMessage }
  | { ok: false; code: 'bad_json' | 'invalid_message'; message: string };

/** Parses one text frame; never throws. The error message names the field, as Starlight's do. */
export function parseClientMessage(text: string): ParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, code: 'bad_json', message: 'message is not valid JSON' };
  }
  const parsed = clientMessageSchema.safeParse(raw);
  if (parsed.success) return { ok: true, message: parsed.data };
  return { ok: false, code: 'invalid_message', message: describeIssue(raw, parsed.error) };
}

function describeIssue(raw: unknown, error: z.ZodError): string {
  const type = (raw as { type?: unknown } | null)?.type;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return 'message must be a JSON object';
  if (typeof type !== 'string') return 'message has no "type"';
  const known = clientMessageSchema.options.map((o) => o.shape.type.value);
  if (!(known as string[]).includes(type)) {
    return `unknown message type ${JSON.stringify(type.slice(0, 40))} (expected one of: ${known.join(', ')})`;
  }
  const issue = error.issues[0];
  const path = issue?.path.join('.') || '(message)';
  return `${type}: ${path}: ${issue?.message ?? 'invalid'}`;
}

/** A binary terminal frame: one byte of channel, then the terminal's bytes. */
export function encodeTerminalFrame(channel: number, payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(payload.length + 1);
  frame[0] = channel;
  frame.set(payload, 1);
  return frame;
}

export function decodeTerminalFrame(frame: Uint8Array): { channel: number; payload: Buffer } | undefined {
  if (frame.length < 1) return undefined;
  const buf = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  return { channel: buf[0]!, payload: buf.subarray(1) };
}

/** Close codes the server uses (RFC 6455 and ws). */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  policy: 1008,
  tooBig: 1009,
  /** The session ended (reaped, reset by a teacher, workshop over): do not reconnect. */
  sessionEnded: 4000,
} as const;
