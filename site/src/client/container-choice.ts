// The "which container" control of a container picture (layer stack, diff panel): a select in the
// card's head listing the session's containers, so the reader can look at another one than the
// lesson's, and the notice a picture shows when it follows another container than the one it names.

import { esc, rich } from './format.ts';
import { type Choice, chooseContainers } from './pick.ts';
import type { SessionSnapshot } from './state.ts';

export class ContainerChoice {
  readonly #host: HTMLElement;
  readonly #select: HTMLSelectElement;
  #chosen: string | undefined;
  /** Names this picture has seen in the session: a missing one was removed, not never made. */
  readonly #seen = new Set<string>();
  #options = '';

  /** Adds the control to `host`'s card head; `changed` redraws the picture after the reader picks. */
  constructor(host: HTMLElement, changed: () => void) {
    this.#host = host;
    const label = document.createElement('label');
    label.className = 'll-choice';
    label.hidden = true;
    label.append('Container ');
    this.#select = document.createElement('select');
    this.#select.className = 'll-choice__select';
    this.#select.addEventListener('change', () => {
      this.#chosen = this.#select.value || undefined;
      changed();
    });
    label.append(this.#select);
    (host.querySelector('.ll-card__head') ?? host).append(label);
  }

  /** The containers to draw for `snap`, and the notice to show when they are not the lesson's. */
  choose(snap: SessionSnapshot, siblings: boolean): Choice {
    const choice = chooseContainers(
      snap,
      this.#host.getAttribute('container'),
      siblings,
      this.#chosen,
      this.#seen,
    );
    for (const c of snap.containers) this.#seen.add(c.name);
    if (this.#chosen && !snap.containers.some((c) => c.id === this.#chosen)) this.#chosen = undefined;
    this.#update(snap, choice);
    return choice;
  }

  #update(snap: SessionSnapshot, choice: Choice): void {
    const attr = this.#host.getAttribute('container');
    const shown = choice.containers[0];
    // The first option is "no choice": what the picture follows by itself, named as it stands now.
    const auto = !attr
      ? `auto: the newest${shown && !this.#chosen ? ` (${shown.name})` : ''}`
      : choice.notice && !this.#chosen
        ? `auto: ${shown ? shown.name : 'none'} (${attr} is not here)`
        : `${attr} (this lesson’s)`;
    const options = [
      `<option value="">${esc(auto)}</option>`,
      ...snap.containers.map(
        (c) =>
          `<option value="${esc(c.id)}">${esc(c.name)} (${esc(c.state)}, ${esc(c.id.slice(0, 12))})</option>`,
      ),
    ].join('');
    // Rebuilt only when the list changes, so a reader using the select keeps their place in it.
    if (options !== this.#options) {
      this.#options = options;
      this.#select.innerHTML = options;
    }
    this.#select.value = this.#chosen ?? '';
    (this.#select.parentElement as HTMLElement).hidden = snap.containers.length === 0;
  }
}

/** The notice above a picture that follows another container than it names. */
export function noticeHtml(choice: Choice): string {
  return choice.notice ? `<p class="ll-picture__notice" role="note">${rich(choice.notice)}</p>` : '';
}
