// <layerlab-check>: a lesson step's goal with a Check button and a reset to the lesson's starting
// state. The button names the check (`{ lesson, check }`); the server evaluates the condition the
// lessons declare for it on the session's state. A pass is remembered in localStorage, so coming
// back to the lesson shows what is done.

import type { RequestInput } from '../../../server/requests.ts';
import { connection } from './connection.ts';
import { defineOnce } from './define.ts';
import { strings } from './format.ts';
import { lessonIdOf } from './recording.ts';
import { stateStore } from './state.ts';

export class LayerlabCheck extends HTMLElement {
  #off: (() => void)[] = [];

  get #key(): string {
    return `layerlab:check:${lessonIdOf(location.pathname)}:${this.dataset.id}`;
  }

  connectedCallback(): void {
    const t = strings(this);
    const checkButton = this.querySelector<HTMLButtonElement>('[data-check-button]')!;
    const resetButton = this.querySelector<HTMLButtonElement>('[data-reset-button]');
    const out = this.querySelector<HTMLElement>('[data-result]')!;
    const show = (state: 'pass' | 'fail' | 'busy' | 'idle' | 'earlier', text: string, hint?: string) => {
      this.dataset.state = state;
      out.textContent = text;
      if (hint) {
        const h = document.createElement('span');
        h.className = 'll-check__hint';
        h.textContent = hint;
        out.append(' ', h);
      }
    };
    if (localStorage.getItem(this.#key) === 'pass') show('earlier', t('ll.check.doneBefore'));

    const conn = connection();
    this.#off.push(
      conn.onStatus((s) => {
        const live = s === 'live';
        checkButton.disabled = !live;
        if (resetButton) resetButton.disabled = !live;
        if (s === 'replay' && this.dataset.state !== 'earlier') show('idle', t('ll.check.liveOnly'));
      }),
    );

    const onCheck = async () => {
      show('busy', t('ll.check.checking'));
      try {
        const data = await conn.request('check', {
          lesson: this.dataset.lesson ?? lessonIdOf(location.pathname),
          check: this.dataset.id ?? '',
        });
        if (data.pass) {
          localStorage.setItem(this.#key, 'pass');
          show('pass', t('ll.check.pass'));
        } else {
          // The server's note (the container limit is reached) says why the step may be stuck.
          const hint = [data.hint ?? this.dataset.hint, data.note].filter(Boolean).join(' ');
          show('fail', t('ll.check.notYet'), hint || undefined);
        }
      } catch (err) {
        show('fail', (err as Error).message);
      }
    };
    const onReset = async () => {
      show('busy', t('ll.check.resetting'));
      try {
        // The lesson's starting state, written by Check.astro from checked frontmatter; the server
        // validates it again with the request table.
        const to: RequestInput<'reset'>['to'] = this.dataset.reset
          ? JSON.parse(this.dataset.reset)
          : undefined;
        await conn.request('reset', to === undefined ? {} : { to });
        localStorage.removeItem(this.#key);
        show('idle', t('ll.check.resetDone'));
        void stateStore().refresh();
      } catch (err) {
        show('fail', (err as Error).message);
      }
    };
    checkButton.addEventListener('click', onCheck);
    resetButton?.addEventListener('click', onReset);
    this.#off.push(() => checkButton.removeEventListener('click', onCheck));
    if (resetButton) this.#off.push(() => resetButton.removeEventListener('click', onReset));
  }

  disconnectedCallback(): void {
    for (const off of this.#off.splice(0)) off();
  }
}

defineOnce('layerlab-check', LayerlabCheck);
