// The wiring every picture drawn from the session's state shares: while the element is on the page it
// follows the state store and redraws its `[data-body]` through the scheduler, one redraw per task.

import { strings } from './format.ts';
import { type Redraw, redrawer } from './schedule.ts';
import { type SessionSnapshot, stateStore } from './state.ts';

export abstract class SnapshotPicture extends HTMLElement {
  #off: (() => void)[] = [];
  #redraw: Redraw | undefined;
  #draw: (() => void) | undefined;

  connectedCallback(): void {
    const t = strings(this);
    const body = this.querySelector<HTMLElement>('[data-body]')!;
    const redraw = redrawer(this);
    this.#redraw = redraw;
    this.#draw = () => {
      const snap = stateStore().snapshot;
      if (snap) this.render(snap, body, t);
    };
    this.#off.push(
      stateStore().subscribe((snap) => redraw(() => this.render(snap, body, t))),
      () => redraw.cancel(),
    );
  }

  disconnectedCallback(): void {
    for (const off of this.#off.splice(0)) off();
    this.#redraw = undefined;
  }

  /** Draws the current snapshot again (the reader changed what the picture shows). */
  protected redrawNow(): void {
    if (this.#redraw && this.#draw) this.#redraw(this.#draw);
  }

  /** Draws `snap` into `body`; `t` looks up the page's strings. */
  protected abstract render(snap: SessionSnapshot, body: HTMLElement, t: (k: string) => string): void;
}
