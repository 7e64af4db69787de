// When the page's own work runs: after `load`, in short tasks that let input and paint in between, and
// for the pictures, one redraw per task — the ones on screen first, the others when the browser idles.

interface Scheduler {
  yield?: () => Promise<void>;
}

/** Ends the current task: the browser handles input and paints before the caller goes on. */
export function nextTask(): Promise<void> {
  const scheduler = (globalThis as { scheduler?: Scheduler }).scheduler;
  if (scheduler?.yield) return scheduler.yield();
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Resolves once the page has loaded (at once if it already has). */
export function afterLoad(): Promise<void> {
  if (document.readyState === 'complete') return Promise.resolve();
  return new Promise((resolve) => addEventListener('load', () => resolve(), { once: true }));
}

/** Resolves when the browser has a moment to spare, or after `timeoutMs` at the latest. */
export function whenIdle(timeoutMs: number): Promise<void> {
  if (typeof requestIdleCallback !== 'function') return new Promise((r) => setTimeout(r, 1));
  return new Promise((resolve) => requestIdleCallback(() => resolve(), { timeout: timeoutMs }));
}

/** How long an off-screen picture may wait for an idle moment before it is drawn anyway. */
const OFFSCREEN_WAIT_MS = 1500;

const near = new Set<Element>();
let observer: IntersectionObserver | undefined;
const queue = new Map<Element, () => void>();
let draining = false;
/** Cuts short the wait for an idle moment when an on-screen picture has something to draw. */
let wake: (() => void) | undefined;

const nearQueued = () => [...queue.keys()].find((el) => near.has(el));

function visibility(): IntersectionObserver {
  observer ??= new IntersectionObserver(
    (entries) => {
      for (const e of entries) {
        if (e.isIntersecting) near.add(e.target);
        else near.delete(e.target);
      }
      if (entries.some((e) => e.isIntersecting && queue.has(e.target))) wake?.();
    },
    { rootMargin: '25% 0px' },
  );
  return observer;
}

/** Draws what is queued, one picture per task: on-screen pictures at once, the others when idle. */
async function drain(): Promise<void> {
  if (draining) return;
  draining = true;
  try {
    while (queue.size > 0) {
      if (nearQueued()) await nextTask();
      else await Promise.race([whenIdle(OFFSCREEN_WAIT_MS), new Promise<void>((r) => (wake = r))]);
      wake = undefined;
      const target = nearQueued() ?? queue.keys().next().value;
      if (!target) continue;
      const draw = queue.get(target)!;
      queue.delete(target);
      if (!target.isConnected) continue;
      try {
        draw();
      } catch (err) {
        reportError(err); // one broken picture must not stop the others
      }
    }
  } finally {
    draining = false;
  }
}

export interface Redraw {
  /** Queues a draw of `host`; a later call replaces a draw not yet made (only the newest state matters). */
  (draw: () => void): void;
  cancel(): void;
}

/**
 * A picture's redraws: coalesced, each in a task of its own, and off-screen pictures only when the
 * browser is idle, so a snapshot that changes five pictures never blocks the page for all five.
 */
export function redrawer(host: Element): Redraw {
  visibility().observe(host);
  const redraw = (draw: () => void) => {
    queue.set(host, draw);
    if (near.has(host)) wake?.();
    void drain();
  };
  redraw.cancel = () => {
    queue.delete(host);
    near.delete(host);
    observer?.unobserve(host);
  };
  return redraw;
}
