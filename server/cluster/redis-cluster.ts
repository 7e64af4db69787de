// A node's membership of a cluster (`layerlab serve --cluster redis://HOST:PORT --node-id NAME`): its
// heartbeat with its free capacity, the directory of the other nodes, the changes channel, seats
// counted across every node, claims, and commands run on the node holding a session. Implements the
// ClusterLink classroom mode uses; the workshop records themselves are in RedisWorkshopStore.

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type {
  ClusterChange,
  ClusterCommand,
  ClusterCommandHandlers,
  ClusterLink,
  ClusterSeat,
  RemoteResetResult,
} from '../workshop/cluster-link.ts';
import type { Grant } from '../workshop/teacher-auth.ts';
import { ClusterError, checkNodeId, parseClusterUrl, shownUrl } from './address.ts';
import { keys } from './keys.ts';
import {
  changeMessageSchema,
  commandMessageSchema,
  grantSchema,
  type NodeStatus,
  nodeStatusSchema,
  parseJson,
  replyMessageSchema,
} from './messages.ts';
import { RedisWorkshopStore } from './redis-store.ts';

/** How often a node says it is alive, and how long that lasts: a node killed is gone within 3 s. */
export const HEARTBEAT_MS = 1000;
export const HEARTBEAT_TTL_MS = 3000;
/** A command not answered in this long fails (a reset removes containers: it may take a while). */
const COMMAND_TIMEOUT_MS = 30_000;
/** A join holds its seat this long at most if its node dies half-way. */
const SEAT_HOLD_MS = 30_000;

const RESERVE_SEAT = `
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
if redis.call('SCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
return 1`;

/** Deletes a claim only while this node still holds it (it may have lapsed and gone to another). */
const UNCLAIM = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`;

export interface ClusterOptions {
  url: string;
  node: string;
  /** This node's own room, read at every heartbeat. */
  capacity(): { sessions: number; maxSessions: number; free: number };
  log: (message: string) => void;
}

export class RedisCluster implements ClusterLink {
  readonly node: string;
  readonly store: RedisWorkshopStore;
  readonly #redis: Redis;
  readonly #sub: Redis;
  readonly #options: ClusterOptions;
  readonly #listeners = new Set<(change: ClusterChange) => void>();
  readonly #pending = new Map<
    string,
    { resolve(r: RemoteResetResult | undefined): void; reject(e: Error): void; timer: NodeJS.Timeout }
  >();
  #handlers: ClusterCommandHandlers | undefined;
  #directory = new Map<string, NodeStatus>();
  #draining = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #beatSoon = false;

  private constructor(redis: Redis, sub: Redis, store: RedisWorkshopStore, options: ClusterOptions) {
    this.#redis = redis;
    this.#sub = sub;
    this.store = store;
    this.node = options.node;
    this.#options = options;
  }

  /** Connects, reads the kept workshops, registers the node and starts its heartbeat. */
  static async join(options: ClusterOptions): Promise<RedisCluster> {
    const url = parseClusterUrl(options.url);
    const node = checkNodeId(options.node);
    const connect = async (): Promise<Redis> => {
      const client = new Redis(url.href, {
        lazyConnect: true,
        maxRetriesPerRequest: 2,
        connectTimeout: 5000,
      });
      // Reconnection errors are reported once each, not as unhandled events. The first one says why
      // the connection failed ("connect ECONNREFUSED …"); connect() itself only says it closed.
      let cause: Error | undefined;
      client.on('error', (err: Error) => {
        cause ??= err;
      });
      try {
        await client.connect();
      } catch (err) {
        client.disconnect();
        throw new ClusterError(
          `cannot reach Redis at ${shownUrl(url)}: ${(cause ?? (err as Error)).message}`,
          shownUrl(url),
        );
      }
      return client;
    };
    const redis = await connect();
    const sub = await connect();
    // A node restarted under the same id (a pod after kill -9) waits for its old heartbeat to lapse;
    // one still beating after that is another live node with this id.
    const deadline = Date.now() + 2 * HEARTBEAT_TTL_MS;
    for (;;) {
      const existing = parseJson(nodeStatusSchema, await redis.get(keys.node(node)));
      if (!existing) break;
      if (Date.now() > deadline) {
        redis.disconnect();
        sub.disconnect();
        throw new ClusterError(
          `node id "${node}" is already in use by a live node (heard ${Date.now() - existing.at} ms ago); give each node its own --node-id`,
          node,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const store = await RedisWorkshopStore.open(redis, { node, log: options.log });
    const cluster = new RedisCluster(redis, sub, store, options);
    await cluster.#start();
    return cluster;
  }

  get draining(): boolean {
    return this.#draining;
  }

  async #start(): Promise<void> {
    this.#sub.on('message', (channel: string, text: string) => this.#receive(channel, text));
    await this.#sub.subscribe(keys.changes, keys.commands(this.node), keys.replies(this.node));
    await this.#beat();
    this.#timer = setInterval(() => void this.#beat(), HEARTBEAT_MS);
    this.#timer.unref();
  }

  /** Says the node is alive with its room, and reads every other node's. */
  async #beat(): Promise<void> {
    if (this.#closed) return;
    const room = this.#options.capacity();
    const status: NodeStatus = {
      id: this.node,
      free: this.#draining ? 0 : room.free,
      sessions: room.sessions,
      maxSessions: room.maxSessions,
      draining: this.#draining,
      at: Date.now(),
    };
    try {
      await this.#redis
        .multi()
        .set(keys.node(this.node), JSON.stringify(status), 'PX', HEARTBEAT_TTL_MS)
        .sadd(keys.nodes, this.node)
        .exec();
      await this.#readDirectory();
    } catch (err) {
      this.#options.log(`cluster: heartbeat: ${(err as Error).message}`);
    }
  }

  /** Reads every node's status as it last said it. */
  async #readDirectory(): Promise<void> {
    const ids = await this.#redis.smembers(keys.nodes);
    const texts = ids.length > 0 ? await this.#redis.mget(...ids.map(keys.node)) : [];
    const directory = new Map<string, NodeStatus>();
    texts.forEach((text) => {
      const node = parseJson(nodeStatusSchema, text);
      if (node) directory.set(node.id, node);
    });
    this.#directory = directory;
  }

  /**
   * This node's sessions changed: say so now rather than at the next heartbeat, so the other nodes
   * send joins by its room as it is (a class joining at once, or freed, within the second).
   */
  capacityChanged(): void {
    if (this.#beatSoon || this.#closed) return;
    this.#beatSoon = true;
    setImmediate(() => {
      this.#beatSoon = false;
      void this.#beat();
    });
  }

  /** The nodes heard from at the last heartbeat. */
  nodes(): NodeStatus[] {
    return [...this.#directory.values()];
  }

  onChange(listener: (change: ClusterChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async isAlive(node: string): Promise<boolean> {
    if (node === this.node) return !this.#closed;
    const status = parseJson(nodeStatusSchema, await this.#redis.get(keys.node(node)));
    if (status) this.#directory.set(node, status);
    else this.#directory.delete(node);
    return status !== undefined;
  }

  aliveNow(node: string): boolean {
    return node === this.node || this.#directory.has(node);
  }

  async nodeWithRoom(): Promise<string | undefined> {
    // Read now: the directory of the last heartbeat may be a second old, and a join sent by it to a
    // node that filled meanwhile (or refused while one freed) goes to the wrong place.
    await this.#readDirectory().catch((err: Error) =>
      this.#options.log(`cluster: reading the nodes: ${err.message}`),
    );
    let best: NodeStatus | undefined;
    for (const node of this.#directory.values()) {
      if (node.id === this.node || node.draining || node.free <= 0) continue;
      if (!best || node.free > best.free) best = node;
    }
    return best?.id;
  }

  async reserveSeat(workshop: { id: string; seats: number }): Promise<ClusterSeat | undefined> {
    const token = randomUUID();
    const now = Date.now();
    const ok = await this.#redis.eval(
      RESERVE_SEAT,
      2,
      keys.present(workshop.id),
      keys.pending(workshop.id),
      workshop.seats,
      now,
      token,
      now + SEAT_HOLD_MS,
    );
    if (ok !== 1) return undefined;
    // The student's record (saved before `commit`, on the same connection) moves the seat from
    // pending to present in Redis's order of commands.
    const drop = () => {
      this.#redis.zrem(keys.pending(workshop.id), token).catch(() => {});
    };
    return { commit: drop, release: drop };
  }

  async claim(key: string, ms: number): Promise<boolean> {
    return (await this.#redis.set(keys.claim(key), this.node, 'PX', ms, 'NX')) === 'OK';
  }

  async unclaim(key: string): Promise<void> {
    await this.#redis.eval(UNCLAIM, 1, keys.claim(key), this.node);
  }

  send(node: string, command: ClusterCommand): Promise<RemoteResetResult | undefined> {
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`node ${node} did not answer`));
      }, COMMAND_TIMEOUT_MS);
      timer.unref();
      this.#pending.set(id, { resolve, reject, timer });
      this.#redis
        .publish(keys.commands(node), JSON.stringify({ id, from: this.node, command }))
        .then((receivers) => {
          if (receivers > 0) return;
          clearTimeout(timer);
          this.#pending.delete(id);
          reject(new Error(`node ${node} is not listening`));
        })
        .catch((err: Error) => {
          clearTimeout(timer);
          this.#pending.delete(id);
          reject(err);
        });
    });
  }

  handleCommands(handlers: ClusterCommandHandlers): void {
    this.#handlers = handlers;
  }

  shareGrant(key: string, grant: Grant | undefined): void {
    const write = grant
      ? this.#redis.set(keys.grant(key), JSON.stringify(grant), 'PX', Math.max(1, grant.expires - Date.now()))
      : this.#redis.del(keys.grant(key));
    write.catch((err: Error) => this.#options.log(`cluster: teacher sign-in not shared: ${err.message}`));
    this.store.publish({ kind: 'teacher-grant', key, ...(grant ? { grant } : {}) });
  }

  async grants(): Promise<[string, Grant][]> {
    const found: [string, Grant][] = [];
    const prefix = keys.grant('');
    for await (const batch of this.#redis.scanStream({ match: keys.grantPattern, count: 200 })) {
      const names = batch as string[];
      if (names.length === 0) continue;
      const texts = await this.#redis.mget(...names);
      texts.forEach((text, i) => {
        const grant = parseJson(grantSchema, text);
        if (grant) found.push([names[i]!.slice(prefix.length), grant]);
      });
    }
    return found;
  }

  /** Draining: no new students here, readiness fails, and the other nodes see no room on it. */
  drain(): void {
    this.#draining = true;
    void this.#beat();
  }

  #receive(channel: string, text: string): void {
    if (channel === keys.changes) {
      const message = parseJson(changeMessageSchema, text);
      if (!message || message.from === this.node) return;
      for (const listener of this.#listeners) listener(message.change);
    } else if (channel === keys.commands(this.node)) {
      const message = parseJson(commandMessageSchema, text);
      if (message) void this.#run(message.id, message.from, message.command);
    } else if (channel === keys.replies(this.node)) {
      const reply = parseJson(replyMessageSchema, text);
      const pending = reply && this.#pending.get(reply.id);
      if (!reply || !pending) return;
      this.#pending.delete(reply.id);
      clearTimeout(pending.timer);
      if (reply.ok) pending.resolve(reply.result);
      else pending.reject(new Error(reply.error ?? 'failed'));
    }
  }

  async #run(id: string, from: string, command: ClusterCommand): Promise<void> {
    let reply: { id: string; ok: boolean; result?: RemoteResetResult; error?: string };
    try {
      if (!this.#handlers) throw new Error('this node runs no classroom');
      if (command.action === 'dispose') {
        await this.#handlers.dispose(command.sessionId, command.reason);
        reply = { id, ok: true };
      } else {
        const result = await this.#handlers.reset(command);
        reply = { id, ok: true, ...(result ? { result } : {}) };
      }
    } catch (err) {
      reply = { id, ok: false, error: (err as Error).message.slice(0, 1000) };
    }
    await this.#redis.publish(keys.replies(from), JSON.stringify(reply)).catch(() => 0);
  }

  /** Leaves the cluster: the node's status goes at once, so others stop counting on it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(new Error('the node is leaving the cluster'));
    }
    this.#pending.clear();
    await this.#redis.del(keys.node(this.node)).catch(() => 0);
    this.#sub.disconnect();
    this.#redis.disconnect();
  }
}
