// <layerlab-diff-panel container="box">: what `docker diff` would print for the container, live (A
// added, C changed, D deleted); choosing a file shows the image's version beside the container's.

import type { FileVersion, FileVersions } from '../../../server/pictures/files.ts';
import { connection } from './connection.ts';
import { ContainerChoice, noticeHtml } from './container-choice.ts';
import { defineOnce } from './define.ts';
import { esc, formatSize, rich, strings } from './format.ts';
import { diffKind } from './pick.ts';
import { redrawer } from './schedule.ts';
import { type SessionSnapshot, stateStore } from './state.ts';

export class LayerlabDiffPanel extends HTMLElement {
  #off: (() => void)[] = [];
  #selected: string | undefined;
  #container: string | undefined;
  #t: (k: string) => string = (k) => k;
  #choice: ContainerChoice | undefined;

  connectedCallback(): void {
    this.#t = strings(this);
    const list = this.querySelector<HTMLElement>('[data-body]')!;
    const redraw = redrawer(this);
    const again = () => {
      const snap = stateStore().snapshot;
      if (snap) redraw(() => this.#render(snap, list));
    };
    this.#choice ??= new ContainerChoice(this, again);
    this.#off.push(
      stateStore().subscribe((snap) => redraw(() => this.#render(snap, list))),
      () => redraw.cancel(),
    );
    const onClick = (e: Event) => {
      const button = (e.target as Element).closest<HTMLButtonElement>('button[data-path]');
      if (!button) return;
      this.#selected = button.dataset.path;
      for (const b of this.querySelectorAll('button[data-path]'))
        b.setAttribute('aria-pressed', String(b === button));
      void this.#showFile();
    };
    this.addEventListener('click', onClick);
    this.#off.push(() => this.removeEventListener('click', onClick));
  }

  disconnectedCallback(): void {
    for (const off of this.#off.splice(0)) off();
  }

  #render(snap: SessionSnapshot, list: HTMLElement): void {
    const choice = this.#choice!.choose(snap, false);
    const c = choice.containers[0];
    const t = this.#t;
    if (!c) {
      this.#container = undefined;
      list.innerHTML = `<p class="ll-muted">${choice.notice ? `${rich(choice.notice)} ` : ''}${esc(t('ll.layers.noContainer'))}</p>`;
      return;
    }
    if (this.#container !== c.name) {
      // Another container: its own files, and no file of the previous one left on show.
      this.#selected = undefined;
      this.querySelector<HTMLElement>('[data-file]')!.innerHTML = '';
    }
    this.#container = c.name;
    const notice = noticeHtml(choice);
    if (c.upper.entries.length === 0) {
      list.innerHTML = `${notice}<p class="ll-diff__cmd"><code>docker diff ${esc(c.name)}</code></p><p class="ll-muted">${esc(t('ll.diff.none'))}</p>`;
      return;
    }
    const rows = c.upper.entries.map((e) => {
      const kind = diffKind(e);
      const pressed = e.path === this.#selected;
      const clickable = e.kind === 'file' || e.kind === 'symlink' || kind === 'D';
      const path = `<code>${esc(e.path)}</code>`;
      return `<li class="ll-diff__row ll-entry--${kind}"><span class="ll-badge ll-badge--${kind}">${kind}</span>${
        clickable
          ? `<button type="button" class="ll-diff__file" data-path="${esc(e.path)}" aria-pressed="${pressed}">${path}</button>`
          : path
      }${e.kind === 'file' ? ` <span class="ll-muted">${formatSize(e.size)}</span>` : ''}</li>`;
    });
    list.innerHTML = `${notice}<p class="ll-diff__cmd"><code>docker diff ${esc(c.name)}</code></p><ul class="ll-diff__list">${rows.join('')}</ul>`;
    if (this.#selected) void this.#showFile();
  }

  async #showFile(): Promise<void> {
    const out = this.querySelector<HTMLElement>('[data-file]')!;
    const t = this.#t;
    const path = this.#selected;
    if (!path || !this.#container) return;
    if (connection().status === 'replay') {
      out.innerHTML = `<p class="ll-muted">${esc(t('ll.diff.liveOnly'))}</p>`;
      return;
    }
    let v: FileVersions;
    try {
      v = await connection().request('state.file', { container: this.#container, path });
    } catch (err) {
      out.innerHTML = `<p class="ll-muted">${esc((err as Error).message)}</p>`;
      return;
    }
    const show = (f: FileVersion | null) => {
      if (!f) return `<p class="ll-muted">${esc(t('ll.diff.absent'))}</p>`;
      const c = f.content;
      if (c.kind === 'text') return `<pre>${esc(c.text)}${c.truncated ? '\n…' : ''}</pre>`;
      if (c.kind === 'binary')
        return `<p class="ll-muted">${esc(t('ll.diff.binary'))} ${formatSize(c.size)}</p>`;
      if (c.kind === 'symlink') return `<pre>→ ${esc(c.target)}</pre>`;
      return `<p class="ll-muted">${esc(c.kind)}</p>`;
    };
    out.innerHTML = `<div class="ll-diff__versions">
      <section><h4>${esc(t('ll.diff.image'))}</h4>${show(v.image)}</section>
      <section><h4>${esc(t('ll.diff.container'))}</h4>${show(v.container)}</section></div>`;
  }
}

defineOnce('layerlab-diff-panel', LayerlabDiffPanel);
