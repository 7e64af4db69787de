// <layerlab-predict>: before a key command the reader commits to what will happen, runs it, and the
// page says whether the prediction was right, with the lesson's one-line why. The Run block it is
// bound to refuses to run until the reader commits or skips. What happened is read from the run
// itself (its output on the terminal's channel and its commands' exit statuses) or from the engine
// (an image's size), never from the lesson's text. The prediction and the verdict stay in
// sessionStorage, so a reload keeps them. English only, like the Run button it guards.

import { connection } from './connection.ts';
import { defineOnce } from './define.ts';
import { formatSize } from './format.ts';
import { decideChoice, judgeSize } from './predict-outcome.ts';
import type { PredictSpec } from './predict-schema.ts';
import { lessonIdOf } from './recording.ts';
import { stateStore } from './state.ts';

type State = 'open' | 'committed' | 'skipped' | 'right' | 'wrong' | 'unknown' | 'replay';

interface Saved {
  state: State;
  /** The choice's index, or the typed value. */
  pick?: number | string;
  /** The verdict's sentence, once the run has decided. */
  verdict?: string;
}

/** Output kept per run at most: a matcher looks at what the block printed, not a flood. */
const MAX_OUTPUT_CHARS = 256 * 1024;
/** After its block is done, how long a prediction waits for output the server has not flushed yet. */
const LATE_OUTPUT_MS = 3000;
const DEFAULT_TOLERANCE = 0.15;

/** Each terminal's channel on the page's socket, from `terminal.opened` (the output of a run). */
const channels = new Map<string, number>();
let tracking = false;
function trackChannels(): void {
  if (tracking) return;
  tracking = true;
  connection().on('terminal.opened', (m) => channels.set(m.terminal, m.channel));
  connection().on('terminal.closed', (m) => channels.delete(m.terminal));
}

/** The `layerlab-predict` element bound to each Run button (one at most, the lesson lint says). */
const bound = new WeakMap<HTMLButtonElement, LayerlabPredict>();
let intercepting = false;
function interceptRuns(): void {
  if (intercepting) return;
  intercepting = true;
  // Capture phase on the document: before the Run button's own listener (plugins/run-button.mjs).
  document.addEventListener(
    'click',
    (e) => {
      const button =
        e.target instanceof Element ? e.target.closest<HTMLButtonElement>('button.ll-run') : null;
      if (!button || button.getAttribute('aria-disabled') === 'true') return;
      const predict = bound.get(button);
      if (!predict) return;
      if (!predict.beforeRun(button)) {
        e.preventDefault();
        e.stopImmediatePropagation();
      }
    },
    true,
  );
}

export class LayerlabPredict extends HTMLElement {
  #spec: PredictSpec = {};
  #button: HTMLButtonElement | undefined;
  #off: (() => void)[] = [];

  get #key(): string {
    return `layerlab:predict:${this.dataset.lesson ?? lessonIdOf(location.pathname)}:${this.dataset.id}`;
  }

  get state(): State {
    return (this.dataset.state as State | undefined) ?? 'open';
  }

  connectedCallback(): void {
    this.#spec = JSON.parse(this.dataset.spec ?? '{}') as PredictSpec;
    trackChannels();
    interceptRuns();
    this.#button = this.#findButton();
    if (this.#button) {
      bound.set(this.#button, this);
      this.#button.dataset.predict = this.dataset.id ?? '';
    }
    const form = this.querySelector<HTMLFormElement>('[data-form]')!;
    const skip = this.querySelector<HTMLButtonElement>('[data-skip]')!;
    const onSubmit = (e: Event) => {
      e.preventDefault();
      this.#commit();
    };
    const onSkip = () => this.#save({ state: 'skipped' });
    form.addEventListener('submit', onSubmit);
    skip.addEventListener('click', onSkip);
    this.#off.push(
      () => form.removeEventListener('submit', onSubmit),
      () => skip.removeEventListener('click', onSkip),
    );
    const saved = this.#load();
    if (saved) this.#show(saved);
  }

  disconnectedCallback(): void {
    for (const off of this.#off.splice(0)) off();
    if (this.#button && bound.get(this.#button) === this) bound.delete(this.#button);
  }

  /** The Run button this prediction guards: the one whose command starts with `run`, else the next. */
  #findButton(): HTMLButtonElement | undefined {
    const after = [...document.querySelectorAll<HTMLButtonElement>('button.ll-run')].filter(
      (b) => this.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING,
    );
    const run = this.#spec.run;
    return run === undefined ? after[0] : after.find((b) => (b.dataset.command ?? '').split('\n')[0] === run);
  }

  /**
   * The bound button was pressed: false keeps it from running (no prediction yet, say so beside it);
   * true lets it run, and a committed prediction starts following the run.
   */
  beforeRun(button: HTMLButtonElement): boolean {
    if (this.state === 'open') {
      const note = button.parentElement?.querySelector<HTMLElement>('.ll-run-note');
      if (note) note.textContent = 'Not sent: make your prediction above first, or skip it.';
      this.querySelector<HTMLInputElement>('input')?.focus();
      this.scrollIntoView?.({ block: 'nearest' });
      return false;
    }
    if (this.state === 'committed') this.#follow(button);
    return true;
  }

  #commit(): void {
    const picked = this.querySelector<HTMLInputElement>('input[type="radio"]:checked');
    const typed = this.querySelector<HTMLInputElement>('[data-value]');
    const error = this.querySelector<HTMLElement>('[data-error]')!;
    if (this.#spec.choices) {
      if (!picked) {
        error.textContent = 'Pick one of the answers first.';
        return;
      }
      this.#save({ state: 'committed', pick: Number(picked.value) });
    } else if (typed) {
      if (judgeSize(typed.value, 1, 0) === undefined) {
        error.textContent = 'Type a size with its unit, as Docker prints it: 4.3MB, 850kB.';
        typed.focus();
        return;
      }
      this.#save({ state: 'committed', pick: typed.value.trim() });
    }
    error.textContent = '';
  }

  /** Follows the bound block's run: its output and exit statuses until the button says it is done. */
  #follow(button: HTMLButtonElement): void {
    const conn = connection();
    if (conn.status === 'replay') {
      this.#verdict('replay', 'This page replays a recording: compare your prediction with the terminal.');
      return;
    }
    const terminal = button.dataset.terminal ?? 'main';
    const decoder = new TextDecoder();
    let output = '';
    let lastExit: number | undefined;
    /** Set once the block is done: output may still be on its way (the server batches it). */
    let finished = false;
    let lateTimer: ReturnType<typeof setTimeout> | undefined;
    const stop = () => {
      clearTimeout(lateTimer);
      offOutput();
      offEvents();
    };
    // Decides once the output holds one of the answers, or when the late output has had its time.
    const tryDecide = (last: boolean): void => {
      const { choices } = this.#spec;
      if (!last && choices && choices[decideChoice(choices, output, lastExit)] === undefined) return;
      finished = false;
      stop();
      void this.#decide(output, lastExit);
    };
    const channel = channels.get(terminal);
    const offOutput =
      channel === undefined
        ? () => {}
        : conn.onChannel(channel, (bytes) => {
            if (output.length < MAX_OUTPUT_CHARS) output += decoder.decode(bytes, { stream: true });
            if (finished) tryDecide(false);
          });
    const offEvents = stateStore().onEvent((event) => {
      if (event.type === 'terminal.command' && event.terminal === terminal) lastExit = event.exitCode;
    });
    const watch = new MutationObserver(() => {
      const state = button.dataset.state;
      if (state !== 'done' && state !== 'refused') return;
      watch.disconnect();
      // A refused run (the terminal was inside a container) decided nothing: the prediction stands.
      if (state !== 'done') return stop();
      finished = true;
      lateTimer = setTimeout(() => tryDecide(true), LATE_OUTPUT_MS);
      tryDecide(false);
    });
    watch.observe(button, { attributes: true, attributeFilter: ['data-state'] });
  }

  async #decide(output: string, lastExit: number | undefined): Promise<void> {
    const pick = this.#load()?.pick;
    const { choices, value } = this.#spec;
    if (choices) {
      const happened = decideChoice(choices, output, lastExit);
      const actual = choices[happened];
      if (!actual) {
        this.#verdict('unknown', 'The output matched none of the answers: look at the terminal.');
        return;
      }
      if (happened === pick) this.#verdict('right', `Right: ${actual.label}. ${actual.why}`);
      else this.#verdict('wrong', `Not this time: ${actual.label}. ${actual.why}`);
      return;
    }
    if (!value || typeof pick !== 'string') return;
    // Asked now, not the pictures' store: its refresh may be one started before the run ended.
    const snapshot = await connection()
      .request('state.get', {})
      .catch(() => undefined);
    const wanted = value.image.includes(':') ? value.image : `${value.image}:latest`;
    const image = snapshot?.images.find((i) => i.repoTags.includes(wanted));
    if (!image) {
      this.#verdict('unknown', `There is no image ${value.image} to measure: look at the terminal.`);
      return;
    }
    const real = formatSize(image.size);
    const right = judgeSize(pick, image.size, value.tolerance ?? DEFAULT_TOLERANCE);
    if (right) this.#verdict('right', `Right: ${value.image} is ${real}. ${value.why}`);
    else this.#verdict('wrong', `Not this time: ${value.image} is ${real}, not ${pick}. ${value.why}`);
  }

  #verdict(state: State, text: string): void {
    this.#save({ ...(this.#load() ?? {}), state, verdict: text });
  }

  #load(): Saved | undefined {
    try {
      const raw = sessionStorage.getItem(this.#key);
      return raw ? (JSON.parse(raw) as Saved) : undefined;
    } catch {
      return undefined;
    }
  }

  #save(saved: Saved): void {
    try {
      sessionStorage.setItem(this.#key, JSON.stringify(saved));
    } catch {
      // Storage full or blocked: the page still works, it only forgets on reload.
    }
    this.#show(saved);
  }

  #show(saved: Saved): void {
    this.dataset.state = saved.state;
    const inputs = this.querySelectorAll<HTMLInputElement | HTMLButtonElement>(
      'input, [data-commit], [data-skip]',
    );
    const locked = saved.state !== 'open';
    for (const input of inputs) input.disabled = locked;
    if (typeof saved.pick === 'number') {
      const radio = this.querySelector<HTMLInputElement>(`input[type="radio"][value="${saved.pick}"]`);
      if (radio) radio.checked = true;
    } else if (typeof saved.pick === 'string') {
      const typed = this.querySelector<HTMLInputElement>('[data-value]');
      if (typed) typed.value = saved.pick;
    }
    const out = this.querySelector<HTMLElement>('[data-result]')!;
    const pickLabel =
      typeof saved.pick === 'number' ? this.#spec.choices?.[saved.pick]?.label : (saved.pick ?? '');
    out.textContent =
      saved.verdict ??
      (saved.state === 'committed'
        ? `Locked in: ${pickLabel}. Now press Run below and see.`
        : saved.state === 'skipped'
          ? 'Skipped: the Run button below is free.'
          : '');
  }
}

defineOnce('layerlab-predict', LayerlabPredict);
