// <layerlab-size-bars>: sizes as `docker ps -s` tells them (a container's own bytes beside its virtual
// size) and what sharing saves: each image's shared and unique bytes, and the store's real total.

import { defineOnce } from './define.ts';
import { esc, formatSize, shortDigest } from './format.ts';
import { SnapshotPicture } from './snapshot-picture.ts';
import type { SessionSnapshot } from './state.ts';

function bar(parts: { value: number; cls: string; label: string }[], max: number): string {
  const segs = parts
    .filter((p) => p.value > 0)
    .map(
      (p) =>
        `<span class="ll-bar__seg ${p.cls}" style="width:${Math.max(0.6, (p.value / max) * 100).toFixed(2)}%" title="${esc(p.label)}"></span>`,
    )
    .join('');
  return `<span class="ll-bar" aria-hidden="true">${segs}</span>`;
}

export class LayerlabSizeBars extends SnapshotPicture {
  protected render(snap: SessionSnapshot, body: HTMLElement, t: (k: string) => string): void {
    if (snap.images.length === 0 && snap.containers.length === 0) {
      body.innerHTML = `<p class="ll-muted">${esc(t('ll.graph.empty'))}</p>`;
      return;
    }
    const max = Math.max(1, ...snap.containers.map((c) => c.virtualSize), ...snap.images.map((i) => i.size));
    const containers = snap.containers
      .map(
        (c) => `<li class="ll-sizes__row"><span class="ll-sizes__name">${esc(c.name)}</span>
        ${bar(
          [
            { value: c.sizeRw, cls: 'is-rw', label: t('ll.sizes.size') },
            { value: c.virtualSize - c.sizeRw, cls: 'is-image', label: 'image' },
          ],
          max,
        )}
        <span class="ll-sizes__value"><strong>${formatSize(c.sizeRw)}</strong> <span class="ll-muted">(virtual ${formatSize(c.virtualSize)})</span></span></li>`,
      )
      .join('');
    const totals = new Map(snap.totals.images.map((i) => [i.id, i]));
    const images = snap.images
      .map((img) => {
        const tot = totals.get(img.id);
        const shared = tot?.sharedSize ?? 0;
        return `<li class="ll-sizes__row"><span class="ll-sizes__name">${esc(img.repoTags[0] ?? `<none> ${shortDigest(img.id)}`)}</span>
        ${bar(
          [
            { value: shared, cls: 'is-shared', label: 'shared' },
            { value: img.size - shared, cls: 'is-image', label: 'unique' },
          ],
          max,
        )}
        <span class="ll-sizes__value"><strong>${formatSize(img.size)}</strong>${shared ? ` <span class="ll-muted">(${formatSize(shared)} shared)</span>` : ''}</span></li>`;
      })
      .join('');
    const onDisk = snap.totals.layerBytes + snap.totals.containerBytes;
    const unshared = snap.totals.imageBytesIfUnshared + snap.totals.virtualBytes;
    const tmax = Math.max(1, onDisk, unshared);
    body.innerHTML = `
      ${containers ? `<h4>Containers</h4><ul class="ll-sizes">${containers}</ul>` : ''}
      ${images ? `<h4>Images</h4><ul class="ll-sizes">${images}</ul>` : ''}
      <h4>Total</h4><ul class="ll-sizes">
        <li class="ll-sizes__row"><span class="ll-sizes__name">${esc(t('ll.sizes.onDisk'))}</span>${bar([{ value: onDisk, cls: 'is-rw', label: '' }], tmax)}<span class="ll-sizes__value"><strong>${formatSize(onDisk)}</strong></span></li>
        <li class="ll-sizes__row"><span class="ll-sizes__name">${esc(t('ll.sizes.unshared'))}</span>${bar([{ value: unshared, cls: 'is-image', label: '' }], tmax)}<span class="ll-sizes__value">${formatSize(unshared)}</span></li>
      </ul>
      <p class="ll-sizes__legend"><span class="ll-key is-rw"></span> ${esc(t('ll.sizes.size'))}
        <span class="ll-key is-image"></span> image <span class="ll-key is-shared"></span> shared</p>`;
  }
}

defineOnce('layerlab-size-bars', LayerlabSizeBars);
