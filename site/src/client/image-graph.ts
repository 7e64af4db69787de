// <layerlab-image-graph>: images, their layers and containers as one small tree that grows as the
// session does. Layers with the same diff_id are one node, so shared layers show as a shared trunk;
// each image hangs below its top layer and each container below its image.

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
        formatSize(l.unpackedSize ?? l.size),
        instruction(l.createdBy),
        parent,
      );
    }
    const imageNode = node(
      `I${img.id}`,
      'image',
      img.repoTags[0] ?? shortDigest(img.id),
      shortDigest(img.id),
      img.id,
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
    body.innerHTML = `<div class="ll-graph__scroll"><svg class="ll-graph" role="img" aria-label="${esc(t('ll.graph.title'))}"
      width="${vw}" height="${vh}" viewBox="${-pad} ${-pad} ${vw} ${vh}">${edges}${boxes}</svg></div>
      <p class="ll-graph__legend"><span class="ll-key is-layer"></span> layer <span class="ll-key is-image"></span> image <span class="ll-key is-container"></span> container</p>`;
    for (const n of nodes) this.#seen.add(n.key);
    this.#first = false;
  }
}

defineOnce('layerlab-image-graph', LayerlabImageGraph);
