// A token bucket per WebSocket: `burst` messages at once, refilled at `perSecond`. Counts the
// messages refused in a row, so a persistent flood can be told apart from a burst of typing.

export class TokenBucket {
  #tokens: number;
  #last: number;
  readonly #burst: number;
  readonly #perMs: number;
  /** Messages refused since the last one allowed. */
  refusedInARow = 0;

  constructor(burst: number, perSecond: number, now = Date.now()) {
    this.#burst = burst;
    this.#tokens = burst;
    this.#perMs = perSecond / 1000;
    this.#last = now;
  }

  take(now = Date.now()): boolean {
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#perMs);
    this.#last = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      this.refusedInARow = 0;
      return true;
    }
    this.refusedInARow++;
    return false;
  }
}
