// A terminal's typed input on its way to the line editor or a command: held in a bounded queue and
// handed on in short time slices charged to the session's work budget. A page that floods its
// terminal gets its share of the event loop and no more: other sessions' echo stays fast, memory
// stays bounded, and the socket is told to stop reading (TCP pushes back on the sender) while the
// queue is full.

/** Queued bytes above which `push` answers false: the socket should stop reading for now. */
export const INPUT_HIGH_WATER = 256 * 1024;
/** Queued bytes below which a paused socket is told to read again. */
export const INPUT_LOW_WATER = 64 * 1024;
/** Queued bytes past which input is dropped: only a sender that ignores the pause gets here. */
export const INPUT_MAX = 1024 * 1024;
/** One slice of input work; then other sessions' events run. */
const SLICE_MS = 4;
/** Output costs its parse on the server's screen copy (about 13 MB/s measured): charged as time. */
const OUTPUT_BYTES_PER_MS = 16 * 1024;

/**
 * Event-loop time a session may spend on its terminals' input: a token bucket of milliseconds,
 * `burstMs` at once, refilled at `perSecondMs` per second. Typing and pastes never come near it.
 */
export class WorkBudget {
  #available: number;
  #last: number;
  readonly #burstMs: number;
  readonly #perMs: number;
  readonly #now: () => number;

  constructor(perSecondMs = 250, burstMs = 250, now: () => number = () => performance.now()) {
    this.#burstMs = burstMs;
    this.#available = burstMs;
    this.#perMs = perSecondMs / 1000;
    this.#now = now;
    this.#last = now();
  }

  /** How long to wait before work may start again (0: now). */
  waitMs(): number {
    this.#refill();
    return this.#available > 0 ? 0 : Math.ceil(-this.#available / this.#perMs) + 1;
  }

  charge(ms: number): void {
    this.#refill();
    this.#available -= ms;
  }

  #refill(): void {
    const now = this.#now();
    this.#available = Math.min(this.#burstMs, this.#available + (now - this.#last) * this.#perMs);
    this.#last = now;
  }
}

const budgets = new WeakMap<object, WorkBudget>();

/** The budget all terminals of one session share. */
export function budgetOf(session: object): WorkBudget {
  let budget = budgets.get(session);
  if (!budget) {
    budget = new WorkBudget();
    budgets.set(session, budget);
  }
  return budget;
}

/**
 * What one step of work did: `more` (call again), `idle` (nothing queued), or `blocked` (work is
 * queued but must wait: a completion runs, the screen is behind; the owner calls `wake()`).
 */
export type StepResult = 'more' | 'idle' | 'blocked';

export class InputQueue {
  readonly #chunks: Buffer[] = [];
  #head = 0;
  #bytes = 0;
  #scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  #disposed = false;
  /** `push` answered false; drain listeners are told once the queue is below the low-water mark. */
  #full = false;
  #outputBytes = 0;
  #pumping = false;
  readonly #drainListeners = new Set<() => void>();
  readonly #budget: WorkBudget;
  readonly #step: () => StepResult;
  /** Bytes dropped because a sender went on past INPUT_MAX. */
  dropped = 0;

  constructor(options: { budget: WorkBudget; step: () => StepResult }) {
    this.#budget = options.budget;
    this.#step = options.step;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Queues typed bytes; false asks the sender to stop until `onDrain` (they are queued all the same). */
  push(data: Buffer): boolean {
    if (this.#disposed) return true;
    if (this.#bytes + data.length > INPUT_MAX) {
      this.dropped += data.length;
      this.#full = true;
      return false;
    }
    this.#chunks.push(data);
    this.#bytes += data.length;
    // Typing is worked off at once (a key's echo should not wait a turn); what a slice leaves waits.
    if (this.#scheduled === undefined && !this.#pumping) this.#pump();
    if (this.#bytes > INPUT_HIGH_WATER) this.#full = true;
    return !this.#full;
  }

  /** The oldest queued chunk, for the step function. */
  take(): Buffer | undefined {
    if (this.#head === this.#chunks.length) return undefined;
    const chunk = this.#chunks[this.#head]!;
    this.#chunks[this.#head++] = EMPTY;
    if (this.#head > 64 && this.#head * 2 > this.#chunks.length) {
      this.#chunks.splice(0, this.#head);
      this.#head = 0;
    }
    this.#bytes -= chunk.length;
    if (this.#full && this.#bytes < INPUT_LOW_WATER) {
      this.#full = false;
      for (const cb of [...this.#drainListeners]) cb();
    }
    return chunk;
  }

  /** Drops what is queued (the terminal went away, or a command that took the input ended). */
  clear(): void {
    while (this.take() !== undefined) {}
  }

  /** Called when the queue has room again after `push` answered false. Returns an unsubscribe. */
  onDrain(cb: () => void): () => void {
    this.#drainListeners.add(cb);
    return () => this.#drainListeners.delete(cb);
  }

  /** Output written while a step runs costs its parse; the terminal reports it here. */
  chargeOutput(bytes: number): void {
    if (this.#pumping) this.#outputBytes += bytes;
  }

  /** Runs the steps soon (after new input, or when what blocked them is over). */
  wake(): void {
    if (this.#disposed || this.#scheduled !== undefined || this.#pumping) return;
    this.#scheduled = setImmediate(() => this.#pump());
  }

  dispose(): void {
    this.#disposed = true;
    if (this.#scheduled !== undefined) {
      clearImmediate(this.#scheduled as NodeJS.Immediate);
      clearTimeout(this.#scheduled as NodeJS.Timeout);
    }
    this.#scheduled = undefined;
    this.clear();
    this.#drainListeners.clear();
  }

  #pump(): void {
    this.#scheduled = undefined;
    if (this.#disposed) return;
    const wait = this.#budget.waitMs();
    if (wait > 0) {
      // Over budget: this session's input waits; the queue fills and its socket stops reading.
      this.#scheduled = setTimeout(() => this.#pump(), wait);
      return;
    }
    const start = performance.now();
    let state: StepResult = 'more';
    this.#pumping = true;
    try {
      while (state === 'more' && performance.now() - start < SLICE_MS && !this.#disposed)
        state = this.#step();
    } finally {
      this.#pumping = false;
      this.#budget.charge(performance.now() - start + this.#outputBytes / OUTPUT_BYTES_PER_MS);
      this.#outputBytes = 0;
    }
    if (state === 'more') this.wake();
  }
}

const EMPTY = Buffer.alloc(0);

/** Keys decoded and waiting for the editor, first in first out, without shifting a long array. */
export class KeyBacklog<T> {
  #items: T[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(items: Iterable<T>): void {
    for (const item of items) this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head++];
    if (this.#head === this.#items.length) this.clear();
    return item;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
