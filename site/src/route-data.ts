// Builds the sidebar from the lessons themselves: "Start here", the lessons in `lesson.order`,
// the glossary and the sandbox. Lessons can then be added or renumbered without touching the config,
// and prev/next links follow the same order.

import { getCollection } from 'astro:content';
import { defineRouteMiddleware, type StarlightRouteData } from '@astrojs/starlight/route-data';

type Link = Extract<StarlightRouteData['sidebar'][number], { type: 'link' }>;
type Group = Extract<StarlightRouteData['sidebar'][number], { type: 'group' }>;

const START_IDS = ['start-here', 'index'];
const GLOSSARY_ID = 'glossary';

function hrefOf(id: string): string {
  return id === 'index' ? '/' : `/${id}/`;
}

function link(label: string, href: string, current: string): Link {
  const norm = (p: string) => (p.endsWith('/') ? p : `${p}/`);
  return { type: 'link', label, href, isCurrent: norm(href) === norm(current), badge: undefined, attrs: {} };
}

export const onRequest = defineRouteMiddleware(async (context, next) => {
  const route = context.locals.starlightRoute;
  const current = context.url.pathname;
  const docs = await getCollection('docs');
  const byId = new Map(docs.map((d) => [d.id, d]));
  const label = (id: string) => {
    const d = byId.get(id);
    return d ? (d.data.sidebar?.label ?? d.data.title) : id;
  };

  const lessons = docs
    .filter((d) => d.data.lesson !== undefined)
    .sort((a, b) => (a.data.lesson?.order ?? 0) - (b.data.lesson?.order ?? 0) || a.id.localeCompare(b.id));

  const start = START_IDS.find((id) => byId.has(id) && !byId.get(id)?.data.lesson);
  const entries: StarlightRouteData['sidebar'] = [];
  if (start) entries.push(link('Start here', hrefOf(start), current));
  if (lessons.length > 0) {
    const group: Group = {
      type: 'group',
      label: 'Lessons',
      collapsed: false,
      badge: undefined,
      entries: lessons.map((d) =>
        link(`${d.data.lesson?.order}. ${d.data.sidebar?.label ?? d.data.title}`, hrefOf(d.id), current),
      ),
    };
    entries.push(group);
  }
  if (byId.has(GLOSSARY_ID)) entries.push(link(label(GLOSSARY_ID), hrefOf(GLOSSARY_ID), current));
  entries.push(link('Sandbox', '/sandbox/', current));
  route.sidebar = entries;

  // Prev/next follow the same reading order (pages outside it keep none).
  const flat: Link[] = entries.flatMap((e) => (e.type === 'link' ? [e] : (e.entries as Link[])));
  const at = flat.findIndex((l) => l.isCurrent);
  if (at >= 0) {
    route.pagination = { prev: flat[at - 1], next: flat[at + 1] };
  }
  await next();
});
