// The default workshop store: one SQLite file in the server's state root (`<root>/workshop.db`) through
// Node's built-in `node:sqlite`, so a restarted `layerlab serve --workshop` finds its class and their
// progress. One row per workshop and per student seat, each a JSON record checked by its zod schema
// when read back; a row that no longer parses is reported and skipped, not trusted.

import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import {
  type StoredWorkshop,
  type StudentRecord,
  studentRecordSchema,
  type WorkshopRecord,
  type WorkshopStore,
  workshopRecordSchema,
} from './store.ts';

/** The store's file in a server's state root. */
export function workshopDbPath(root: string): string {
  return join(root, 'workshop.db');
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS workshops (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    created TEXT NOT NULL,
    record TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS students (
    workshop_id TEXT NOT NULL REFERENCES workshops(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (workshop_id, id)
  );
`;

export class SqliteWorkshopStore implements WorkshopStore {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #saveWorkshop: StatementSync;
  readonly #saveStudent: StatementSync;
  readonly #deleteStudent: StatementSync;
  readonly #log: (message: string) => void;

  constructor(path: string, options: { log?: (message: string) => void } = {}) {
    this.path = path;
    this.#log = options.log ?? (() => {});
    mkdirSync(dirname(path), { recursive: true });
    this.#db = new DatabaseSync(path, { enableForeignKeyConstraints: true });
    // WAL: a write is one append, and a crash loses at most the change being written.
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 2000;');
    this.#db.exec(SCHEMA);
    this.#saveWorkshop = this.#db.prepare(
      `INSERT INTO workshops (id, code, created, record) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET code = excluded.code, record = excluded.record`,
    );
    // `seq` keeps joining order across rewrites of the record.
    this.#saveStudent = this.#db.prepare(
      `INSERT INTO students (workshop_id, id, seq, record)
       VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM students), ?)
       ON CONFLICT (workshop_id, id) DO UPDATE SET record = excluded.record`,
    );
    this.#deleteStudent = this.#db.prepare('DELETE FROM students WHERE workshop_id = ? AND id = ?');
  }

  saveWorkshop(record: WorkshopRecord): void {
    this.#saveWorkshop.run(record.id, record.code, record.created, JSON.stringify(record));
  }

  saveStudent(workshopId: string, record: StudentRecord): void {
    this.#saveStudent.run(workshopId, record.id, JSON.stringify(record));
  }

  deleteStudent(workshopId: string, studentId: string): void {
    this.#deleteStudent.run(workshopId, studentId);
  }

  load(): StoredWorkshop[] {
    const out: StoredWorkshop[] = [];
    const byId = new Map<string, StoredWorkshop>();
    for (const row of this.#db.prepare('SELECT id, record FROM workshops ORDER BY created, id').all()) {
      const workshop = parseRow(workshopRecordSchema, row.record);
      if (!workshop.ok) {
        this.#log(`workshop store ${this.path}: workshop ${String(row.id)}: ${workshop.message}; skipped`);
        continue;
      }
      const stored = { workshop: workshop.value, students: [] };
      byId.set(workshop.value.id, stored);
      out.push(stored);
    }
    for (const row of this.#db.prepare('SELECT workshop_id, id, record FROM students ORDER BY seq').all()) {
      const stored = byId.get(String(row.workshop_id));
      if (!stored) continue;
      const student = parseRow(studentRecordSchema, row.record);
      if (!student.ok) {
        this.#log(`workshop store ${this.path}: student ${String(row.id)}: ${student.message}; skipped`);
        continue;
      }
      stored.students.push(student.value);
    }
    return out;
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}

function parseRow<T>(
  schema: {
    safeParse(
      input: unknown,
    ):
      | { success: true; data: T }
      | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } };
  },
  text: unknown,
): { ok: true; value: T } | { ok: false; message: string } {
  if (typeof text !== 'string') return { ok: false, message: 'the record is not text' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, message: `the record is not JSON (${(err as Error).message})` };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  return { ok: false, message: `${issue?.path.join('.') || 'record'}: ${issue?.message ?? 'invalid'}` };
}
