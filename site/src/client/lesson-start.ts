// <layerlab-lesson-start>: the line above a lesson's terminal about where the lesson starts. When the
// page's session first goes live it sends `prepare` with the lesson's start (the server adds what is
// missing and removes nothing) and shows the server's one-line answer; containers in the way get a
// button that removes exactly those. A kept session (reload, second visit) is said so, with a button
// for a fresh start (`reset` to the page's start).

import type { PrepareReport } from '../../../server/reset/prepare.ts';
import type { ResetTargetInput } from '../../../server/reset/target.ts';
import { connection } from './connection.ts';
import { defineOnce } from './define.ts';
import { strings } from './format.ts';
import { stateStore } from './state.ts';

/** Whether this page was reloaded or opened from outside the site (not reached by a link in it). */
function arrivedAfresh(): boolean {
  const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
  if (nav?.type === 'reload' || nav?.type === 'back_forward') return true;
  try {
    return document.referrer === '' || new URL(document.referrer).origin !== location.origin;
  } catch {
    return true;
  }
}

export class LayerlabLessonStart extends HTMLElement {
  #off: (() => void)[] = [];
  /** The session the lesson's start was prepared in (a cluster may move the reader to a new one). */
  #preparedIn: string | undefined;

  connectedCallback(): void {
    const t = strings(this);
    const prepareLine = this.querySelector<HTMLElement>('[data-prepare-line]')!;
    const keptLine = this.querySelector<HTMLElement>('[data-kept-line]')!;
    const start: ResetTargetInput | undefined = this.dataset.start
      ? JSON.parse(this.dataset.start)
      : undefined;
    const conn = connection();

    const line = (el: HTMLElement, text: string, button?: { label: string; onClick: () => void }) => {
      el.replaceChildren(Object.assign(document.createElement('span'), { textContent: text }));
      if (button) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'll-button';
        b.textContent = button.label;
        b.addEventListener('click', button.onClick, { once: true });
        el.append(b);
      }
      el.hidden = false;
    };

    const showReport = (report: PrepareReport) => {
      const names = report.conflicts.map((c) => c.name);
      this.dataset.state = names.length > 0 ? 'conflict' : 'ready';
      this.dataset.prepared = JSON.stringify(report.pulled);
      line(
        prepareLine,
        report.message,
        names.length > 0
          ? { label: `${t('ll.start.remove')}: ${names.join(', ')}`, onClick: () => void prepare(names) }
          : undefined,
      );
      if (report.pulled.length + report.created.length + report.removed.length > 0)
        void stateStore().refresh();
    };

    const prepare = async (remove: string[] = []) => {
      if (!start) return;
      this.dataset.state = 'busy';
      line(prepareLine, remove.length > 0 ? t('ll.start.removing') : t('ll.start.preparing'));
      try {
        showReport(await conn.request('prepare', remove.length > 0 ? { to: start, remove } : { to: start }));
      } catch (err) {
        this.dataset.state = 'error';
        line(prepareLine, (err as Error).message);
      }
    };

    const freshStart = async () => {
      line(keptLine, t('ll.start.freshing'));
      try {
        await conn.request('reset', start === undefined ? {} : { to: start });
        line(keptLine, t('ll.start.freshDone'));
        prepareLine.hidden = true;
        this.dataset.state = 'ready';
        void stateStore().refresh();
      } catch (err) {
        line(keptLine, (err as Error).message);
      }
    };

    this.#off.push(
      conn.onStatus((status) => {
        if (status !== 'live' || this.#preparedIn === conn.session) return;
        const moved = this.#preparedIn !== undefined;
        this.#preparedIn = conn.session;
        if (moved) {
          // A new sandbox (the cluster node holding the old one stopped): nothing of before is here.
          keptLine.hidden = true;
          delete this.dataset.kept;
        } else if (conn.kept && arrivedAfresh()) {
          line(keptLine, t('ll.start.kept'), {
            label: t('ll.start.fresh'),
            onClick: () => void freshStart(),
          });
          this.dataset.kept = '';
        }
        if (start) void prepare();
        else this.dataset.state = 'ready';
      }),
    );
  }

  disconnectedCallback(): void {
    for (const off of this.#off.splice(0)) off();
  }
}

defineOnce('layerlab-lesson-start', LayerlabLessonStart);
