// <layerlab-layer-stack container="box">: the container's overlay as a stack of boxes — the merged
// view on top, the writable layer(s), then the image's read-only layers (short digest, size, the
// instruction that made it). A new file appears in the writable box; a first write to an image file
// flies a copy up from its layer; a deleted image file shows as a whiteout. Containers from one image
// stand side by side over the same lower boxes.

import { ContainerChoice, noticeHtml } from './container-choice.ts';
import { defineOnce } from './define.ts';
import { esc, formatSize, instruction, rich, shortDigest } from './format.ts';
import { diffKind } from './pick.ts';
import { SnapshotPicture } from './snapshot-picture.ts';
import type { SessionSnapshot } from './state.ts';

const MAX_ENTRIES = 40;

export class LayerlabLayerStack extends SnapshotPicture {
  #seen = new Set<string>();
  #first = true;
  #choice: ContainerChoice | undefined;

  override connectedCallback(): void {
    this.#choice ??= new ContainerChoice(this, () => this.redrawNow());
    super.connectedCallback();
  }

  protected render(snap: SessionSnapshot, body: HTMLElement, t: (k: string) => string): void {
    const choice = this.#choice!.choose(snap, !this.hasAttribute('single'));
    const containers = choice.containers;
    const primary = containers[0];
    if (!primary) {
      body.innerHTML = `<p class="ll-muted">${choice.notice ? `${rich(choice.notice)} ` : ''}${esc(t('ll.layers.noContainer'))}</p>`;
      return;
    }
    // Siblings only share the boxes when they really stand on the same layers.
    const group = containers.filter((c) => c.lowerLayers.join() === primary.lowerLayers.join());
    const image = snap.images.find((i) => i.id === primary.imageId);
    const layerInfo = new Map((image?.layers ?? []).map((l) => [l.diffId, l]));
    const fresh: { key: string; container: string; path: string; from?: string }[] = [];

    const uppers = group
      .map((c) => {
        const entries = c.upper.entries;
        const items = entries.slice(0, MAX_ENTRIES).map((e) => {
          const kind = diffKind(e);
          const key = `${c.id}:${e.path}:${kind}`;
          const isNew = !this.#seen.has(key);
          if (isNew)
            fresh.push({
              key,
              container: c.id,
              path: e.path,
              ...(e.copiedUpFrom ? { from: e.copiedUpFrom } : {}),
            });
          const note =
            kind === 'D'
              ? `${t('ll.layers.whiteout')} <code>${esc(shortDigest(e.hides))}</code>`
              : kind === 'C'
                ? `${t('ll.layers.copiedFrom')} <code>${esc(shortDigest(e.copiedUpFrom))}</code>`
                : t('ll.layers.new');
          return `<li class="ll-entry ll-entry--${kind}${e.kind === 'dir' ? ' ll-entry--dir' : ''}${isNew && !this.#first ? ' is-new' : ''}" data-key="${esc(key)}">
            <span class="ll-badge ll-badge--${kind}" aria-hidden="true">${kind}</span>
            <code class="ll-entry__path">${esc(e.path)}</code>
            <span class="ll-entry__note">${note}</span></li>`;
        });
        const more =
          entries.length > MAX_ENTRIES ? `<li class="ll-muted">+ ${entries.length - MAX_ENTRIES}</li>` : '';
        return `<section class="ll-stack__upper" aria-label="${esc(t('ll.layers.upper'))}: ${esc(c.name)}">
          <h4 class="ll-stack__label">${esc(t('ll.layers.upper'))} · <strong>${esc(c.name)}</strong>
            <span class="ll-muted">${formatSize(c.sizeRw)}</span></h4>
          ${items.length ? `<ul class="ll-stack__entries">${items.join('')}${more}</ul>` : `<p class="ll-muted ll-stack__empty">${esc(t('ll.layers.emptyUpper'))}</p>`}
        </section>`;
      })
      .join('');

    const lowers = primary.lowerLayers
      .map((diffId) => {
        const l = layerInfo.get(diffId);
        const what = instruction(l?.createdBy);
        return `<li class="ll-stack__lower" data-diffid="${esc(diffId)}">
          <code class="ll-stack__digest">${esc(shortDigest(diffId))}</code>
          <span class="ll-stack__size">${l ? formatSize(l.unpackedSize ?? l.size) : ''}</span>
          <span class="ll-stack__instr" title="${esc(l?.createdBy ?? '')}">${esc(what)}</span></li>`;
      })
      .join('');

    const names = group.map((c) => c.name).join(', ');
    const imageName = primary.imageName ?? primary.image;
    body.innerHTML = `${noticeHtml(choice)}<div class="ll-stack">
      <div class="ll-stack__merged"><span>${esc(t('ll.layers.merged'))}</span> <code>${esc(names)}</code></div>
      <div class="ll-stack__uppers" style="--ll-cols:${group.length}">${uppers}</div>
      <div class="ll-stack__image">
        <h4 class="ll-stack__label">${esc(t('ll.layers.lower'))} · <strong>${esc(imageName)}</strong>
          ${group.length > 1 ? `<span class="ll-muted">${esc(t('ll.layers.shared'))} ${esc(names)}</span>` : ''}</h4>
        <ol class="ll-stack__lowers">${lowers}</ol>
      </div></div>`;

    for (const f of fresh) this.#seen.add(f.key);
    if (this.#first) {
      this.#first = false;
      return;
    }
    for (const f of fresh) if (f.from) this.#flyCopyUp(body, f.key, f.from);
  }

  /** Animates a chip from the lower layer's box to the new entry in the writable layer. */
  #flyCopyUp(body: HTMLElement, key: string, from: string): void {
    const target = body.querySelector<HTMLElement>(`[data-key="${CSS.escape(key)}"]`);
    const source = body.querySelector<HTMLElement>(`[data-diffid="${CSS.escape(from)}"]`);
    if (!target || !source || matchMedia('(prefers-reduced-motion: reduce)').matches) return;
    const a = source.getBoundingClientRect();
    const b = target.getBoundingClientRect();
    const chip = document.createElement('div');
    chip.className = 'll-stack__chip';
    chip.textContent = target.querySelector('.ll-entry__path')?.textContent ?? '';
    chip.setAttribute('aria-hidden', 'true');
    document.body.append(chip);
    chip.style.left = `${a.left + 12}px`;
    chip.style.top = `${a.top + 4}px`;
    source.classList.add('is-source');
    const anim = chip.animate(
      [
        { transform: 'translate(0,0)', opacity: 0.2 },
        { transform: 'translate(0,0)', opacity: 1, offset: 0.15 },
        { transform: `translate(${b.left - a.left}px, ${b.top - a.top}px)`, opacity: 1 },
      ],
      { duration: 900, easing: 'cubic-bezier(.4,0,.2,1)' },
    );
    anim.onfinish = () => {
      chip.remove();
      source.classList.remove('is-source');
    };
  }
}

defineOnce('layerlab-layer-stack', LayerlabLayerStack);
