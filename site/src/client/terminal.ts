// <layerlab-terminal name="main" rows="14">: a terminal of the page's session. Live, it opens the
// named terminal over the shared connection (binary frames in, keystrokes out, resize as messages);
// without an engine it replays the lesson's recording. Owns its xterm, observers and listeners and
// releases them when it leaves the page.

import type { ITheme, Terminal as XTerm } from '@xterm/xterm';
import { type Connection, type ConnectionStatus, connection } from './connection.ts';
import { rich, strings } from './format.ts';
import { lessonIdOf, loadRecording, type RecordedStep, type Recording } from './recording.ts';
import { type RunRequest, runFromBlock } from './run-block.ts';
import { afterLoad, nextTask, whenIdle } from './schedule.ts';
import { stateStore } from './state.ts';
import { fittedSize, type TerminalFont } from './terminal-size.ts';

const LIGHT: ITheme = {
  background: '#fbfaf7',
  foreground: '#2b2a27',
  cursor: '#2b2a27',
  cursorAccent: '#fbfaf7',
  selectionBackground: '#cfe0f0',
  black: '#2b2a27',
  red: '#b3413a',
  green: '#3b7a3a',
  yellow: '#8a6a12',
  blue: '#2f5f9a',
  magenta: '#86468f',
  cyan: '#2a7a80',
  white: '#5f5b54',
  brightBlack: '#6b675f',
  brightRed: '#b03f38',
  brightGreen: '#367335',
  brightYellow: '#7a5d0f',
  brightBlue: '#3f70ad',
  brightMagenta: '#9a56a3',
  brightCyan: '#266f75',
  brightWhite: '#45433e',
};
const DARK: ITheme = {
  background: '#1b1d21',
  foreground: '#d8d6d0',
  cursor: '#d8d6d0',
  cursorAccent: '#1b1d21',
  selectionBackground: '#3b4a5c',
  black: '#8f8b83',
  red: '#e07a72',
  green: '#8cc084',
  yellow: '#d8b866',
  blue: '#82a9d9',
  magenta: '#c79ad0',
  cyan: '#7cc3c8',
  white: '#d8d6d0',
  brightBlack: '#9a968d',
  brightRed: '#eb8f87',
  brightGreen: '#a1d099',
  brightYellow: '#e6c97d',
  brightBlue: '#98bbe6',
  brightMagenta: '#d5aede',
  brightCyan: '#92d2d6',
  brightWhite: '#f3f1ec',
};

const FONT_FAMILY = 'ui-monospace, "JetBrains Mono", "DejaVu Sans Mono", Menlo, Consolas, monospace';
/**
 * A phone's terminal runs edge to edge in a smaller font, so Docker's tables wrap less (about 48
 * columns on a 375 px screen instead of 39); elsewhere 14 px.
 */
const fontForViewport = (): TerminalFont => ({
  fontFamily: FONT_FAMILY,
  fontSize: matchMedia('(max-width: 50em)').matches ? 12 : 14,
  lineHeight: 1.15,
});
const isDark = () => document.documentElement.dataset.theme === 'dark';
const encoder = new TextEncoder();

export class LayerlabTerminal extends HTMLElement {
  #disposers: (() => void)[] = [];
  #term: XTerm | undefined;
  #channel: number | undefined;
  #conn: Connection | undefined;
  #t: (key: string) => string = (k) => k;
  #status!: HTMLElement;
  #mode!: HTMLElement;
  #note!: HTMLElement;
  #screen!: HTMLElement;
  #next!: HTMLButtonElement;
  #recording: Recording | undefined;
  #played = 0;
  #playing: Promise<void> = Promise.resolve();
  /** Runs asked for before the terminal was open; `id` is the Run block's, for `terminal.ran`. */
  #pendingRuns: { command: string; id?: string }[] = [];
  /** The container whose shell the terminal shows, from `terminal.mode`. */
  #inContainer: string | undefined;
  #escapeArmed = false;
  #mounting: Promise<void> | undefined;
  /** Nothing written to the screen yet: the first attach need not reset it. */
  #blank = true;

  get terminalName(): string {
    return this.getAttribute('name') || 'main';
  }

  get inContainer(): string | undefined {
    return this.#inContainer;
  }

  connectedCallback(): void {
    this.#t = strings(this);
    this.#status = this.querySelector('[data-status]')!;
    this.#mode = this.querySelector('[data-mode]')!;
    this.#note = this.querySelector('[data-note]')!;
    this.#screen = this.querySelector('[data-screen]')!;
    this.#next = this.querySelector('[data-next]')!;
    const sr = this.querySelector<HTMLButtonElement>('[data-sr]')!;

    const onRun = (e: Event) => {
      const detail = (e as CustomEvent<RunRequest>).detail;
      if (detail.terminal !== this.terminalName) return;
      detail.handled = true;
      runFromBlock(this, detail);
    };
    addEventListener('layerlab:run', onRun);
    this.#disposers.push(() => removeEventListener('layerlab:run', onRun));

    const onSr = () => {
      const on = sr.getAttribute('aria-pressed') !== 'true';
      sr.setAttribute('aria-pressed', String(on));
      if (this.#term) this.#term.options.screenReaderMode = on;
      localStorage.setItem('layerlab:screen-reader', on ? '1' : '0');
    };
    sr.addEventListener('click', onSr);
    this.#disposers.push(() => sr.removeEventListener('click', onSr));
    if (localStorage.getItem('layerlab:screen-reader') === '1') sr.setAttribute('aria-pressed', 'true');

    const onNext = () => this.#playNext();
    this.#next.addEventListener('click', onNext);
    this.#disposers.push(() => this.#next.removeEventListener('click', onNext));

    this.#conn = connection();
    stateStore();
    this.#disposers.push(this.#conn.onStatus((s) => this.#onStatus(s)));
    const leave = () => this.#dispose();
    addEventListener('pagehide', leave);
    this.#disposers.push(() => removeEventListener('pagehide', leave));
    // xterm.js is most of a lesson page's script and its start the page's longest work: it starts
    // when the terminal is on screen (or a Run button or focus needs it), not for a reader who
    // never scrolls down to it.
    const seen = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) {
        seen.disconnect();
        this.#ensureMounted();
      }
    });
    seen.observe(this);
    this.#disposers.push(() => seen.disconnect());
    const onFocus = () => this.#ensureMounted();
    this.addEventListener('focusin', onFocus);
    this.#disposers.push(() => this.removeEventListener('focusin', onFocus));
  }

  #ensureMounted(): void {
    this.#mounting ??= this.#mount();
  }

  disconnectedCallback(): void {
    this.#dispose();
  }

  /** Runs a command: live, the server types it at the prompt; in a replay, plays its recorded step. */
  run(command: string, id?: string): void {
    this.#ensureMounted();
    const conn = this.#conn;
    if (conn?.status === 'replay') {
      if (!this.#recording)
        this.#pendingRuns.push({ command }); // played once the recording is here
      else this.#playCommand(command);
      return;
    }
    const message = {
      type: 'terminal.run' as const,
      terminal: this.terminalName,
      command,
      ...(id ? { id } : {}),
    };
    if (conn && this.#channel !== undefined && conn.send(message)) return;
    this.#pendingRuns.push({ command, ...(id ? { id } : {}) }); // sent once the terminal is open
  }

  async #mount(): Promise<void> {
    // The page paints and settles first; then xterm loads and starts in short tasks, not one long one.
    // A Run button pressed or a focused terminal does not wait for an idle moment.
    await afterLoad();
    if (this.#pendingRuns.length === 0 && !this.contains(document.activeElement)) await whenIdle(500);
    const { Terminal, FitAddon, Unicode11Addon, WebLinksAddon } = await import('./xterm.ts');
    await nextTask();
    if (!this.isConnected) return;
    const font = fontForViewport();
    const size = fittedSize(this.#screen, font) ?? {
      cols: 80,
      rows: Number(this.getAttribute('rows')) || 14,
    };
    const term = new Terminal({
      ...size,
      ...font,
      allowProposedApi: true,
      convertEol: false,
      cursorBlink: false,
      scrollback: 3000,
      screenReaderMode: localStorage.getItem('layerlab:screen-reader') === '1',
      theme: isDark() ? DARK : LIGHT,
    });
    await nextTask();
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.loadAddon(new Unicode11Addon());
    term.unicode.activeVersion = '11';
    term.loadAddon(new WebLinksAddon());
    await nextTask();
    if (!this.isConnected) return term.dispose();
    term.open(this.#screen);
    this.#term = term;
    this.#disposers.push(() => term.dispose());
    await nextTask();
    if (this.#term !== term) return; // left the page meanwhile
    this.#fit(fit);
    await nextTask();
    if (this.#term !== term) return;

    // Escape then Tab leaves the terminal, so the page stays usable from the keyboard alone.
    term.attachCustomKeyEventHandler((e) => {
      if (e.type !== 'keydown') return true;
      if (e.key === 'Tab' && this.#escapeArmed) {
        this.#escapeArmed = false;
        term.blur();
        this.#focusNeighbour(e.shiftKey ? -1 : 1);
        e.preventDefault();
        return false;
      }
      this.#escapeArmed = e.key === 'Escape';
      return true;
    });

    term.onData((data) => this.#input(encoder.encode(data)));
    term.onBinary((data) => this.#input(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff)));
    let resizeTimer: ReturnType<typeof setTimeout> | undefined;
    term.onResize(({ cols, rows }) => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        if (this.#channel !== undefined)
          this.#conn?.send({ type: 'terminal.resize', terminal: this.terminalName, cols, rows });
      }, 80);
    });

    let lastWidth = 0;
    const observer = new ResizeObserver(() => {
      // Only width changes refit: the height is fixed, and refitting on it could loop.
      if (this.#screen.clientWidth === lastWidth) return;
      lastWidth = this.#screen.clientWidth;
      this.#fit(fit);
    });
    observer.observe(this.#screen);
    this.#disposers.push(() => observer.disconnect());
    const themeObserver = new MutationObserver(() => {
      term.options.theme = isDark() ? DARK : LIGHT;
    });
    themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    this.#disposers.push(() => themeObserver.disconnect());

    const conn = this.#conn!;
    this.#disposers.push(
      conn.on('terminal.opened', (m) => {
        if (m.terminal !== this.terminalName) return;
        this.#attach(m.channel, m.replay);
      }),
      conn.on('terminal.mode', (m) => {
        if (m.terminal !== this.terminalName) return;
        this.#inContainer = m.mode === 'container' ? (m.container ?? '') : undefined;
        this.#mode.textContent =
          m.mode === 'container'
            ? `${this.#t('ll.terminal.container')} ${(m.container ?? '').slice(0, 12)}`.trim()
            : '';
      }),
      conn.on('terminal.closed', (m) => {
        if (m.terminal !== this.terminalName) return;
        this.#detach();
      }),
    );
    this.#onStatus(conn.status);
  }

  #fit(fit: { fit(): void }): void {
    if (this.#screen.clientWidth > 0) fit.fit();
  }

  #write(term: XTerm, data: string | Uint8Array): void {
    this.#blank = false;
    term.write(data);
  }

  #input(bytes: Uint8Array): void {
    if (this.#channel === undefined) return;
    this.#conn?.sendBytes(this.#channel, bytes);
  }

  #offChannel: (() => void) | undefined;

  #attach(channel: number, replay: string): void {
    const term = this.#term;
    if (!term) return;
    this.#offChannel?.();
    this.#channel = channel;
    if (!this.#blank) term.reset();
    if (replay) this.#write(term, replay);
    this.#offChannel = this.#conn!.onChannel(channel, (bytes) => this.#write(term, bytes));
    this.#disposers.push(() => this.#offChannel?.());
    const runs = this.#pendingRuns.splice(0);
    for (const { command, id } of runs)
      this.#conn!.send({ type: 'terminal.run', terminal: this.terminalName, command, ...(id ? { id } : {}) });
  }

  #detach(): void {
    this.#offChannel?.();
    this.#offChannel = undefined;
    this.#channel = undefined;
  }

  #onStatus(status: ConnectionStatus): void {
    const key = `ll.terminal.${status}`;
    // A workshop server's own words when it made no sandbox for this page (not joined, ended).
    this.#status.textContent = (status === 'ended' && this.#conn?.refusal) || this.#t(key);
    this.dataset.status = status;
    const term = this.#term;
    if (!term) return;
    if (status === 'live') {
      this.#conn?.send({
        type: 'terminal.open',
        terminal: this.terminalName,
        cols: term.cols,
        rows: term.rows,
      });
    } else {
      this.#detach();
    }
    if (status === 'replay') void this.#startReplay();
  }

  async #startReplay(): Promise<void> {
    const term = this.#term!;
    term.options.disableStdin = true;
    this.#recording = await loadRecording(lessonIdOf(location.pathname), this.terminalName);
    this.#note.hidden = false;
    if (!this.#recording) {
      this.#note.innerHTML = rich(this.#t('ll.terminal.noRecording'));
      return;
    }
    this.#note.innerHTML = rich(this.#t('ll.terminal.replayNote'));
    if (!this.#blank) term.reset();
    this.#write(term, this.#recording.screen);
    if (this.#recording.snapshot) stateStore().set(this.#recording.snapshot);
    this.#next.hidden = this.#recording.steps.length === 0;
    for (const { command } of this.#pendingRuns.splice(0)) this.#playCommand(command);
  }

  #playCommand(command: string): void {
    const rec = this.#recording;
    if (!rec) return;
    const norm = (s: string) => s.trim().replace(/\s+/g, ' ');
    let index = rec.steps.findIndex((s, i) => i >= this.#played && norm(s.command) === norm(command));
    if (index < 0) index = rec.steps.findIndex((s) => norm(s.command) === norm(command));
    if (index < 0) return;
    this.#played = index + 1;
    this.#queue(rec.steps[index]!);
  }

  #playNext(): void {
    const rec = this.#recording;
    if (!rec || this.#played >= rec.steps.length) return;
    this.#queue(rec.steps[this.#played++]!);
    if (this.#played >= rec.steps.length) this.#next.hidden = true;
  }

  #queue(step: RecordedStep): void {
    this.#playing = this.#playing.then(() => this.#play(step));
  }

  /** Plays one recorded step at its own pace, pauses shortened so a replay never drags. */
  async #play(step: RecordedStep): Promise<void> {
    const term = this.#term;
    if (!term) return;
    const store = stateStore();
    const timeline: [number, () => void][] = [
      ...step.output.map(([ms, text]): [number, () => void] => [ms, () => this.#write(term, text)]),
      ...step.events.map(([ms, event]): [number, () => void] => [ms, () => store.emit(event)]),
    ].sort((a, b) => a[0] - b[0]);
    let clock = 0;
    for (const [ms, act] of timeline) {
      const wait = Math.min(ms - clock, 600);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      clock = ms;
      if (!this.isConnected) return;
      act();
    }
    if (step.snapshot) store.set(step.snapshot);
  }

  /** Moves focus to the next (or previous) focusable element outside this terminal. */
  #focusNeighbour(direction: 1 | -1): void {
    const all = [
      ...document.querySelectorAll<HTMLElement>('a[href], button:not([disabled]), input, select, textarea'),
    ].filter((el) => !this.contains(el) && el.offsetParent !== null);
    const after = (el: HTMLElement) =>
      Boolean(this.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING);
    const target = direction > 0 ? all.find(after) : all.filter((el) => !after(el)).pop();
    target?.focus();
  }

  #dispose(): void {
    for (const d of this.#disposers.splice(0).reverse()) {
      try {
        d();
      } catch {
        // already gone
      }
    }
    this.#term = undefined;
    this.#channel = undefined;
  }
}

if (!customElements.get('layerlab-terminal')) customElements.define('layerlab-terminal', LayerlabTerminal);
