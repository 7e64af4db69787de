// Tab at the prompt over a real line editor and fixed sources: a unique word is inserted with a
// space, a common prefix is extended, an ambiguous first Tab rings the bell and a second lists.
import { describe, expect, it } from 'vitest';
import type { CompletionSources } from '../../server/terminal/complete.ts';
import { type CompletionTarget, completeLine } from '../../server/terminal/complete-line.ts';
import { LineEditor } from '../../server/terminal/line-editor.ts';

const sources: CompletionSources = {
  images: async () => ['busybox:latest', 'busybox:1.36'],
  containers: async () => ['web', 'worker'],
  spec: async () => undefined,
};

function target(line: string, options: Partial<CompletionTarget> = {}) {
  const editor = new LineEditor({ prompt: '$ ', promptWidth: 2, columns: 40 });
  editor.begin();
  editor.insert(line);
  const writes: string[] = [];
  const t: CompletionTarget = {
    editor,
    sources,
    columns: () => 40,
    write: (data) => {
      writes.push(data);
    },
    live: () => true,
    ...options,
  };
  return { t, editor, writes };
}

describe('completeLine', () => {
  it('inserts the only candidate and a space', async () => {
    const { t, editor } = target('dock');
    await completeLine(t, 'dock', false);
    expect(editor.line).toBe('docker ');
  });

  it('closes an open quote after the only candidate', async () => {
    const { t, editor } = target('docker "pul');
    await completeLine(t, 'docker "pul', false);
    expect(editor.line).toBe('docker "pull" ');
  });

  it('extends to the common prefix', async () => {
    const { t, editor } = target('h');
    await completeLine(t, 'h', false);
    expect(editor.line).toBe('h');
    const more = target('hi');
    await completeLine(more.t, 'hi', false);
    expect(more.editor.line).toBe('history ');
  });

  it('rings the bell when nothing fits, or on a first ambiguous Tab; lists on the second', async () => {
    const none = target('zzz');
    await completeLine(none.t, 'zzz', false);
    expect(none.writes).toEqual(['\x07']);
    const first = target('e');
    await completeLine(first.t, 'e', false);
    expect(first.writes).toEqual(['\x07']);
    const second = target('e');
    await completeLine(second.t, 'e', true);
    expect(second.writes).toHaveLength(2);
    expect(second.writes[0]).toContain('env');
    expect(second.writes[0]).toContain('exit');
    expect(second.writes[0]).toContain('export');
    expect(second.editor.line).toBe('e');
  });

  it('drops an answer that arrives after the terminal went away, and a failed lookup', async () => {
    const gone = target('dock', { live: () => false });
    await completeLine(gone.t, 'dock', false);
    expect(gone.writes).toEqual([]);
    const fail = () => Promise.reject(new Error('gone'));
    const failing: CompletionSources = { images: fail, containers: fail, spec: fail };
    const broken = target('docker exec w', { sources: failing });
    await completeLine(broken.t, 'docker exec w', false);
    expect(broken.writes).toEqual([]);
  });
});
