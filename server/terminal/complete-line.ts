// Tab at the prompt: asks complete.ts for the words that fit before the cursor, then inserts the only
// one or the common prefix, rings the bell, or (on a second Tab) lists the choices as bash does.

import { type CompletionSources, commonPrefix, complete, formatColumns } from './complete.ts';
import type { LineEditor } from './line-editor.ts';

/** What completing a line uses of its terminal. */
export interface CompletionTarget {
  readonly editor: Pick<LineEditor, 'insert' | 'feed' | 'redraw'>;
  readonly sources: CompletionSources;
  columns(): number;
  write(data: string): void;
  /** False once the terminal is gone: an answer that arrives later is dropped. */
  live(): boolean;
}

/** Completes the line whose text before the cursor is `before`; `repeated` for a second Tab. */
export async function completeLine(
  target: CompletionTarget,
  before: string,
  repeated: boolean,
): Promise<void> {
  const { editor } = target;
  const write = (data: string) => target.write(data);
  const result = await complete(before, target.sources).catch(() => undefined);
  if (!result || !target.live()) return;
  const { candidates, current, openQuote } = result;
  if (candidates.length === 0) {
    write('\x07');
    return;
  }
  if (candidates.length === 1) {
    const rest = candidates[0]!.slice(current.length);
    write(editor.insert(openQuote ? `${rest}${openQuote} ` : `${rest} `));
    return;
  }
  const prefix = commonPrefix(candidates);
  if (prefix.length > current.length) {
    write(editor.insert(prefix.slice(current.length)));
    return;
  }
  if (!repeated) {
    write('\x07');
    return;
  }
  // A second Tab lists the choices below the line, then draws the line again.
  write(`${editor.feed({ kind: 'end' }).output}\r\n${formatColumns(candidates, target.columns())}`);
  write(editor.redraw());
}
