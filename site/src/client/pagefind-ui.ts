// Stands in for `@pagefind/default-ui` (aliased in astro.config.mjs): Starlight builds the search UI
// as soon as the page is idle, which parses ~90 kB of script on every lesson for a search most
// readers never open. This builds the real one when the reader reaches for search instead (hovers
// or focuses the search button, presses it, or Ctrl/Cmd+K), then focuses its input.

interface RealPagefindUI {
  triggerSearch(term: string): void;
  destroy(): void;
}
type Options = Record<string, unknown>;

const REACHING_FOR_SEARCH = ['pointerenter', 'pointerdown', 'touchstart', 'focus', 'click'] as const;

export class PagefindUI {
  #real: RealPagefindUI | undefined;
  #loading: Promise<void> | undefined;

  constructor(options: Options) {
    const button = document.querySelector<HTMLButtonElement>('site-search button[data-open-modal]');
    const onKey = (e: KeyboardEvent) => {
      if ((e.metaKey || e.ctrlKey) && e.key === 'k') start();
    };
    const start = () => {
      if (this.#loading) return;
      for (const type of REACHING_FOR_SEARCH) button?.removeEventListener(type, start);
      removeEventListener('keydown', onKey, { capture: true });
      this.#loading = this.#load(options);
    };
    if (!button) {
      start();
      return;
    }
    for (const type of REACHING_FOR_SEARCH) button.addEventListener(type, start, { passive: true });
    // Before Starlight's own Ctrl/Cmd+K handler, which opens the dialog.
    addEventListener('keydown', onKey, { capture: true });
  }

  async #load(options: Options): Promise<void> {
    // The real module, by a path the alias does not catch.
    // @ts-expect-error — the package ships no types.
    const real = await import('@pagefind/default-ui/npm_dist/mjs/ui-core.mjs');
    const Real = (real as { PagefindUI: new (o: Options) => RealPagefindUI }).PagefindUI;
    this.#real = new Real(options);
    // Starlight focused the input when it opened the dialog, before the input existed.
    const dialog = document.querySelector<HTMLDialogElement>('site-search dialog');
    if (dialog?.open) dialog.querySelector<HTMLInputElement>('input')?.focus();
  }

  triggerSearch(term: string): void {
    void this.#loading?.then(() => this.#real?.triggerSearch(term));
  }

  destroy(): void {
    void this.#loading?.then(() => this.#real?.destroy());
  }
}
