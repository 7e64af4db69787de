// <layerlab-editor dir="~/app" seed="cache-demo" open="Dockerfile" terminal="main">: an editor bound
// to a directory of the session's workspace. A file list (pick, new file), CodeMirror (loaded only
// when an editor is on the page) with Save and Ctrl/Cmd-S, and Build, which runs `docker build` in the
// paired terminal the way a Run block does. The server checks every path and limit; the page only
// says them early (a file too large to send) so the reader sees why in words.

import type { EditorState } from '@codemirror/state';
import type { WorkspaceEntry, WorkspaceListing } from '../../../server/sessions/workspace-files.ts';
import { EDIT_FILE_MAX_BYTES, EDIT_MESSAGE_MAX_BYTES } from '../../../server/sessions/workspace-limits.ts';
import { connection } from './connection.ts';
import { defineOnce } from './define.ts';
import type { CodeEditor } from './editor-codemirror.ts';
import { esc, formatSize, strings } from './format.ts';
import type { RunRequest } from './run-block.ts';
import { stateStore } from './state.ts';

/** A file the reader has open: its CodeMirror state and the text last saved (or read). */
interface Buffer {
  state: EditorState | undefined;
  saved: string;
  text: string;
}

const REFRESH_AFTER_COMMAND_MS = 300;
const encoder = new TextEncoder();

/** A name for `docker build -t` from the directory: `~/cache-demo` → `cache-demo`. */
function tagFor(dir: string): string {
  const base = dir.replace(/\/+$/, '').split('/').pop() ?? '';
  const tag = base
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '');
  return tag || 'my-image';
}

export class LayerlabEditor extends HTMLElement {
  #t: (key: string) => string = (k) => k;
  #off: (() => void)[] = [];
  #started = false;
  #entries: WorkspaceEntry[] = [];
  /** The open file, relative to `dir`. */
  #open: string | undefined;
  readonly #buffers = new Map<string, Buffer>();
  #cm: CodeEditor | undefined;
  #cmLoading: Promise<CodeEditor> | undefined;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  #saving = false;
  #seen: Promise<void> | undefined;

  get dir(): string {
    const dir = (this.getAttribute('dir') || '~').replace(/\/+$/, '');
    return dir || '~';
  }

  get terminalName(): string {
    return this.getAttribute('terminal') || 'main';
  }

  /** The file's path as the terminal names it: `~/app/Dockerfile`. */
  #pathOf(rel: string): string {
    return `${this.dir}/${rel}`;
  }

  #el<T extends HTMLElement>(name: string): T {
    return this.querySelector<T>(`[data-${name}]`)!;
  }

  connectedCallback(): void {
    this.#t = strings(this);
    const on = <K extends keyof HTMLElementEventMap>(
      target: EventTarget,
      type: K,
      fn: (e: HTMLElementEventMap[K]) => void,
    ) => {
      target.addEventListener(type, fn as EventListener);
      this.#off.push(() => target.removeEventListener(type, fn as EventListener));
    };
    on(this.#el('tree'), 'click', (e) => {
      const button = (e.target as Element).closest<HTMLButtonElement>('button[data-path]');
      if (button?.dataset.path) void this.#show(button.dataset.path, { focus: true });
    });
    on(this.#el('new'), 'submit', (e) => {
      e.preventDefault();
      void this.#create();
    });
    on(this.#el('save'), 'click', () => void this.#save());
    on(this.#el('build'), 'click', () => void this.#build());
    const restore = this.querySelector<HTMLButtonElement>('[data-restore]');
    if (restore) on(restore, 'click', () => void this.#restore());
    on(this, 'keydown', (e) => {
      // Ctrl/Cmd-S anywhere in the editor (the file list too) saves, and never the browser's "save page".
      if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === 's') {
        e.preventDefault();
        void this.#save();
      }
    });
    // Leaving the page with unsaved edits asks first, as any editor does.
    const unsaved = (e: BeforeUnloadEvent) => {
      if (this.#dirtyPaths().length > 0) e.preventDefault();
    };
    addEventListener('beforeunload', unsaved);
    this.#off.push(() => removeEventListener('beforeunload', unsaved));

    const conn = connection();
    this.#off.push(
      conn.onStatus((status) => {
        if (status === 'replay') return this.#replay();
        if (status !== 'live') return;
        if (!this.#started) {
          this.#started = true;
          void this.#start();
        } else this.#refreshSoon();
      }),
      // What the terminal did to the files (`rm`, `save -o`): the list follows.
      stateStore().onEvent((event) => {
        if (event.type === 'terminal.command') this.#refreshSoon();
      }),
    );
  }

  disconnectedCallback(): void {
    for (const off of this.#off.splice(0)) off();
    clearTimeout(this.#refreshTimer);
    this.#cm?.destroy();
    this.#cm = undefined;
    this.#cmLoading = undefined;
  }

  #replay(): void {
    this.dataset.state = 'replay';
    this.#el('tree').replaceChildren();
    this.#el('code').replaceChildren();
    this.#say(this.#t('ll.editor.liveOnly'));
    for (const b of this.querySelectorAll<HTMLButtonElement>('button, input')) b.disabled = true;
  }

  async #start(): Promise<void> {
    this.dataset.state = 'loading';
    const seed = this.getAttribute('seed');
    try {
      if (seed) await connection().request('workspace.seed', { context: seed, dir: this.dir });
      await this.#refresh();
    } catch (err) {
      this.#say((err as Error).message, 'error');
      return;
    }
    const files = this.#entries.filter((e) => e.kind === 'file').map((e) => e.path);
    const wanted = this.getAttribute('open');
    const first =
      (wanted && files.includes(wanted) ? wanted : undefined) ??
      files.find((f) => /^(?:Dockerfile|Containerfile)$/i.test(f)) ??
      files[0];
    // The files are there for the terminal at once; CodeMirror loads when the reader gets to it.
    await this.#whenSeen();
    if (first) await this.#show(first, { focus: false });
    else if (wanted) await this.#newBuffer(wanted, '');
    this.dataset.state = 'ready';
  }

  /** Resolves once the editor is near the window or gets focus (as a terminal starts xterm.js). */
  #whenSeen(): Promise<void> {
    this.#seen ??= new Promise<void>((resolve) => {
      const seen = new IntersectionObserver(
        (entries) => {
          if (!entries.some((e) => e.isIntersecting)) return;
          seen.disconnect();
          resolve();
        },
        { rootMargin: '300px 0px' },
      );
      seen.observe(this);
      this.addEventListener('focusin', () => resolve(), { once: true });
      this.#off.push(() => seen.disconnect());
    });
    return this.#seen;
  }

  #refreshSoon(): void {
    if (!this.#started) return;
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = setTimeout(() => void this.#refresh().catch(() => {}), REFRESH_AFTER_COMMAND_MS);
  }

  async #refresh(): Promise<void> {
    const listing: WorkspaceListing = await connection().request('workspace.list', { path: this.dir });
    this.#entries = listing.entries;
    this.#renderTree(listing.truncated);
  }

  #renderTree(truncated = false): void {
    const t = this.#t;
    const tree = this.#el('tree');
    const listed = new Set(this.#entries.map((e) => e.path));
    // A new file not saved yet is listed too, so the reader sees where it will go.
    const pending = [...this.#buffers.keys()]
      .filter((p) => !listed.has(p))
      .map((path): WorkspaceEntry => ({ path, kind: 'file', size: 0 }));
    const entries = [...this.#entries, ...pending];
    if (entries.length === 0) {
      tree.innerHTML = `<li class="ll-muted">${esc(t('ll.editor.empty'))}</li>`;
      return;
    }
    const dirty = new Set(this.#dirtyPaths());
    tree.innerHTML =
      entries
        .map((e) => {
          const depth = e.path.split('/').length - 1;
          const name = e.path.split('/').pop() ?? e.path;
          const style = `style="--ll-depth:${depth}"`;
          if (e.kind === 'dir') return `<li class="ll-editor__dir" ${style}>${esc(name)}/</li>`;
          if (e.kind !== 'file')
            return `<li class="ll-editor__other ll-muted" ${style} title="${esc(t('ll.editor.notText'))}">${esc(name)}${e.kind === 'symlink' ? ' →' : ''}</li>`;
          const current = e.path === this.#open;
          const mark = dirty.has(e.path)
            ? ` <span class="ll-editor__mark" aria-label="${esc(t('ll.editor.unsaved'))}">•</span>`
            : '';
          return `<li ${style}><button type="button" class="ll-editor__file" data-path="${esc(e.path)}"${current ? ' aria-current="true"' : ''}>${esc(name)}${mark}</button>${e.size > 0 ? ` <span class="ll-muted">${formatSize(e.size)}</span>` : ''}</li>`;
        })
        .join('') + (truncated ? `<li class="ll-muted">…</li>` : '');
  }

  /** Loads CodeMirror once, into the editor's code area. */
  #codeMirror(): Promise<CodeEditor> {
    this.#cmLoading ??= import('./editor-codemirror.ts').then(({ CodeEditor }) => {
      const host = this.#el('code');
      host.replaceChildren();
      this.#cm = new CodeEditor(host, {
        onChange: (text) => this.#changed(text),
        onSave: () => void this.#save(),
      });
      return this.#cm;
    });
    return this.#cmLoading;
  }

  async #show(rel: string, options: { focus: boolean }): Promise<void> {
    const cm = await this.#codeMirror();
    // Keep the file being left as it is now (unsaved edits and undo history included).
    if (this.#open) {
      const leaving = this.#buffers.get(this.#open);
      if (leaving) leaving.state = cm.state;
    }
    let buffer = this.#buffers.get(rel);
    if (!buffer) {
      try {
        const file = await connection().request('workspace.read', { path: this.#pathOf(rel) });
        buffer = { state: undefined, saved: file.text, text: file.text };
        this.#buffers.set(rel, buffer);
      } catch (err) {
        this.#say((err as Error).message, 'error');
        return;
      }
    }
    this.#open = rel;
    buffer.state ??= cm.stateFor(rel.split('/').pop() ?? rel, this.#label(rel), buffer.text);
    cm.show(buffer.state);
    this.#el('name').textContent = this.#pathOf(rel);
    this.#say('');
    this.#renderTree();
    this.#renderDirty();
    if (options.focus) cm.focus();
  }

  #label(rel: string): string {
    return `${this.#t('ll.editor.contents')} ${this.#pathOf(rel)}`;
  }

  /** A file that is not on disk yet: opened empty, listed, saved by Save. */
  async #newBuffer(rel: string, text: string): Promise<void> {
    if (!this.#buffers.has(rel)) this.#buffers.set(rel, { state: undefined, saved: '\u0000unsaved', text });
    await this.#show(rel, { focus: true });
  }

  #changed(text: string): void {
    const buffer = this.#open ? this.#buffers.get(this.#open) : undefined;
    if (!buffer) return;
    const was = buffer.text !== buffer.saved;
    buffer.text = text;
    if (was !== (buffer.text !== buffer.saved)) {
      this.#renderDirty();
      this.#renderTree();
    }
  }

  #dirtyPaths(): string[] {
    return [...this.#buffers].filter(([, b]) => b.text !== b.saved).map(([p]) => p);
  }

  #renderDirty(): void {
    const buffer = this.#open ? this.#buffers.get(this.#open) : undefined;
    const dirty = buffer !== undefined && buffer.text !== buffer.saved;
    this.toggleAttribute('data-dirty', this.#dirtyPaths().length > 0);
    const label = this.#el('dirty');
    label.textContent = buffer ? this.#t(dirty ? 'll.editor.unsaved' : 'll.editor.saved') : '';
    label.dataset.kind = dirty ? 'dirty' : 'saved';
  }

  /** Says what happened; errors are announced assertively. */
  #say(text: string, kind: 'info' | 'error' = 'info'): void {
    const status = this.#el('status');
    status.textContent = text;
    status.dataset.kind = kind;
    status.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  }

  /** Checks what the server would refuse for its size, before sending it (a too large message closes the socket). */
  #sizeProblem(rel: string, text: string): string | undefined {
    const bytes = encoder.encode(text).length;
    const message = encoder.encode(JSON.stringify({ path: this.#pathOf(rel), content: text })).length + 100;
    if (bytes > EDIT_FILE_MAX_BYTES || message > EDIT_MESSAGE_MAX_BYTES) {
      return this.#t('ll.editor.tooLarge')
        .replace('{path}', this.#pathOf(rel))
        .replace('{size}', formatSize(EDIT_FILE_MAX_BYTES));
    }
    return undefined;
  }

  /** Saves one file; false when the server (or the size check) refused it, with the reason shown. */
  async #saveOne(rel: string): Promise<boolean> {
    const buffer = this.#buffers.get(rel);
    if (!buffer) return true;
    if (rel === this.#open && this.#cm) buffer.text = this.#cm.text();
    const text = buffer.text;
    const problem = this.#sizeProblem(rel, text);
    if (problem) {
      this.#say(problem, 'error');
      return false;
    }
    try {
      const written = await connection().request('workspace.write', {
        path: this.#pathOf(rel),
        content: text,
      });
      buffer.saved = text;
      this.#say(`${this.#t('ll.editor.savedFile')} ${written.path} (${formatSize(written.size)})`);
      return true;
    } catch (err) {
      this.#say((err as Error).message, 'error');
      return false;
    }
  }

  /**
   * The lesson's files again (a reader coming back to a lesson finds their own edits kept): the
   * seed's files replace theirs after a confirmation; files the reader added stay.
   */
  async #restore(): Promise<void> {
    const seed = this.getAttribute('seed');
    if (!seed || !confirm(this.#t('ll.editor.restoreConfirm').replace('{dir}', this.dir))) return;
    try {
      const result = await connection().request('workspace.seed', {
        context: seed,
        dir: this.dir,
        overwrite: true,
      });
      this.#buffers.clear();
      await this.#refresh();
      if (this.#open) await this.#show(this.#open, { focus: false });
      this.#renderDirty();
      this.#say(`${this.#t('ll.editor.restored')} ${result.copied.join(', ')}`);
    } catch (err) {
      this.#say((err as Error).message, 'error');
    }
  }

  /** Save: the open file (Ctrl/Cmd-S, the Save button). */
  async #save(): Promise<boolean> {
    if (!this.#open || this.#saving) return false;
    this.#saving = true;
    try {
      const ok = await this.#saveOne(this.#open);
      this.#renderDirty();
      if (ok) await this.#refresh().catch(() => {});
      return ok;
    } finally {
      this.#saving = false;
    }
  }

  async #create(): Promise<void> {
    const input = this.#el<HTMLInputElement>('new-name');
    const rel = input.value.trim().replace(/^\.\/+/, '');
    if (!rel || rel.startsWith('/') || rel.split('/').some((p) => p === '..' || p === '')) {
      this.#say(this.#t('ll.editor.badName'), 'error');
      input.focus();
      return;
    }
    if (this.#entries.some((e) => e.path === rel && e.kind !== 'file')) {
      this.#say(this.#t('ll.editor.badName'), 'error');
      input.focus();
      return;
    }
    input.value = '';
    if (this.#entries.some((e) => e.path === rel) || this.#buffers.has(rel)) {
      await this.#show(rel, { focus: true });
      return;
    }
    await this.#newBuffer(rel, '');
    // Created on disk at once, empty, so `docker build` and the terminal see it too.
    if (await this.#saveOne(rel)) await this.#refresh().catch(() => {});
    this.#renderDirty();
  }

  /** Build: saves what is unsaved, then runs `docker build -t <tag> <dir>` in the paired terminal. */
  async #build(): Promise<void> {
    const button = this.#el<HTMLButtonElement>('build');
    if (button.getAttribute('aria-disabled') === 'true') return;
    if (this.#open && this.#cm) {
      const open = this.#buffers.get(this.#open);
      if (open) open.text = this.#cm.text();
    }
    for (const rel of this.#dirtyPaths()) {
      if (!(await this.#saveOne(rel))) {
        this.#renderDirty();
        return;
      }
    }
    this.#renderDirty();
    this.#renderTree();
    const tag = this.getAttribute('tag') || tagFor(this.dir);
    const detail: RunRequest = {
      terminal: this.terminalName,
      command: `docker build -t ${tag} ${this.dir}`,
      handled: false,
      button,
    };
    // The same announcement as a Run block's button: the terminal of that name runs it (run-block.ts).
    window.dispatchEvent(new CustomEvent('layerlab:run', { detail }));
    if (!detail.handled)
      this.#say(this.#t('ll.editor.noTerminal').replace('{name}', this.terminalName), 'error');
  }
}

defineOnce('layerlab-editor', LayerlabEditor);
