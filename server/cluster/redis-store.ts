// The workshop store of a cluster: every workshop and student record in Redis, so any node can serve
// the teacher's dashboard and any node can re-seat a student. A write goes to Redis and is published
// on the changes channel in one transaction, so other nodes apply changes in the order they were made.
// `load()` answers from a snapshot read when the node starts (the WorkshopStore interface is
// synchronous); later changes reach the node through the channel.

import type { Redis } from 'ioredis';
import type { ClusterChange } from '../workshop/cluster-link.ts';
import {
  type StoredWorkshop,
  type StudentRecord,
  studentRecordSchema,
  type WorkshopRecord,
  type WorkshopStore,
  workshopRecordSchema,
} from '../workshop/store.ts';
import { keys } from './keys.ts';
import { type ChangeMessage, parseJson } from './messages.ts';

export class RedisWorkshopStore implements WorkshopStore {
  readonly #redis: Redis;
  readonly #node: string;
  readonly #log: (message: string) => void;
  #snapshot: StoredWorkshop[] = [];

  private constructor(redis: Redis, node: string, log: (message: string) => void) {
    this.#redis = redis;
    this.#node = node;
    this.#log = log;
  }

  /** Opens the store over a connected client, reading every workshop kept so far. */
  static async open(
    redis: Redis,
    options: { node: string; log: (message: string) => void },
  ): Promise<RedisWorkshopStore> {
    const store = new RedisWorkshopStore(redis, options.node, options.log);
    store.#snapshot = await store.read();
    return store;
  }

  /** Every workshop in Redis now, oldest first, each with its students in joining order. */
  async read(): Promise<StoredWorkshop[]> {
    const out: StoredWorkshop[] = [];
    for (const id of await this.#redis.zrange(keys.workshops, 0, -1)) {
      const workshop = parseJson(workshopRecordSchema, await this.#redis.get(keys.workshop(id)));
      if (!workshop) {
        this.#log(`cluster store: workshop ${id}: missing or not a workshop record; skipped`);
        continue;
      }
      const order = await this.#redis.zrange(keys.order(id), 0, -1);
      const records = order.length > 0 ? await this.#redis.hmget(keys.students(id), ...order) : [];
      const students: StudentRecord[] = [];
      records.forEach((text, i) => {
        const student = parseJson(studentRecordSchema, text);
        if (student) students.push(student);
        else if (text !== null)
          this.#log(`cluster store: student ${order[i]}: not a student record; skipped`);
      });
      out.push({ workshop, students });
    }
    return out;
  }

  saveWorkshop(record: WorkshopRecord): void {
    this.#write(
      this.#redis
        .multi()
        .set(keys.workshop(record.id), JSON.stringify(record))
        .zadd(keys.workshops, 'NX', Date.parse(record.created) || Date.now(), record.id),
      { kind: 'workshop', record },
    );
  }

  saveStudent(workshopId: string, record: StudentRecord): void {
    const tx = this.#redis
      .multi()
      .hset(keys.students(workshopId), record.id, JSON.stringify(record))
      .zadd(keys.order(workshopId), 'NX', Date.parse(record.joinedAt) || Date.now(), record.id);
    if (record.left === undefined) tx.sadd(keys.present(workshopId), record.id);
    else tx.srem(keys.present(workshopId), record.id);
    this.#write(tx, { kind: 'student', workshopId, record });
  }

  deleteStudent(workshopId: string, studentId: string): void {
    this.#write(
      this.#redis
        .multi()
        .hdel(keys.students(workshopId), studentId)
        .zrem(keys.order(workshopId), studentId)
        .srem(keys.present(workshopId), studentId),
      { kind: 'student-removed', workshopId, studentId },
    );
  }

  load(): StoredWorkshop[] {
    return structuredClone(this.#snapshot);
  }

  /** The connection belongs to the cluster, which closes it. */
  close(): void {}

  /** Publishes a change other nodes apply but that is not kept (a teacher's sign-in). */
  publish(change: ClusterChange): void {
    this.#write(this.#redis.multi(), change);
  }

  #write(tx: ReturnType<Redis['multi']>, change: ClusterChange): void {
    const message: ChangeMessage = { from: this.#node, change };
    tx.publish(keys.changes, JSON.stringify(message))
      .exec()
      .catch((err: Error) => this.#log(`cluster store: ${change.kind} not written: ${err.message}`));
  }
}
