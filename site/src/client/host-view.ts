// <layerlab-host-view container="web">: the container as the host sees it — its real overlay mount
// (lowerdir top first, each an image layer named as the layer stack names it, or the init layer;
// upperdir with the files the container wrote there; workdir) and its processes under both names
// (host pid and uid, pid and uid inside), under the shims that parent them. Asked of the server
// (`state.host`) whenever the session's snapshot changes, after each command the reader runs, and on
// the Refresh button.

import type { HostView, HostViewLower, HostViewProcess } from '../../../server/pictures/host-view.ts';
import { connection } from './connection.ts';
import { ContainerChoice, noticeHtml } from './container-choice.ts';
import { defineOnce } from './define.ts';
import { esc, instruction, rich, shortDigest, strings } from './format.ts';
import { type Choice, diffKind } from './pick.ts';
import { redrawer } from './schedule.ts';
import { type SessionSnapshot, stateStore } from './state.ts';

const MAX_UPPER = 12;
const ASK_DEBOUNCE_MS = 250;

/** A label with each 64-hex id cut to 12, as Docker shortens ids; the full path goes in `title`. */
function pathHtml(label: string): string {
  const short = label.replace(/\b([0-9a-f]{12})[0-9a-f]{52}\b/g, '$1…');
  return `<code class="ll-host__path" title="${esc(label)}">${esc(short)}</code>`;
}

export class LayerlabHostView extends HTMLElement {
  #off: (() => void)[] = [];
  #t: (k: string) => string = (k) => k;
  #choice: ContainerChoice | undefined;
  #view: HostView | undefined;
  #error: string | undefined;
  #asking = false;
  #again = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #draw: () => void = () => {};

  connectedCallback(): void {
    this.#t = strings(this);
    const body = this.querySelector<HTMLElement>('[data-body]')!;
    const redraw = redrawer(this);
    this.#draw = () => {
      const snap = stateStore().snapshot;
      if (snap) redraw(() => this.#render(snap, body));
    };
    this.#choice ??= new ContainerChoice(this, () => this.#askSoon());
    this.#off.push(
      stateStore().subscribe(() => this.#askSoon()),
      // A command the reader ran may have started or ended a process (`docker exec -d`), which the
      // snapshot does not show: ask again once it is done.
      stateStore().onEvent((e) => {
        if (e.type === 'terminal.command' || e.type.startsWith('container.')) this.#askSoon();
      }),
      connection().onStatus(() => this.#askSoon()),
      () => redraw.cancel(),
      () => clearTimeout(this.#timer),
    );
    const onClick = (e: Event) => {
      if ((e.target as Element).closest('[data-refresh]')) void this.#ask();
    };
    this.addEventListener('click', onClick);
    this.#off.push(() => this.removeEventListener('click', onClick));
  }

  disconnectedCallback(): void {
    for (const off of this.#off.splice(0)) off();
  }

  #askSoon(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#ask(), ASK_DEBOUNCE_MS);
  }

  /** Asks the server for the chosen container's host view; one request at a time, the last one wins. */
  async #ask(): Promise<void> {
    if (this.#asking) {
      this.#again = true;
      return;
    }
    const snap = stateStore().snapshot;
    const chosen = snap ? this.#choice!.choose(snap, false).containers[0] : undefined;
    if (!chosen || connection().status !== 'live') {
      this.#view = undefined;
      this.#error = undefined;
      this.#draw();
      return;
    }
    this.#asking = true;
    this.setAttribute('aria-busy', 'true');
    try {
      this.#view = await connection().request('state.host', { container: chosen.id });
      this.#error = undefined;
    } catch (err) {
      this.#view = undefined;
      this.#error = (err as Error).message;
    } finally {
      this.#asking = false;
      this.removeAttribute('aria-busy');
      this.dataset.asked = String(Number(this.dataset.asked ?? 0) + 1);
      this.#draw();
      if (this.#again) {
        this.#again = false;
        this.#askSoon();
      }
    }
  }

  #render(snap: SessionSnapshot, body: HTMLElement): void {
    const t = this.#t;
    const choice = this.#choice!.choose(snap, false);
    const chosen = choice.containers[0];
    const refresh = `<button type="button" class="ll-button" data-refresh>${esc(t('ll.host.refresh'))}</button>`;
    if (connection().status === 'replay') {
      body.innerHTML = `<p class="ll-muted">${esc(t('ll.host.liveOnly'))}</p>`;
      return;
    }
    if (!chosen) {
      body.innerHTML = `${noticeHtml(choice)}<p class="ll-muted">${esc(t('ll.host.noContainer'))}</p>`;
      return;
    }
    const view = this.#view?.container.id === chosen.id ? this.#view : undefined;
    if (!view) {
      const why = this.#error ? esc(this.#error) : esc(t('ll.picture.empty'));
      body.innerHTML = `${noticeHtml(choice)}<p class="ll-muted">${why}</p>${refresh}`;
      return;
    }
    const head = `<div class="ll-host__head"><span>${esc(t('ll.host.of'))} <strong>${esc(view.container.name)}</strong>
      <span class="ll-muted">(${esc(view.container.state)})</span></span>${refresh}</div>`;
    if (view.container.state !== 'running' || !view.overlay) {
      body.innerHTML = `${noticeHtml(choice)}${head}<p class="ll-muted" data-not-running>${esc(t('ll.host.notRunning'))}</p>`;
      return;
    }
    body.innerHTML = `${noticeHtml(choice)}${head}${this.#overlayHtml(view, chosen)}${this.#processesHtml(view)}`;
  }

  #overlayHtml(view: HostView, chosen: Choice['containers'][number]): string {
    const t = this.#t;
    const overlay = view.overlay!;
    const lower = (l: HostViewLower, i: number) => {
      const what =
        l.source === 'layer'
          ? `${esc(t('ll.host.layer'))} <code class="ll-stack__digest">${esc(shortDigest(l.diffId))}</code>
             <span class="ll-stack__instr" title="${esc(l.createdBy ?? '')}">${esc(instruction(l.createdBy))}</span>`
          : l.source === 'init'
            ? esc(t('ll.host.init'))
            : '';
      return `<li class="ll-host__lower" data-source="${l.source}"${l.diffId ? ` data-diffid="${esc(l.diffId)}"` : ''}>
        <span class="ll-muted">${i + 1}</span>${pathHtml(l.path)}<span class="ll-host__what">${what}</span></li>`;
    };
    const entries = chosen.upper.entries;
    const files = entries
      .slice(0, MAX_UPPER)
      .map((e) => {
        const kind = diffKind(e);
        return `<li class="ll-entry ll-entry--${kind}"><span class="ll-badge ll-badge--${kind}" aria-hidden="true">${kind}</span><code class="ll-entry__path">${esc(e.path)}</code></li>`;
      })
      .join('');
    const more =
      entries.length > MAX_UPPER ? `<li class="ll-muted">+ ${entries.length - MAX_UPPER}</li>` : '';
    return `<section class="ll-host__section" aria-label="${esc(t('ll.host.mount'))}">
      <h4 class="ll-stack__label">${rich(t('ll.host.mount'))}</h4>
      <dl class="ll-host__mount">
        <dt>${esc(t('ll.host.mountPoint'))}</dt><dd>${pathHtml(overlay.mountPoint)}</dd>
        <dt><code>lowerdir</code></dt><dd><ol class="ll-host__lowers">${overlay.lowerdir.map(lower).join('')}</ol></dd>
        <dt><code>upperdir</code></dt><dd data-upper>${overlay.upperdir ? pathHtml(overlay.upperdir) : ''}
          ${files ? `<ul class="ll-host__files">${files}${more}</ul>` : `<p class="ll-muted ll-stack__empty">${esc(t('ll.layers.emptyUpper'))}</p>`}</dd>
        <dt><code>workdir</code></dt><dd>${overlay.workdir ? pathHtml(overlay.workdir) : ''}</dd>
      </dl></section>`;
  }

  #processesHtml(view: HostView): string {
    const t = this.#t;
    const num = (n: number | null) => (n === null ? '<span class="ll-muted">–</span>' : String(n));
    const row = (
      p: HostViewProcess,
    ) => `<tr class="ll-host__proc" data-role="${p.role}" data-host-pid="${p.hostPid}"${p.containerPid === null ? '' : ` data-container-pid="${p.containerPid}"`}>
        <td>${p.hostPid}</td><td>${num(p.containerPid)}</td><td>${p.hostUid}</td><td>${num(p.containerUid)}</td>
        <td class="ll-host__cmd" style="--ll-depth:${Math.min(p.depth, 8)}"><code>${esc(p.command)}</code>${p.role === 'shim' ? ` <span class="ll-muted">${esc(t('ll.host.shim'))}</span>` : ''}</td></tr>`;
    const runtime = view.runtime ? rich(t('ll.host.runtime').replace('{runtime}', view.runtime)) : '';
    return `<section class="ll-host__section" aria-label="${esc(t('ll.host.processes'))}">
      <h4 class="ll-stack__label">${esc(t('ll.host.processes'))}</h4>
      <div class="ll-host__table"><table>
        <thead><tr><th>${esc(t('ll.host.hostPid'))}</th><th>${esc(t('ll.host.containerPid'))}</th><th>${esc(t('ll.host.hostUid'))}</th><th>${esc(t('ll.host.containerUid'))}</th><th>${esc(t('ll.host.command'))}</th></tr></thead>
        <tbody>${view.processes.map(row).join('')}</tbody></table></div>
      <p class="ll-muted ll-host__note">${runtime}</p></section>`;
  }
}

defineOnce('layerlab-host-view', LayerlabHostView);
