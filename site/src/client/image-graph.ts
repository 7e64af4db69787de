// <layerlab-image-graph>: images, their layers and containers as one small tree that grows as the
// session does. Layers with the same diff_id are one node, so shared layers show as a shared trunk;
// each image hangs below its top layer and each container below its image. An untagged image is
// `<none>` with its short id, as `docker images` lists it; a layer's size is the one `docker history`
// prints. The tree shrinks to fit its card down to MIN_SCALE; wider than that it scrolls, and says so.

import { defineOnce } from './define.ts';
import { esc, formatSize, instruction, shortDigest } from './format.ts';
import { SnapshotPicture } from './snapshot-picture.ts';
import type { SessionSnapshot } from './state.ts';

interface Node {
  key: string;
  kind: 'layer' | 'image' | 'container';
  label: string;
  sub: string;
  title: string;
  children: Node[];
  x: number;
  y: number;
}

const W = 132;
const H = 38;
const GAP_X = 18;
const GAP_Y = 26;
/** Below this scale the labels would be too small to read: the graph scrolls instead. */
const MIN_SCALE = 0.75;

function build(snap: SessionSnapshot): Node[] {
  const roots: Node[] = [];
  const byKey = new Map<string, Node>();
  const node = (
    key: string,
    kind: Node['kind'],
    label: string,
    sub: string,
    title: string,
    parent?: Node,
  ): Node => {
    let n = byKey.get(key);
    if (!n) {
      n = { key, kind, label, sub, title, children: [], x: 0, y: 0 };
      byKey.set(key, n);
      (parent ? parent.children : roots).push(n);
    }
    return n;
  };
  for (const img of snap.images) {
    let parent: Node | undefined;
    let chain = '';
    for (const l of img.layers) {
      chain += `/${l.diffId}`;
      parent = node(
        `L${chain}`,
        'layer',
        shortDigest(l.diffId),
        // The size `docker history` prints: the layer's files once unpacked (compressed bytes only
        // for a layer not unpacked here, as history falls back to them too).
        formatSize(l.unpackedSize ?? l.size),
        [
          instruction(l.createdBy),
          `${formatSize(l.unpackedSize ?? l.size)} ${l.unpackedSize !== undefined ? 'unpacked (docker history SIZE)' : 'compressed'}`,
          l.diffId,
        ]
          .filter(Boolean)
          .join('\n'),
        parent,
      );
    }
    const tags = img.repoTags;
    const imageNode = node(
      `I${img.id}`,
      'image',
      tags.length === 0 ? '<none>' : tags.length > 1 ? `${tags[0]} +${tags.length - 1}` : tags[0]!,
      shortDigest(img.id),
      [...(tags.length ? tags : ['<none>:<none> (untagged)']), img.id].join('\n'),
      parent,
    );
    for (const c of snap.containers.filter((c) => c.imageId === img.id)) {
      node(`C${c.id}`, 'container', c.name, c.state, c.id, imageNode);
    }
  }
  return roots;
}

/** Tidy enough: leaves left to right, parents centred over their children, depth as rows. */
function layout(roots: Node[]): { width: number; height: number; nodes: Node[] } {
  let next = 0;
  let depthMax = 0;
  const nodes: Node[] = [];
  const place = (n: Node, depth: number) => {
    nodes.push(n);
    n.y = depth * (H + GAP_Y);
    depthMax = Math.max(depthMax, depth);
    if (n.children.length === 0) {
      n.x = next++ * (W + GAP_X);
      return;
    }
    for (const c of n.children) place(c, depth + 1);
    n.x = (n.children[0]!.x + n.children[n.children.length - 1]!.x) / 2;
  };
  for (const r of roots) place(r, 0);
  return {
    width: Math.max(1, next) * (W + GAP_X) - GAP_X,
    height: (depthMax + 1) * (H + GAP_Y) - GAP_Y,
    nodes,
  };
}

export class LayerlabImageGraph extends SnapshotPicture {
  #seen = new Set<string>();
  #first = true;
  #resize: ResizeObserver | undefined;

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.#resize?.disconnect();
    this.#resize = undefined;
  }

  protected render(snap: SessionSnapshot, body: HTMLElement, t: (k: string) => string): void {
    if (snap.images.length === 0) {
      body.innerHTML = `<p class="ll-muted">${esc(t('ll.graph.empty'))}</p>`;
      return;
    }
    const { width, height, nodes } = layout(build(snap));
    const pad = 4;
    const edges = nodes
      .flatMap((p) =>
        p.children.map((c) => {
          const x1 = p.x + W / 2;
          const y1 = p.y + H;
          const x2 = c.x + W / 2;
          const y2 = c.y;
          const my = (y1 + y2) / 2;
          return `<path class="ll-graph__edge${c.kind === 'container' ? ' is-container' : ''}" d="M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2}"/>`;
        }),
      )
      .join('');
    const boxes = nodes
      .map((n) => {
        const isNew = !this.#first && !this.#seen.has(n.key);
        const label = n.label.length > 18 ? `${n.label.slice(0, 17)}…` : n.label;
        return `<g class="ll-graph__node is-${n.kind}${isNew ? ' is-new' : ''}" transform="translate(${n.x},${n.y})">
          <title>${esc(n.title || n.label)}</title>
          <rect width="${W}" height="${H}" rx="${n.kind === 'container' ? 12 : 5}"/>
          <text x="${W / 2}" y="16" text-anchor="middle" class="ll-graph__label">${esc(label)}</text>
          <text x="${W / 2}" y="30" text-anchor="middle" class="ll-graph__sub">${esc(n.sub)}</text></g>`;
      })
      .join('');
    const vw = width + pad * 2;
    const vh = height + pad * 2;
    const previous = body.querySelector('.ll-graph__scroll')?.scrollLeft ?? 0;
    // Scales down with its card to MIN_SCALE, never up; narrower cards scroll (see #fit).
    const size = `width:100%;height:auto;max-width:${vw}px;min-width:${Math.ceil(vw * MIN_SCALE)}px`;
    body.innerHTML = `<div class="ll-graph__scroll" role="region" aria-label="${esc(t('ll.graph.title'))}">
      <svg class="ll-graph" role="img" aria-label="${esc(t('ll.graph.title'))}: ${esc(describe(snap))}"
      width="${vw}" height="${vh}" viewBox="${-pad} ${-pad} ${vw} ${vh}" style="${size}">${edges}${boxes}</svg></div>
      <p class="ll-graph__cue" hidden>${esc(CUE)}</p>
      <p class="ll-graph__legend"><span class="ll-key is-layer"></span> layer (size as <code>docker history</code> shows it) <span class="ll-key is-image"></span> image <span class="ll-key is-container"></span> container</p>`;
    for (const n of nodes) this.#seen.add(n.key);
    this.#first = false;
    const base = nodes.find((n) => n.kind === 'layer');
    this.#fit(body, previous, base ? (base.x + W / 2 + pad) / vw : 0.5);
    if (!this.#resize) {
      this.#resize = new ResizeObserver(() => this.#fit(body, undefined, undefined));
      this.#resize.observe(body);
    }
  }

  /**
   * Shows the scroll cue (and makes the box focusable, to scroll from the keyboard) when the graph is
   * wider than its card; on a first draw, scrolls the base layer into the middle of the view.
   */
  #fit(body: HTMLElement, previous: number | undefined, baseAt: number | undefined): void {
    const box = body.querySelector<HTMLElement>('.ll-graph__scroll');
    const cue = body.querySelector<HTMLElement>('.ll-graph__cue');
    if (!box || !cue) return;
    const scrolls = box.scrollWidth > box.clientWidth + 1;
    cue.hidden = !scrolls;
    box.classList.toggle('is-scrollable', scrolls);
    if (scrolls) box.tabIndex = 0;
    else box.removeAttribute('tabindex');
    if (!scrolls) return;
    if (previous) box.scrollLeft = previous;
    else if (baseAt !== undefined) box.scrollLeft = baseAt * box.scrollWidth - box.clientWidth / 2;
  }
}

const CUE = 'Wider than this card: scroll sideways to see all of it (the base layers are at the top).';

/** The graph in words, for a screen reader: the images and what they stand on. */
function describe(snap: SessionSnapshot): string {
  return snap.images
    .map((img) => {
      const name = img.repoTags[0] ?? `<none> ${shortDigest(img.id)}`;
      const on = snap.containers.filter((c) => c.imageId === img.id).map((c) => c.name);
      return `${name}, ${img.layers.length} layer${img.layers.length === 1 ? '' : 's'}${on.length ? `, containers ${on.join(', ')}` : ''}`;
    })
    .join('; ');
}

defineOnce('layerlab-image-graph', LayerlabImageGraph);
