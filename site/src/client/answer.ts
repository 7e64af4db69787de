// <layerlab-answer>: a question whose answer the engine knows (the diff_id two images share, a size
// `docker system df` prints). The reader types a value; the page sends it with the answer's lesson
// and id, and the server compares it with the session's real state (server/checks/answer-*.ts),
// saying right or wrong and never the value. A right answer is remembered in localStorage.
// English only, like <Predict>.

import { connection } from './connection.ts';
import { defineOnce } from './define.ts';
import { lessonIdOf } from './recording.ts';

type State = 'idle' | 'busy' | 'right' | 'wrong' | 'earlier';

export class LayerlabAnswer extends HTMLElement {
  #off: (() => void)[] = [];

  get #key(): string {
    return `layerlab:answer:${this.dataset.lesson ?? lessonIdOf(location.pathname)}:${this.dataset.id}`;
  }

  connectedCallback(): void {
    const form = this.querySelector<HTMLFormElement>('[data-form]')!;
    const input = this.querySelector<HTMLInputElement>('[data-value]')!;
    const submit = this.querySelector<HTMLButtonElement>('[data-submit]')!;
    const out = this.querySelector<HTMLElement>('[data-result]')!;
    const show = (state: State, text: string) => {
      this.dataset.state = state;
      out.textContent = text;
      input.setAttribute('aria-invalid', String(state === 'wrong'));
    };
    if (localStorage.getItem(this.#key) === 'right') show('earlier', 'You answered this one before.');

    const conn = connection();
    this.#off.push(
      conn.onStatus((s) => {
        submit.disabled = s !== 'live';
        if (s === 'replay' && this.dataset.state !== 'earlier') {
          show('idle', 'Answers are checked against a live engine: this page replays a recording.');
        }
      }),
    );
    const onSubmit = async (e: Event) => {
      e.preventDefault();
      const value = input.value.trim();
      if (value === '') {
        show('wrong', 'Type your answer first.');
        input.focus();
        return;
      }
      show('busy', 'Checking with the engine…');
      try {
        const result = await conn.request('answer', {
          lesson: this.dataset.lesson ?? lessonIdOf(location.pathname),
          answer: this.dataset.id ?? '',
          value: value.slice(0, 200),
        });
        if (result.right) {
          localStorage.setItem(this.#key, 'right');
          show('right', 'Right: that is what the engine has.');
        } else {
          show('wrong', ['Not that.', result.detail, result.hint].filter(Boolean).join(' '));
        }
      } catch (err) {
        show('wrong', (err as Error).message);
      }
    };
    form.addEventListener('submit', onSubmit);
    this.#off.push(() => form.removeEventListener('submit', onSubmit));
  }

  disconnectedCallback(): void {
    for (const off of this.#off.splice(0)) off();
  }
}

defineOnce('layerlab-answer', LayerlabAnswer);
