// The page's picture of the session: the `/api/state` snapshot (images, layers, containers, upper
// dirs) plus the stream of session events. Live, events arrive as `event` frames and changes to the
// engine refetch the snapshot (debounced); in replay mode the recording feeds both. Pictures subscribe.

import type { SessionSnapshot } from '../../../server/pictures/snapshot.ts';
import type { SessionEvent } from '../../../server/protocol.ts';
import { connection } from './connection.ts';

export type {
  SnapshotContainer,
  SnapshotImage,
  SnapshotLayer,
} from '../../../server/pictures/snapshot.ts';
export type { SessionEvent, SessionSnapshot };

type Listener<T> = (value: T) => void;

/** Events after which the snapshot is stale. */
const REFRESH_ON = /^(fs\.change|container\.|image\.|pull\.done|push\.done|build\.step)/;
const REFRESH_DEBOUNCE_MS = 150;

export class StateStore {
  #snapshot: SessionSnapshot | undefined;
  readonly #snapshotListeners = new Set<Listener<SessionSnapshot>>();
  readonly #eventListeners = new Set<Listener<SessionEvent>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inflight = false;
  #again = false;
  #live = false;

  get snapshot(): SessionSnapshot | undefined {
    return this.#snapshot;
  }

  /** Calls `fn` with the snapshot now (if there is one) and whenever it changes. */
  subscribe(fn: Listener<SessionSnapshot>): () => void {
    this.#snapshotListeners.add(fn);
    if (this.#snapshot) fn(this.#snapshot);
    return () => this.#snapshotListeners.delete(fn);
  }

  onEvent(fn: Listener<SessionEvent>): () => void {
    this.#eventListeners.add(fn);
    return () => this.#eventListeners.delete(fn);
  }

  /** Sets the snapshot (from the server or a recording) and tells every subscriber. */
  set(snapshot: SessionSnapshot): void {
    this.#snapshot = snapshot;
    for (const fn of [...this.#snapshotListeners]) fn(snapshot);
  }

  /** Delivers an event (from the server or a recording). */
  emit(event: SessionEvent): void {
    for (const fn of [...this.#eventListeners]) fn(event);
    if (this.#live && REFRESH_ON.test(event.type)) this.refreshSoon();
  }

  refreshSoon(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.refresh(), REFRESH_DEBOUNCE_MS);
  }

  async refresh(): Promise<void> {
    if (this.#inflight) {
      this.#again = true;
      return;
    }
    this.#inflight = true;
    try {
      this.set(await connection().request('state.get', {}));
    } catch {
      // The connection's reconnect will refresh again.
    } finally {
      this.#inflight = false;
      if (this.#again) {
        this.#again = false;
        this.refreshSoon();
      }
    }
  }

  attachLive(): void {
    const conn = connection();
    conn.on('event', (m) => this.emit(m.event as SessionEvent));
    conn.onStatus((status) => {
      this.#live = status === 'live';
      if (status === 'live') void this.refresh();
    });
  }
}

let shared: StateStore | undefined;

export function stateStore(): StateStore {
  if (!shared) {
    shared = new StateStore();
    shared.attachLive();
  }
  return shared;
}
