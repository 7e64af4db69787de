// A workshop student's lesson page: the room the teacher runs, in a bar at the top of the content —
// the workshop's name and the student's own, the raise-hand button, and banners for the teacher's
// message, "everyone to lesson N" (a link, never a forced move: the student may be mid-command), the
// notice of a reset the teacher made (what went, by whom, how wide) and the pause, during which the
// terminals show "Paused by your teacher" and Run buttons are off (the server drops the input anyway).
// Loaded by the page's connection when its `welcome` names a workshop; bundled with the site.

import './classroom.css';
import type { SessionEvent } from '../../../server/protocol.ts';
import type { ClassroomView } from '../../../server/workshop/classroom.ts';
import type { Connection } from '../client/connection.ts';

const PAUSED = 'Paused by your teacher';

let mounted = false;

/** Mounts the bar once per page, fills it from `/api/workshop/me` and keeps it current. */
export function mountClassroom(conn: Connection): void {
  if (mounted) return;
  mounted = true;
  const ui = buildBar();
  let view: ClassroomView | undefined;
  const show = (next: ClassroomView) => {
    view = next;
    render(ui, next);
  };
  const refresh = async () => {
    try {
      const res = await fetch('/api/workshop/me', {
        cache: 'no-store',
        headers: { accept: 'application/json' },
      });
      // The server answers this route with a `ClassroomView` (server/workshop/routes.ts).
      if (res.ok) show(await res.json());
    } catch {
      // The socket's reconnect asks again.
    }
  };
  const post = async (path: string, body: object) => {
    try {
      const res = await fetch(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
      });
      if (res.ok) show(await res.json());
    } catch {
      // Not reachable now: the bar stays as it was, and the next push or reconnect redraws it.
    }
  };
  ui.hand.addEventListener('click', () => void post('/api/workshop/me/hand', { raised: !view?.hand }));
  ui.banners.addEventListener('click', (e) => {
    const close = e.target instanceof Element ? e.target.closest<HTMLElement>('[data-dismiss]') : null;
    if (close?.dataset.dismiss) void post('/api/workshop/me/dismiss', { id: close.dataset.dismiss });
  });
  conn.on('event', (m) => {
    const event = m.event as SessionEvent;
    if (event.type === 'workshop.classroom') show(event.view);
  });
  conn.onStatus((status) => {
    if (status === 'live') void refresh();
  });
}

interface Bar {
  root: HTMLElement;
  workshop: HTMLElement;
  you: HTMLElement;
  hand: HTMLButtonElement;
  banners: HTMLElement;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string) {
  const e = document.createElement(tag);
  e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function buildBar(): Bar {
  const root = el('div', 'll-classroom not-content');
  root.setAttribute('role', 'region');
  root.setAttribute('aria-label', 'Workshop');
  const line = el('div', 'll-classroom__bar');
  const who = el('p', 'll-classroom__who');
  const workshop = el('strong', 'll-classroom__workshop');
  const you = el('span', 'll-classroom__you');
  who.append(workshop, ' · ', you);
  const hand = el('button', 'll-classroom__hand', '✋ Raise hand');
  hand.type = 'button';
  hand.setAttribute('aria-pressed', 'false');
  line.append(who, hand);
  const banners = el('div', 'll-classroom__banners');
  banners.setAttribute('aria-live', 'polite');
  root.append(line, banners);
  // At the top of the lesson's content, sticky under the site's header, so a banner is seen wherever
  // the student has scrolled to.
  const main = document.querySelector('main');
  if (main) main.prepend(root);
  else document.body.prepend(root);
  return { root, workshop, you, hand, banners };
}

function banner(kind: string, dismiss: string | undefined, ...content: (string | Node)[]): HTMLElement {
  const box = el('div', `ll-classroom__banner ll-classroom__banner--${kind}`);
  box.dataset.kind = kind;
  const text = el('p', 'll-classroom__text');
  text.append(...content);
  box.append(text);
  if (dismiss) {
    const close = el('button', 'll-classroom__close', 'Close');
    close.type = 'button';
    close.dataset.dismiss = dismiss;
    close.setAttribute('aria-label', `Close: ${text.textContent ?? ''}`.slice(0, 200));
    box.append(close);
  }
  return box;
}

function clock(iso: string): string {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function lessonWords(l: { order?: number; title: string }): string {
  return l.order !== undefined ? `lesson ${l.order} “${l.title}”` : `“${l.title}”`;
}

function render(ui: Bar, view: ClassroomView): void {
  ui.workshop.textContent = view.workshop.name;
  ui.you.textContent = `you are ${view.you.name}`;
  ui.hand.textContent = view.hand ? '✋ Lower hand' : '✋ Raise hand';
  ui.hand.setAttribute('aria-pressed', String(Boolean(view.hand)));
  ui.hand.title = view.hand ? `Your hand is up since ${clock(view.hand)}: your teacher sees it` : '';
  ui.hand.disabled = view.workshop.ended;
  const list: HTMLElement[] = [];
  if (view.paused) {
    list.push(
      banner(
        'paused',
        undefined,
        `${PAUSED}: your terminal takes no input and the Run buttons are off until the class resumes.`,
      ),
    );
  }
  if (view.broadcast) {
    const from = el('strong', '', 'Message from your teacher: ');
    list.push(banner('broadcast', view.broadcast.id, from, view.broadcast.text));
  }
  if (view.call) {
    const here = location.pathname.replace(/\/+$/, '') === view.call.href.replace(/\/+$/, '');
    const link = el('a', 'll-classroom__link', here ? 'You are there' : `Go to ${lessonWords(view.call)}`);
    link.setAttribute('href', view.call.href);
    list.push(
      banner('call', view.call.id, `Your teacher asks everyone to go to ${lessonWords(view.call)}. `, link),
    );
  }
  // Not dismissible: it holds until the server takes it down.
  if (view.notice) list.push(banner('notice', undefined, el('strong', '', view.notice)));
  if (view.reset?.scope === 'node') {
    // The cluster node holding the sandbox stopped; another one seated the student afresh.
    const r = view.reset;
    list.push(
      banner(
        'reset',
        r.id,
        el('strong', '', 'The machine running your sandbox stopped'),
        ` at ${clock(r.at)}, and you were moved to another one. Your progress and passed checks are kept; your containers and images were on that machine and are lost. `,
        'This page prepares its starting state again in your new sandbox.',
      ),
    );
  } else if (view.reset) {
    const r = view.reset;
    const went = [
      r.removedContainers.length > 0 ? `containers ${r.removedContainers.join(', ')}` : undefined,
      r.removedImages.length > 0 ? `images ${r.removedImages.join(', ')}` : undefined,
    ].filter((p) => p !== undefined);
    list.push(
      banner(
        'reset',
        r.id,
        el('strong', '', 'Your teacher reset your sandbox'),
        ` at ${clock(r.at)} (${r.scope === 'class' ? 'the whole class at once' : 'you alone'}) to the start of ${lessonWords(r)}. `,
        went.length > 0
          ? `What went: ${went.join('; ')}. The lesson's starting containers and images are there afresh; your progress is kept.`
          : 'Nothing of yours was removed; your progress is kept.',
      ),
    );
  }
  ui.banners.replaceChildren(...list);
  setPaused(view.paused);
}

/** Paused: an overlay on every terminal, Run buttons disabled; undone on resume. */
function setPaused(paused: boolean): void {
  document.documentElement.classList.toggle('ll-paused', paused);
  // forEach, not for…of: the root project type-checks this file too, without DOM.Iterable.
  document.querySelectorAll<HTMLElement>('layerlab-terminal [data-screen]').forEach((screen) => {
    let overlay = screen.querySelector<HTMLElement>(':scope > .ll-paused-overlay');
    if (paused && !overlay) {
      overlay = el('div', 'll-paused-overlay', PAUSED);
      overlay.setAttribute('role', 'status');
      screen.append(overlay);
    } else if (!paused) overlay?.remove();
  });
  document.querySelectorAll<HTMLButtonElement>('button.ll-run').forEach((run) => {
    if (paused) {
      run.disabled = true;
      run.dataset.pausedBy = 'teacher';
      run.title = PAUSED;
    } else if (run.dataset.pausedBy) {
      run.disabled = false;
      delete run.dataset.pausedBy;
      run.removeAttribute('title');
    }
  });
  // A focused terminal would keep taking keys the server then drops: let go of it.
  if (paused && document.activeElement?.closest('layerlab-terminal'))
    (document.activeElement as HTMLElement).blur();
}
