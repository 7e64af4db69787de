// <layerlab-pull-inspector>: the registry conversation of the last pull, step by step — the token,
// the index, the manifest, the config, then each layer, fetched or already here. Built from
// `pull.exchange`, `pull.layer` and `pull.done` events; kept for the tab so the next page shows it too.

import { defineOnce } from './define.ts';
import { esc, formatSize, rich, shortDigest, strings } from './format.ts';
import { redrawer } from './schedule.ts';
import type { SessionEvent } from './state.ts';
import { stateStore } from './state.ts';

type Exchange = Extract<SessionEvent, { type: 'pull.exchange' }>;
type LayerEvent = Extract<SessionEvent, { type: 'pull.layer' }>;

interface PullView {
  ref: string;
  exchanges: Exchange[];
  layers: Record<string, LayerEvent>;
  done?: { imageId: string };
}

const STORAGE_KEY = 'layerlab:last-pull';
const STEP_LABEL: Record<Exchange['step'], string> = {
  ping: 'Ping the registry',
  token: 'Get a token',
  index: 'Image index (which platforms)',
  manifest: 'Manifest (which layers)',
  config: 'Config (history, env, cmd)',
};

export class LayerlabPullInspector extends HTMLElement {
  #off: (() => void)[] = [];
  #pull: PullView | undefined;

  connectedCallback(): void {
    const t = strings(this);
    const body = this.querySelector<HTMLElement>('[data-body]')!;
    try {
      this.#pull = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') ?? undefined;
    } catch {
      this.#pull = undefined;
    }
    // Events come in bursts during a pull: they are applied at once and drawn once per task.
    const redraw = redrawer(this);
    redraw(() => this.#render(body, t));
    this.#off.push(
      stateStore().onEvent((e) => {
        if (this.#apply(e)) redraw(() => this.#render(body, t));
      }),
      () => redraw.cancel(),
    );
  }

  disconnectedCallback(): void {
    for (const off of this.#off.splice(0)) off();
  }

  #apply(e: SessionEvent): boolean {
    if (e.type !== 'pull.exchange' && e.type !== 'pull.layer' && e.type !== 'pull.done') return false;
    let p = this.#pull;
    if (!p || p.ref !== e.ref || (p.done && e.type !== 'pull.done')) {
      p = { ref: e.ref, exchanges: [], layers: {} };
      this.#pull = p;
    }
    if (e.type === 'pull.exchange') p.exchanges.push(e);
    else if (e.type === 'pull.layer') {
      // "exists" sticks: a layer already here is never downloaded.
      if (p.layers[e.digest]?.state !== 'exists') p.layers[e.digest] = e;
    } else p.done = { imageId: e.imageId };
    if (e.type === 'pull.done') sessionStorage.setItem(STORAGE_KEY, JSON.stringify(p));
    return true;
  }

  #render(body: HTMLElement, t: (k: string) => string): void {
    const p = this.#pull;
    if (!p) {
      body.innerHTML = `<p class="ll-muted">${rich(t('ll.pull.none'))}</p>`;
      return;
    }
    const path = (url: string) => {
      try {
        const u = new URL(url);
        return `${u.pathname.replace(/(sha256:[0-9a-f]{12})[0-9a-f]{52}/g, '$1…')}${u.search ? '?…' : ''}`;
      } catch {
        return url;
      }
    };
    const steps = p.exchanges
      .map(
        (
          x,
        ) => `<li class="ll-pull__step"><span class="ll-pull__what">${esc(STEP_LABEL[x.step] ?? x.step)}</span>
        <code class="ll-pull__url">GET ${esc(path(x.url))}</code>
        <span class="ll-pull__status ${x.status < 300 ? 'is-ok' : 'is-other'}">${x.status}</span>
        ${x.digest ? `<code class="ll-muted">${esc(shortDigest(x.digest))}</code>` : ''}</li>`,
      )
      .join('');
    const layers = Object.values(p.layers)
      .map((l) => {
        const existed = l.state === 'exists';
        const pct =
          existed || l.state === 'complete'
            ? 100
            : l.size
              ? Math.round(((l.current ?? 0) / l.size) * 100)
              : 0;
        return `<li class="ll-pull__layer"><code>${esc(shortDigest(l.digest))}</code>
          <span class="ll-muted">${formatSize(l.size)}</span>
          <span class="ll-progress" role="progressbar" aria-valuenow="${pct}" aria-valuemin="0" aria-valuemax="100" aria-label="${esc(shortDigest(l.digest))}"><span style="width:${pct}%"></span></span>
          <span class="ll-pull__state ${existed ? 'is-existed' : 'is-fetched'}">${existed ? esc(t('ll.pull.existed')) : l.state === 'complete' ? esc(t('ll.pull.fetched')) : esc(l.state)}</span></li>`;
      })
      .join('');
    body.innerHTML = `<p class="ll-pull__ref"><code>docker pull ${esc(p.ref)}</code>${p.done ? ` → <code>${esc(shortDigest(p.done.imageId))}</code>` : ''}</p>
      <ol class="ll-pull__steps">${steps}</ol>
      ${layers ? `<h4>Layers</h4><ul class="ll-pull__layers">${layers}</ul>` : ''}`;
  }
}

defineOnce('layerlab-pull-inspector', LayerlabPullInspector);
