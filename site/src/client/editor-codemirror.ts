// CodeMirror 6 for the in-page editor, in one lazily loaded chunk (editor.ts imports it when an
// editor is on the page): a Dockerfile gets the legacy Dockerfile mode, anything else is plain text.
// Tokens are highlighted by class (`tok-keyword`, …) so the site's CSS colours them in both themes.

import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { StreamLanguage, syntaxHighlighting } from '@codemirror/language';
import { dockerFile } from '@codemirror/legacy-modes/mode/dockerfile';
import { EditorState, type Extension } from '@codemirror/state';
import {
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightSpecialChars,
  keymap,
  lineNumbers,
} from '@codemirror/view';
import { classHighlighter } from '@lezer/highlight';

const dockerfileLanguage = StreamLanguage.define(dockerFile);

/** `Dockerfile`, `Dockerfile.dev`, `Containerfile`, `app.dockerfile`: what `docker build -f` reads. */
export function isDockerfile(name: string): boolean {
  return /^(?:Dockerfile|Containerfile)(?:\..+)?$/i.test(name) || /\.dockerfile$/i.test(name);
}

export interface CodeEditorOptions {
  /** Called on every change of the document. */
  onChange: (text: string) => void;
  /** Ctrl-S / Cmd-S in the editor. */
  onSave: () => void;
}

/** One CodeMirror view; each file the reader opens is an `EditorState` of its own (its undo history too). */
export class CodeEditor {
  readonly view: EditorView;
  readonly #options: CodeEditorOptions;

  constructor(parent: HTMLElement, options: CodeEditorOptions) {
    this.#options = options;
    this.view = new EditorView({ parent, state: EditorState.create({ doc: '' }) });
  }

  /** A new state for a file: its text, its language by name, and its accessible name. */
  stateFor(name: string, label: string, text: string): EditorState {
    const extensions: Extension[] = [
      lineNumbers(),
      highlightSpecialChars(),
      history(),
      drawSelection(),
      highlightActiveLine(),
      EditorView.lineWrapping,
      syntaxHighlighting(classHighlighter),
      // Tab is left to the browser (focus moves on), so a keyboard user is never trapped in the editor.
      keymap.of([
        {
          key: 'Mod-s',
          preventDefault: true,
          run: () => {
            this.#options.onSave();
            return true;
          },
        },
        ...defaultKeymap,
        ...historyKeymap,
      ]),
      EditorView.contentAttributes.of({ 'aria-label': label }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) this.#options.onChange(update.state.doc.toString());
      }),
    ];
    if (isDockerfile(name)) extensions.push(dockerfileLanguage);
    return EditorState.create({ doc: text, extensions });
  }

  get state(): EditorState {
    return this.view.state;
  }

  show(state: EditorState): void {
    this.view.setState(state);
  }

  text(): string {
    return this.view.state.doc.toString();
  }

  focus(): void {
    this.view.focus();
  }

  destroy(): void {
    this.view.destroy();
  }
}
