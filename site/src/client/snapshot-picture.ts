// The wiring every picture drawn from the session's state shares: while the element is on the page it
// follows the state store and redraws its `[data-body]` through the scheduler, one redraw per task.

import { strings } from './format.ts';
import { redrawer } from './schedule.ts';
import { type SessionSnapshot, stateStore } from './state.ts';

export abstract class SnapshotPicture extends HTMLElement {
  #off: (() => void)[] = [];

  connectedCallback(): void {
    const t = strings(this);
    const body = this.querySelector<HTMLElement>('[data-body]')!;
    const redraw = redrawer(this);
    this.#off.push(
      stateStore().subscribe((snap) => redraw(() => this.render(snap, body, t))),
      () => redraw.cancel(),
    );
  }

  disconnectedCallback(): void {
    for (const off of this.#off.splice(0)) off();
  }

  /** Draws `snap` into `body`; `t` looks up the page's strings. */
  protected abstract render(snap: SessionSnapshot, body: HTMLElement, t: (k: string) => string): void;
}
